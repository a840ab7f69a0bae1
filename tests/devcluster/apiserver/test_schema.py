"""The devcluster's structural schemas: kube-apiserver's type errors (exact wording), unknown fields
and pruning (preserve-unknown subtrees, list items, null handling, report order), the OpenAPI v3
documents kubectl needs (fieldValidation, patch content types, GVK extensions, resolvable $refs,
content hashes) and the OpenAPI v2 protobuf.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

import pytest

from app.devcluster.apiserver.openapi import OpenApi, openapi_v2_protobuf
from app.devcluster.apiserver.schema import Schemas
from app.devcluster.apiserver.schema_core import CORE_KINDS
from app.devcluster.crds import schemas as crd_schemas
from app.devcluster.crds.schemas import KNATIVE_KINDS

schema = Schemas(KNATIVE_KINDS + CORE_KINDS)  # as the dev cluster with Knative installed checks objects
openapi = OpenApi(schema.kinds)

KSVC = "serving.knative.dev/v1/Service"
KNATIVE_DOC = "apis/serving.knative.dev/v1"


def ksvc(**spec: Any) -> dict[str, Any]:
    template = {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest"}]}}
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"template": template, **spec},
    }


def with_container(**fields: Any) -> dict[str, Any]:
    obj = ksvc()
    obj["spec"]["template"]["spec"]["containers"][0].update(fields)
    return obj


def type_error(path: str, expected: str, actual: str) -> tuple[str, str]:
    return path, f'Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"'


# The realistic Service of knative-serving.md §7, as a GET returns it.
REALISTIC = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {
        "annotations": {
            "serving.knative.dev/creator": "kubernetes-admin",
            "serving.knative.dev/lastModifier": "kubernetes-admin",
        },
        "creationTimestamp": "2026-08-20T09:12:03Z",
        "generation": 3,
        "name": "helloworld-go",
        "namespace": "default",
        "resourceVersion": "48213",
        "uid": "6f1c2a9e-3b7d-4c55-9a0e-2d8f1b7c4e10",
        "managedFields": [
            {
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "apiVersion": "serving.knative.dev/v1",
                "time": "2026-08-20T09:12:03Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {".": {}, "f:template": {}}},
            }
        ],
    },
    "spec": {
        "template": {
            "metadata": {"creationTimestamp": None},
            "spec": {
                "containerConcurrency": 0,
                "containers": [
                    {
                        "env": [{"name": "TARGET", "value": "Knative"}],
                        "image": "ghcr.io/knative/helloworld-go:latest",
                        "name": "user-container",
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                        "readinessProbe": {"successThreshold": 1, "tcpSocket": {"port": 0}},
                        "resources": {"limits": {"cpu": "500m", "memory": 128}},
                    }
                ],
                "enableServiceLinks": False,
                "timeoutSeconds": 300,
            },
        },
        "traffic": [
            {"latestRevision": True, "percent": 50},
            {"latestRevision": False, "percent": 50, "revisionName": "helloworld-go-00001"},
        ],
    },
    "status": {
        "address": {"url": "http://helloworld-go.default.svc.cluster.local"},
        "conditions": [
            {"lastTransitionTime": "2026-08-20T09:35:02Z", "status": "True", "type": "Ready"},
        ],
        "latestCreatedRevisionName": "helloworld-go-00002",
        "latestReadyRevisionName": "helloworld-go-00002",
        "observedGeneration": 3,
        "traffic": [{"latestRevision": True, "percent": 100, "revisionName": "helloworld-go-00002"}],
        "url": "http://helloworld-go.default.example.com",
    },
}


# ---------------------------------------------------------------- type errors


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (ksvc(traffic=[{"percent": "50"}]), [type_error("spec.traffic[0].percent", "integer", "string")]),
        (with_container(image=3), [type_error("spec.template.spec.containers[0].image", "string", "integer")]),
        (ksvc(traffic={"percent": 100}), [type_error("spec.traffic", "array", "object")]),
        (ksvc(template=[]), [type_error("spec.template", "object", "array")]),
        (
            ksvc(traffic=[{"latestRevision": "true"}]),
            [type_error("spec.traffic[0].latestRevision", "boolean", "string")],
        ),
        (ksvc(traffic=[{"percent": True}]), [type_error("spec.traffic[0].percent", "integer", "boolean")]),
        (ksvc(traffic=[{"percent": 50.5}]), [type_error("spec.traffic[0].percent", "integer", "number")]),
        (with_container(args=["a", 1]), [type_error("spec.template.spec.containers[0].args[1]", "string", "integer")]),
        (with_container(args=[None]), [type_error("spec.template.spec.containers[0].args[0]", "string", "null")]),
        (
            with_container(resources={"limits": {"cpu": True}}),
            [type_error("spec.template.spec.containers[0].resources.limits.cpu", "integer,string", "boolean")],
        ),
        (
            with_container(ports=[{"containerPort": "8080"}]),
            [type_error("spec.template.spec.containers[0].ports[0].containerPort", "integer", "string")],
        ),
        (
            with_container(env=[{"name": "A", "value": 1}]),
            [type_error("spec.template.spec.containers[0].env[0].value", "string", "integer")],
        ),
        (
            ksvc(template={"metadata": {"annotations": {"autoscaling.knative.dev/min-scale": 1}}}),
            [
                type_error(
                    "spec.template.metadata.annotations.autoscaling.knative.dev/min-scale", "string", "integer"
                )
            ],
        ),
    ],
    ids=[
        "string-for-integer",
        "integer-for-string",
        "object-for-array",
        "array-for-object",
        "string-for-boolean",
        "boolean-for-integer",
        "fraction-for-integer",
        "list-item",
        "null-list-item",
        "int-or-string",
        "int32",
        "nested-list-item",
        "map-value-key-with-dots",
    ],
)
def test_type_errors_use_the_apiservers_words(obj: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert schema.type_errors(KSVC, obj) == expected


def test_the_message_matches_the_reference_example() -> None:
    field, message = schema.type_errors(KSVC, ksvc(traffic=[{"percent": "string"}]))[0]
    assert field == "spec.traffic[0].percent"
    assert message == (
        'Invalid value: "string": spec.traffic[0].percent in body must be of type integer: "string"'
    )


@pytest.mark.parametrize(
    "obj",
    [
        REALISTIC,
        ksvc(traffic=[{"percent": 100.0, "latestRevision": True}]),  # 100.0 passes as an integer
        with_container(image=None),  # nulls in object fields are dropped before validating
        with_container(resources={"limits": {"cpu": 1, "memory": "128Mi"}}),
        with_container(readinessProbe={"httpGet": {"port": "http"}}, lifecycle={"preStop": 5}),
        with_container(securityContext={"runAsNonRoot": "yes"}),  # preserved subtree: not modelled
        {**ksvc(), "metadata": {"name": 5}},  # metadata is the ObjectMeta decoder's business
        ksvc(foo={"percent": "x"}),  # unknown fields are not type-checked
    ],
    ids=["realistic", "float-integer", "null-field", "quantities", "preserved", "unmodelled", "metadata", "unknown"],
)
def test_well_typed_objects_have_no_type_errors(obj: dict[str, Any]) -> None:
    assert schema.type_errors(KSVC, obj) == []


def test_type_errors_cover_every_knative_kind_and_status() -> None:
    revision = {"apiVersion": "serving.knative.dev/v1", "kind": "Revision", "spec": {"timeoutSeconds": "300"},
                "status": {"actualReplicas": "1", "containerStatuses": [{"imageDigest": 7}]}}
    route = {"apiVersion": "serving.knative.dev/v1", "kind": "Route",
             "spec": {"traffic": [{"configurationName": 1}]}, "status": {"url": []}}
    configuration = {"apiVersion": "serving.knative.dev/v1", "kind": "Configuration",
                     "status": {"conditions": [{"type": "Ready", "status": True}]}}

    assert schema.type_errors("Revision", revision) == [
        type_error("spec.timeoutSeconds", "integer", "string"),
        type_error("status.actualReplicas", "integer", "string"),
        type_error("status.containerStatuses[0].imageDigest", "string", "integer"),
    ]
    assert schema.type_errors("Route", route) == [
        type_error("spec.traffic[0].configurationName", "string", "integer"),
        type_error("status.url", "string", "array"),
    ]
    assert schema.type_errors("Configuration", configuration) == [
        type_error("status.conditions[0].status", "string", "boolean"),
    ]


def test_core_kinds_are_checked_against_their_own_schemas() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}}
    service = {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": "80", "targetPort": "http"}]}}

    assert schema.type_errors("v1/ConfigMap", config_map) == [type_error("data.a", "string", "integer")]
    assert schema.type_errors("v1/Service", service) == [type_error("spec.ports[0].port", "integer", "string")]
    assert schema.type_errors("v1/Namespace", {"spec": {"finalizers": "kubernetes"}}) == [
        type_error("spec.finalizers", "array", "string")
    ]


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        ("Service", {"apiVersion": "v1"}),
        ("v1/Service", {}),
        ("services", {"apiVersion": "v1"}),
    ],
)
def test_core_service_is_picked_by_group(kind: str, obj: dict[str, Any]) -> None:
    assert schema.type_errors(kind, {**obj, "spec": {"type": 1}}) == [type_error("spec.type", "string", "integer")]


@pytest.mark.parametrize(
    "kind", ["Service", KSVC, "Service.serving.knative.dev", "services.serving.knative.dev", "ksvc-unknown"]
)
def test_knative_service_names(kind: str) -> None:
    expected = [] if kind == "ksvc-unknown" else [type_error("spec.traffic[0].percent", "integer", "string")]
    assert schema.type_errors(kind, ksvc(traffic=[{"percent": "1"}])) == expected


# ---------------------------------------------------------------- unknown fields and pruning


def test_unknown_fields_are_sorted_and_metadata_comes_last() -> None:
    obj = ksvc(zeta=1, traffic=[{"percent": 100}, {"percent": 0, "weight": 3}], alpha={"x": 1})
    obj["metadata"]["bogus"] = True
    obj["metadata"]["ownerReferences"] = [{"name": "x", "extra": 1}]
    obj["extraRoot"] = 1

    assert schema.unknown_fields(KSVC, obj) == [
        "extraRoot",
        "spec.alpha",
        "spec.traffic[1].weight",
        "spec.zeta",
        "metadata.bogus",
        "metadata.ownerReferences[0].extra",
    ]


def test_known_fields_below_preserved_subtrees_are_still_checked() -> None:
    obj = with_container(
        lifecycle={"preStop": {}},  # the container keeps unknown fields: Knative's webhook rejects them
        env=[{"name": "A", "value": "1", "valueForm": "typo"}],
        resources={"limits": {"cpu": "1"}, "claims": []},
        volumeMounts=[{"name": "v", "mountPath": "/v", "mountPropagation": "None"}],
    )
    obj["spec"]["template"]["spec"]["runtimeClassName"] = "gvisor"
    obj["spec"]["template"]["spec"]["hostNetwork"] = True
    obj["spec"]["template"]["metadata"] = {"creationTimestamp": None, "labels": {"a": "b"}}

    assert schema.unknown_fields(KSVC, obj) == [
        "spec.template.spec.containers[0].env[0].valueForm",
        "spec.template.spec.containers[0].resources.claims",
        "spec.template.spec.containers[0].volumeMounts[0].mountPropagation",
    ]


def test_a_value_of_the_wrong_type_has_its_keys_pruned_too() -> None:
    assert schema.unknown_fields(KSVC, ksvc(traffic=[{"percent": {"a": 1}}])) == ["spec.traffic[0].percent.a"]
    assert schema.unknown_fields(KSVC, ksvc(traffic={"percent": 1})) == ["spec.traffic.percent"]


def test_core_kinds_report_unknown_fields_in_document_order() -> None:
    config_map = {"kind": "ConfigMap", "zeta": 1, "metadata": {"name": "c", "bogus": 1}, "alpha": 2}
    service = {"kind": "Service", "spec": {"ports": [{"port": 80, "bogus": 1}], "selector": {"app": "x"}}}

    assert schema.unknown_fields("v1/ConfigMap", config_map) == ["zeta", "metadata.bogus", "alpha"]
    assert schema.unknown_fields("v1/Service", service) == ["spec.ports[0].bogus"]


def test_well_formed_objects_have_no_unknown_fields() -> None:
    assert schema.unknown_fields(KSVC, REALISTIC) == []
    assert schema.unknown_fields("Namespace", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes"]},
                                               "status": {"phase": "Active"}}) == []


def test_unknown_fields_does_not_change_the_object() -> None:
    obj = ksvc(foo=1)
    before = copy.deepcopy(obj)
    schema.unknown_fields(KSVC, obj)
    assert obj == before


def test_prune_removes_exactly_the_unknown_fields() -> None:
    obj = ksvc(foo=1, traffic=[{"percent": 100, "latestRevision": True, "weight": 3}])
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container.update(lifecycle={"preStop": {"exec": {}}}, readinessProbe={"httpGet": {"port": "http"}},
                     env=[{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}, "bad": 1}])
    obj["metadata"]["bogus"] = 1

    schema.prune(KSVC, obj)

    expected = ksvc(traffic=[{"percent": 100, "latestRevision": True}])
    expected["spec"]["template"]["spec"]["containers"][0].update(
        lifecycle={"preStop": {"exec": {}}},
        readinessProbe={"httpGet": {"port": "http"}},
        env=[{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
    )
    assert obj == expected
    assert schema.unknown_fields(KSVC, obj) == []


def test_prune_keeps_preserved_data_intact() -> None:
    obj = copy.deepcopy(REALISTIC)
    schema.prune(KSVC, obj)
    assert obj["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] == {
        "successThreshold": 1,
        "tcpSocket": {"port": 0},
    }
    assert obj["metadata"]["managedFields"] == REALISTIC["metadata"]["managedFields"]
    # Unknown fields below preserve-unknown keep even their nulls; known fields lose them.
    assert obj["spec"]["template"]["metadata"] == {"creationTimestamp": None}


def test_prune_drops_nulls_the_schema_does_not_allow() -> None:
    obj = with_container(image=None, lifecycle=None, args=["a", None])
    obj["spec"]["traffic"] = None
    obj["metadata"]["labels"] = None

    schema.prune(KSVC, obj)

    assert "traffic" not in obj["spec"]
    assert "labels" not in obj["metadata"]
    assert obj["spec"]["template"]["spec"]["containers"][0] == {"lifecycle": None, "args": ["a", None]}


def test_prune_of_a_core_kind() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "x": 1},
               "spec": {"ports": [{"port": 80, "bogus": 1}], "bogus": 2}}
    schema.prune("v1/Service", service)
    assert service == {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                       "spec": {"ports": [{"port": 80}]}}


def test_kinds_without_a_schema_are_left_alone() -> None:
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "spec": {"a": 1}, "bogus": 1}
    schema.prune("v1/PersistentVolumeClaim", claim)
    assert claim["bogus"] == 1
    assert schema.unknown_fields("v1/PersistentVolumeClaim", claim) == []
    assert schema.type_errors("v1/PersistentVolumeClaim", claim) == []


# ---------------------------------------------------------------- OpenAPI v3


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, verb, op)
        for path, item in document["paths"].items()
        for verb, op in item.items()
        if verb in ("get", "put", "post", "patch", "delete")
    ]


def parameter_names(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation["parameters"] if p["in"] == "query"}


def test_root_lists_every_group_version_with_its_hash() -> None:
    root = openapi.v3_root()
    assert sorted(root["paths"]) == ["api/v1", "apis/apps/v1", "apis/networking.internal.knative.dev/v1alpha1",
                                     "apis/rbac.authorization.k8s.io/v1", KNATIVE_DOC]
    for path, entry in root["paths"].items():
        assert entry == {"serverRelativeURL": f"/openapi/v3/{path}?hash={openapi.v3_hash(path)}"}
    assert openapi.v3_root("/proxy")["paths"]["api/v1"]["serverRelativeURL"].startswith(
        "/proxy/openapi/v3/api/v1?hash="
    )


@pytest.mark.parametrize(("kind", "plural"), [("Service", "services"), ("Configuration", "configurations"),
                                              ("Revision", "revisions"), ("Route", "routes")])
def test_knative_paths_satisfy_kubectl(kind: str, plural: str) -> None:
    document = openapi.v3_document(KNATIVE_DOC)
    gvk = {"group": "serving.knative.dev", "version": "v1", "kind": kind}
    collection = document["paths"][f"/apis/serving.knative.dev/v1/namespaces/{{namespace}}/{plural}"]
    item = document["paths"][f"/apis/serving.knative.dev/v1/namespaces/{{namespace}}/{plural}/{{name}}"]

    assert {"get", "put", "patch", "delete"} <= item.keys()
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert collection["post"]["x-kubernetes-action"] == "post"
    patch = item["patch"]
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == gvk
    assert {"fieldValidation", "dryRun", "fieldManager", "force"} <= parameter_names(patch)
    assert {"name": "fieldValidation", "in": "query"}.items() <= next(
        p for p in patch["parameters"] if p["name"] == "fieldValidation"
    ).items()
    assert sorted(patch["requestBody"]["content"]) == [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ]

    definition = document["components"]["schemas"][f"dev.knative.serving.v1.{kind}"]
    assert definition["x-kubernetes-group-version-kind"] == [gvk]
    listed = document["components"]["schemas"][f"dev.knative.serving.v1.{kind}List"]
    assert listed["x-kubernetes-group-version-kind"] == [{**gvk, "kind": f"{kind}List"}]
    assert definition["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]


@pytest.mark.parametrize("path", ["api/v1", KNATIVE_DOC])
def test_every_patch_operation_lets_the_server_validate_fields(path: str) -> None:
    # kubectl stops at the first PATCH it finds for a GVK (main resource or /status), so all must qualify.
    patches = [op for _, verb, op in operations(openapi.v3_document(path)) if verb == "patch"]
    assert patches
    for op in patches:
        assert "fieldValidation" in parameter_names(op)
        assert isinstance(op["x-kubernetes-group-version-kind"], dict)


def test_only_namespaces_offer_strategic_merge_patch() -> None:
    smp = "application/strategic-merge-patch+json"
    for path in ("api/v1", KNATIVE_DOC):
        for url, verb, op in operations(openapi.v3_document(path)):
            if verb == "patch":
                assert (smp in op["requestBody"]["content"]) == url.startswith("/api/v1/namespaces/{name}"), url


def test_core_document_has_the_core_kinds() -> None:
    document = openapi.v3_document("api/v1")
    for kind in ("Namespace", "ConfigMap", "Service", "Event"):
        assert document["components"]["schemas"][f"io.k8s.api.core.v1.{kind}"][
            "x-kubernetes-group-version-kind"
        ] == [{"group": "", "version": "v1", "kind": kind}]
    for path in ("/api/v1/namespaces/{name}", "/api/v1/namespaces/{namespace}/configmaps/{name}",
                 "/api/v1/namespaces/{namespace}/services/{name}", "/api/v1/namespaces/{namespace}/events"):
        assert path in document["paths"]


@pytest.mark.parametrize("path", ["api/v1", KNATIVE_DOC])
def test_every_reference_resolves(path: str) -> None:
    document = openapi.v3_document(path)
    text = json.dumps(document)
    for target in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text)):
        assert target in document["components"]["schemas"], target
    assert document["openapi"].startswith("3.")


def test_every_knative_field_has_a_description() -> None:
    # kubectl explain prints them.
    missing: list[str] = []

    def walk(node: dict[str, Any], path: str) -> None:
        for name, child in node.get("properties", {}).items():
            if not child.get("description"):
                missing.append(f"{path}.{name}")
            walk(child, f"{path}.{name}")
        if "items" in node:
            walk(node["items"], f"{path}[]")

    for kind in KNATIVE_KINDS:
        walk(kind.schema, kind.kind)
    assert missing == []


def test_unknown_documents() -> None:
    assert openapi.v3_document("apis/batch/v1") is None
    assert openapi.v3_json("apis/batch/v1") is None
    with pytest.raises(KeyError):
        openapi.v3_hash("apis/batch/v1")


def test_document_is_a_fresh_copy() -> None:
    document = openapi.v3_document(KNATIVE_DOC)
    document["components"]["schemas"].clear()
    assert openapi.v3_document(KNATIVE_DOC)["components"]["schemas"]


def test_hash_is_the_uppercase_sha512_of_the_document() -> None:
    digest = openapi.v3_hash(KNATIVE_DOC)
    assert re.fullmatch(r"[0-9A-F]{128}", digest)
    assert digest == hashlib.sha512(openapi.v3_json(KNATIVE_DOC)).hexdigest().upper()
    assert json.loads(openapi.v3_json(KNATIVE_DOC)) == openapi.v3_document(KNATIVE_DOC)
    assert openapi.v3_hash(KNATIVE_DOC) == digest
    assert openapi.v3_hash("api/v1") != digest


def test_hash_changes_with_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    before = openapi.v3_root()["paths"]
    percent = crd_schemas.TRAFFIC_SPEC["items"]["properties"]["percent"]
    monkeypatch.setitem(percent, "description", "Share of traffic.")
    after = OpenApi(schema.kinds).v3_root()["paths"]  # the documents are encoded once, when the server starts
    assert after[KNATIVE_DOC] != before[KNATIVE_DOC]
    assert after["api/v1"] == before["api/v1"]


# ---------------------------------------------------------------- OpenAPI v2


def read_protobuf(data: bytes) -> dict[int, Any]:
    """Decodes length-delimited fields only (all openapi_v2.Document uses here); nested messages recurse."""
    fields: dict[int, Any] = {}
    position = 0

    def varint() -> int:
        nonlocal position
        result = shift = 0
        while True:
            byte = data[position]
            position += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while position < len(data):
        key = varint()
        assert key & 7 == 2, "only length-delimited fields expected"
        length = varint()
        payload = data[position:position + length]
        position += length
        fields[key >> 3] = payload
    return fields


def test_v2_protobuf_is_a_minimal_document() -> None:
    data = openapi_v2_protobuf()
    document = read_protobuf(data)
    info = read_protobuf(document[2])

    assert document[1] == b"2.0"  # swagger
    assert info == {1: b"Kubernetes", 2: b"v1.33.0"}  # title, version
    assert data.hex() == "0a03322e3012150a0a4b756265726e65746573120776312e33332e30"  # the reference's 28 bytes
