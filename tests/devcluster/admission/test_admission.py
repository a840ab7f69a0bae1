"""Knative admission on create: defaulting (sections 2.2, 4, 8), names (4.4), BYO revision names (1.4)."""

import copy

import pytest

from app.devcluster.admission import WEBHOOK, AdmissionDenied, default, validate
from tests.devcluster.admission.helpers import defaulted, denial

IMAGE = "ghcr.io/knative/helloworld-go:latest"
CREATOR = "serving.knative.dev/creator"
MODIFIER = "serving.knative.dev/lastModifier"
DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
SERVICE_OWNER = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "hello", "controller": True}


def ksvc(name="hello", template_spec=None, template_meta=None, **metadata):
    template = {"spec": template_spec or {"containers": [{"image": IMAGE}]}}
    if template_meta is not None:
        template["metadata"] = template_meta
    meta = {"namespace": "default", **metadata}
    if name:
        meta["name"] = name
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": meta, "spec": {"template": template}}






def test_a_minimal_service_is_defaulted_like_knative_does():
    assert defaulted("Service", ksvc()) == {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"namespace": "default", "name": "hello", "annotations": {CREATOR: "alice", MODIFIER: "alice"}},
        "spec": {
            "template": {
                "metadata": {},
                "spec": {
                    "containerConcurrency": 0,
                    "containers": [
                        {
                            "image": IMAGE,
                            "name": "user-container",
                            "readinessProbe": {"successThreshold": 1, "tcpSocket": {"port": 0}},
                            "resources": {},
                        }
                    ],
                    "enableServiceLinks": False,
                    "timeoutSeconds": 300,
                },
            },
            "traffic": [{"latestRevision": True, "percent": 100}],
        },
    }


@pytest.mark.parametrize(
    ("containers", "names"),
    [
        ([{"image": IMAGE}], ["user-container"]),
        ([{"image": IMAGE, "name": "app"}], ["app"]),
        ([{"image": IMAGE}, {"image": IMAGE}], ["user-container-0", "user-container-1"]),
        ([{"image": IMAGE, "name": "user-container"}, {"image": IMAGE}], ["user-container", "user-container-0"]),
        ([{"image": IMAGE}, {"image": IMAGE, "name": "user-container-0"}], ["user-container-1", "user-container-0"]),
    ],
)
def test_container_names(containers, names):
    obj = defaulted("Service", ksvc(template_spec={"containers": containers}))
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == names


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"timeoutSeconds": 0}, {"timeoutSeconds": 300, "containerConcurrency": 0, "enableServiceLinks": False}),
        ({"timeoutSeconds": 120}, {"timeoutSeconds": 120, "containerConcurrency": 0, "enableServiceLinks": False}),
        (
            {"containerConcurrency": 10},
            {"timeoutSeconds": 300, "containerConcurrency": 10, "enableServiceLinks": False},
        ),
        ({"enableServiceLinks": True}, {"timeoutSeconds": 300, "containerConcurrency": 0, "enableServiceLinks": True}),
    ],
)
def test_revision_spec_defaults(given, expected):
    spec = defaulted("Service", ksvc(template_spec={"containers": [{"image": IMAGE}], **given}))["spec"]
    assert {k: spec["template"]["spec"][k] for k in expected} == expected


@pytest.mark.parametrize(
    ("container", "probe"),
    [
        (
            {"readinessProbe": {"httpGet": {"path": "/healthz"}}},
            {"httpGet": {"path": "/healthz", "port": 0}, "successThreshold": 1},
        ),
        (
            {"readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5}},
            {
                "tcpSocket": {"port": 8080},
                "periodSeconds": 5,
                "successThreshold": 1,
                "failureThreshold": 3,
                "timeoutSeconds": 1,
            },
        ),
        (
            {"readinessProbe": {"exec": {"command": ["ok"]}, "successThreshold": 2}},
            {"exec": {"command": ["ok"]}, "successThreshold": 2},
        ),
    ],
)
def test_readiness_probe_defaults(container, probe):
    obj = defaulted("Service", ksvc(template_spec={"containers": [{"image": IMAGE, **container}]}))
    assert obj["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] == probe


def test_only_the_serving_container_gets_the_default_probe_and_ports_get_tcp():
    containers = [{"image": IMAGE}, {"image": IMAGE, "ports": [{"containerPort": 8080}]}]
    sidecar, serving = defaulted("Service", ksvc(template_spec={"containers": containers}))["spec"]["template"]["spec"][
        "containers"
    ]
    assert "readinessProbe" not in sidecar
    assert serving["readinessProbe"] == {"successThreshold": 1, "tcpSocket": {"port": 0}}
    assert serving["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]


def test_mounts_of_read_only_volume_kinds_become_read_only():
    spec = {
        "containers": [
            {"image": IMAGE, "volumeMounts": [{"name": "cfg", "mountPath": "/c"}, {"name": "tmp", "mountPath": "/t"}]}
        ],
        "volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "tmp", "emptyDir": {}}],
    }
    mounts = defaulted("Service", ksvc(template_spec=spec))["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert mounts == [{"name": "cfg", "mountPath": "/c", "readOnly": True}, {"name": "tmp", "mountPath": "/t"}]


@pytest.mark.parametrize(
    ("kind", "owners", "annotated"),
    [
        ("Service", [], True),
        ("Configuration", [], True),
        ("Configuration", [SERVICE_OWNER], False),
        ("Route", [], True),
        ("Route", [SERVICE_OWNER], False),
        ("Revision", [], False),
    ],
)
def test_creator_and_last_modifier_on_create(kind, owners, annotated):
    obj = {"metadata": {"name": "hello", "ownerReferences": owners}, "spec": {}}
    if kind == "Revision":
        obj["spec"] = {"containers": [{"image": IMAGE}]}
    annotations = defaulted(kind, obj)["metadata"].get("annotations", {})
    assert annotations == ({CREATOR: "alice", MODIFIER: "alice"} if annotated else {})


def test_a_revision_is_defaulted_on_create_only():
    created = defaulted("Revision", {"metadata": {"name": "hello-00001"}, "spec": {"containers": [{"image": IMAGE}]}})
    assert created["spec"]["timeoutSeconds"] == 300
    assert created["spec"]["containers"][0]["name"] == "user-container"
    updated = {"metadata": {"name": "hello-00001"}, "spec": {"containers": [{"image": IMAGE}]}}
    defaulted("Revision", updated, "UPDATE", copy.deepcopy(created))
    assert updated["spec"] == {"containers": [{"image": IMAGE}]}


def test_unknown_kinds_are_left_alone():
    obj = {"metadata": {}}
    default("ConfigMap", "CREATE", obj, None, "alice")
    assert obj == {"metadata": {}}
    assert validate("ConfigMap", "CREATE", obj, None) == []


@pytest.mark.parametrize("kind", ["Service", "Configuration", "Route", "Revision"])
@pytest.mark.parametrize(
    ("metadata", "text"),
    [
        ({"name": "hello"}, ""),
        ({"generateName": "hello-"}, ""),
        ({}, "name or generateName is required: metadata.name"),
        ({"name": "1hello"}, f"not a DNS 1035 label: [{DNS1035}]: metadata.name"),
        ({"name": "a.b"}, f"not a DNS 1035 label: [{DNS1035}]: metadata.name"),
        ({"name": "a" * 64}, "not a DNS 1035 label: [must be no more than 63 characters]: metadata.name"),
        ({"generateName": "Hello-"}, f"not a DNS 1035 label prefix: [{DNS1035}]: metadata.generateName"),
    ],
)
def test_object_names(kind, metadata, text):
    spec = {"template": {"spec": {"containers": [{"image": IMAGE}]}}}
    if kind == "Route":
        spec = {"traffic": [{"configurationName": "hello", "percent": 100}]}
    if kind == "Revision":
        spec = {"containers": [{"image": IMAGE}]}
    assert denial(kind, {"metadata": dict(metadata), "spec": spec}) == text


@pytest.mark.parametrize(
    ("service", "template_meta", "text"),
    [
        ({"name": "hello"}, {"name": "hello-v1"}, ""),
        (
            {"name": "hello"},
            {"name": "v1"},
            'invalid value: "v1" must have prefix "hello-": spec.template.metadata.name',
        ),
        (
            {"name": "hello"},
            {"name": "hello-V1"},
            f"invalid value: not a DNS 1035 label: [{DNS1035}]: spec.template.metadata.name",
        ),
        (
            {"name": None, "generateName": "hello-"},
            {"name": "hello-v1"},
            "must not set the field(s): spec.template.metadata.name",
        ),
        (
            {"name": "hello"},
            {"generateName": "Hello-"},
            f"invalid value: not a DNS 1035 label prefix: [{DNS1035}]: spec.template.metadata.generateName",
        ),
    ],
)
def test_bring_your_own_revision_names(service, template_meta, text):
    assert denial("Service", ksvc(template_meta=template_meta, **service)) == text


def test_bring_your_own_revision_name_on_a_configuration():
    obj = {
        "metadata": {"name": "bar"},
        "spec": {"template": {"metadata": {"name": "v1"}, "spec": {"containers": [{"image": IMAGE}]}}},
    }
    assert denial("Configuration", obj) == 'invalid value: "v1" must have prefix "bar-": spec.template.metadata.name'


@pytest.mark.parametrize(
    ("kind", "labels", "owners", "text"),
    [
        ("Route", {"serving.knative.dev/service": "hello"}, [SERVICE_OWNER], ""),
        (
            "Route",
            {"serving.knative.dev/service": "hello"},
            [],
            "missing field(s): metadata.labels.serving.knative.dev/service",
        ),
        (
            "Configuration",
            {"serving.knative.dev/service": "other"},
            [SERVICE_OWNER],
            "missing field(s): metadata.labels.serving.knative.dev/service",
        ),
        ("Revision", {"serving.knative.dev/configuration": "hello"}, [{"kind": "Configuration", "name": "hello"}], ""),
        (
            "Revision",
            {"serving.knative.dev/configuration": "hello"},
            [],
            "missing field(s): metadata.labels.serving.knative.dev/configuration",
        ),
    ],
)
def test_owner_labels_must_match_an_owner(kind, labels, owners, text):
    spec = {
        "Route": {"traffic": [{"configurationName": "hello", "percent": 100}]},
        "Configuration": {"template": {"spec": {"containers": [{"image": IMAGE}]}}},
        "Revision": {"containers": [{"image": IMAGE}]},
    }[kind]
    obj = {"metadata": {"name": "hello", "labels": labels, "ownerReferences": owners}, "spec": spec}
    assert denial(kind, obj) == text


def test_the_denial_names_the_validating_webhook():
    obj = ksvc(template_spec={"containers": [{}]})
    default("Service", "CREATE", obj, None, "alice")
    with pytest.raises(AdmissionDenied) as denied:
        validate("Service", "CREATE", obj, None)
    assert WEBHOOK == "validation.webhook.serving.knative.dev"
    assert denied.value.message == (
        'admission webhook "validation.webhook.serving.knative.dev" denied the request: '
        "validation failed: missing field(s): spec.template.spec.containers[0].image"
    )
