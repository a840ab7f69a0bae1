"""Raw HTTP against the dev cluster's API: discovery, health, OpenAPI, Tables, paging, and every
error path answered as a Kubernetes `Status` with the real code, reason and message."""

from __future__ import annotations

import copy
import json
import random
import socket
import ssl
import uuid

import pytest

from tests.support import DevClusterProcess, ksvc_manifest, wait_for

KSVC = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"


@pytest.fixture
def ns(devcluster: DevClusterProcess) -> str:
    return devcluster.new_namespace("h")


def _status(body: dict, code: int, reason: str, message: str) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure", body
    assert (body["code"], body["reason"], body["message"]) == (code, reason, message), body


def test_health_version_and_unknown_paths(devcluster: DevClusterProcess) -> None:
    for path in ("/healthz", "/livez", "/readyz"):
        code, headers, body = devcluster.request("GET", path)
        assert (code, body) == (200, "ok") and headers["Content-Type"].startswith("text/plain")
    for path in ("/version", "/version/"):
        version = devcluster.get(path)
        assert version["major"] == "1" and version["minor"] == "33"
        assert set(version) >= {"gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler",
                                "platform"}
    code, _, body = devcluster.request("GET", "/nope")
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "the server could not find the requested resource", "reason": "NotFound",
                    "details": {}, "code": 404}
    code, _, body = devcluster.request("GET", "/apis/serving.knative.dev/v1/namespaces/default/widgets")
    assert code == 404 and body["reason"] == "NotFound"


def test_discovery_negotiates_on_accept(devcluster: DevClusterProcess) -> None:
    legacy = devcluster.get("/apis")
    assert legacy["kind"] == "APIGroupList"
    groups = {g["name"]: g for g in legacy["groups"]}
    assert groups["serving.knative.dev"]["preferredVersion"] == {"groupVersion": "serving.knative.dev/v1", "version": "v1"}
    assert groups["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    for version in ("v2", "v2beta1"):
        accept = f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList,application/json"
        code, headers, body = devcluster.request("GET", "/apis", headers={"Accept": accept})
        assert headers["Content-Type"] == f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
        assert body["apiVersion"] == f"apidiscovery.k8s.io/{version}"
        serving = next(i for i in body["items"] if i["metadata"]["name"] == "serving.knative.dev")
        resources = {r["resource"]: r for r in serving["versions"][0]["resources"]}
        assert resources["services"]["shortNames"] == ["kservice", "ksvc"]
        assert resources["services"]["categories"] == ["all", "knative", "serving"]
        assert resources["services"]["subresources"][0]["subresource"] == "status"
        core = devcluster.request("GET", "/api", headers={"Accept": accept})[2]
        assert core["items"][0]["metadata"]["name"] == ""
    group = devcluster.get("/apis/serving.knative.dev/v1")
    names = {r["name"]: r for r in group["resources"]}
    assert names["revisions"]["shortNames"] == ["rev"] and names["routes"]["shortNames"] == ["rt"]
    assert names["configurations"]["shortNames"] == ["config", "cfg"]
    assert names["services"]["storageVersionHash"] == "vqppxVmf8h0="
    assert names["services/status"] == {"name": "services/status", "singularName": "", "namespaced": True,
                                        "kind": "Service", "verbs": ["get", "patch", "update"]}
    assert devcluster.get("/apis/serving.knative.dev")["preferredVersion"]["version"] == "v1"
    assert devcluster.get("/api")["versions"] == ["v1"]


def test_openapi_documents(devcluster: DevClusterProcess) -> None:
    code, headers, _ = devcluster.request("GET", "/openapi/v2")
    assert code == 200
    assert headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    root = devcluster.get("/openapi/v3")
    url = root["paths"]["apis/serving.knative.dev/v1"]["serverRelativeURL"]
    document = devcluster.get(url)
    patch = document["paths"]["/apis/serving.knative.dev/v1/namespaces/{namespace}/services/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])


def test_tables_for_kubectl(devcluster: DevClusterProcess, ns: str) -> None:
    devcluster.request("POST", KSVC.format(ns=ns), ksvc_manifest("tabled", ns))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    _, _, table = devcluster.request("GET", KSVC.format(ns=ns), headers={"Accept": accept})
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "URL", "LatestCreated", "LatestReady", "Ready",
                                                               "Reason"]
    assert table["rows"][0]["cells"][0] == "tabled"
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    _, _, one = devcluster.request("GET", KSVC.format(ns=ns) + "/tabled?includeObject=Object",
                                   headers={"Accept": accept})
    assert one["rows"][0]["object"]["kind"] == "Service"
    _, _, namespaces = devcluster.request("GET", "/api/v1/namespaces", headers={"Accept": accept})
    assert [c["name"] for c in namespaces["columnDefinitions"]] == ["Name", "Status", "Age"]


def test_paging_with_limit_and_continue(devcluster: DevClusterProcess, ns: str) -> None:
    for i in range(5):
        devcluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": f"cm-{i}"}})
    seen, token = [], ""
    while True:
        page = devcluster.get(f"/api/v1/namespaces/{ns}/configmaps?limit=2" + (f"&continue={token}" if token else ""))
        seen += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue", "")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] > 0
    assert seen == [f"cm-{i}" for i in range(5)]
    code, _, body = devcluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=2&continue=garbage")
    assert code == 400 and body["reason"] == "BadRequest"


def test_not_found_already_exists_and_conflicts(devcluster: DevClusterProcess, ns: str) -> None:
    base = KSVC.format(ns=ns)
    code, _, body = devcluster.request("GET", f"{base}/ghost")
    _status(body, 404, "NotFound", 'services.serving.knative.dev "ghost" not found')
    assert body["details"] == {"name": "ghost", "group": "serving.knative.dev", "kind": "services"}
    code, _, created = devcluster.request("POST", base, ksvc_manifest("dup", ns))
    assert code == 201
    code, _, body = devcluster.request("POST", base, ksvc_manifest("dup", ns))
    _status(body, 409, "AlreadyExists", 'services.serving.knative.dev "dup" already exists')
    stale = dict(created, metadata=dict(created["metadata"], resourceVersion="1"))
    code, _, body = devcluster.request("PUT", f"{base}/dup", stale)
    _status(body, 409, "Conflict", 'Operation cannot be fulfilled on services.serving.knative.dev "dup": the object '
                                   "has been modified; please apply your changes to the latest version and try again")
    unversioned = dict(created, metadata={k: v for k, v in created["metadata"].items() if k != "resourceVersion"})
    code, _, body = devcluster.request("PUT", f"{base}/dup", unversioned)
    _status(body, 422, "Invalid", 'services.serving.knative.dev "dup" is invalid: metadata.resourceVersion: Invalid '
                                  "value: 0x0: must be specified for an update")
    code, _, body = devcluster.request("PUT", f"{base}/other", created)
    _status(body, 400, "BadRequest", "the name of the object (dup) does not match the name on the URL (other)")
    code, _, body = devcluster.request("PATCH", f"{base}/dup", {"metadata": {"resourceVersion": "1"}},
                                       content_type="application/merge-patch+json")
    assert code == 409 and body["reason"] == "Conflict"
    code, _, body = devcluster.request("DELETE", f"{base}/dup", {"preconditions": {"uid": "wrong"}})
    _status(body, 409, "Conflict", 'Operation cannot be fulfilled on services.serving.knative.dev "dup": '
                                   f"Precondition failed: UID in precondition: wrong, UID in object meta: "
                                   f"{created['metadata']['uid']}")


def test_invalid_objects(devcluster: DevClusterProcess, ns: str) -> None:
    base = KSVC.format(ns=ns)
    nameless = ksvc_manifest("x", ns)
    del nameless["metadata"]["name"]
    code, _, body = devcluster.request("POST", base, nameless)
    _status(body, 422, "Invalid", 'Service.serving.knative.dev "" is invalid: metadata.name: Required value: name or '
                                  "generateName is required")
    assert body["details"]["causes"] == [{"reason": "FieldValueRequired", "message": "Required value: name or "
                                          "generateName is required", "field": "metadata.name"}]
    code, _, body = devcluster.request("POST", base, ksvc_manifest("Upper", ns))
    assert code == 422 and body["reason"] == "Invalid"
    assert "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters" in body["message"]
    wrong = ksvc_manifest("elsewhere", "default")
    code, _, body = devcluster.request("POST", base, wrong)
    _status(body, 400, "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request")
    code, _, body = devcluster.request("POST", KSVC.format(ns="no-such-namespace"), ksvc_manifest("x", ""))
    _status(body, 404, "NotFound", 'namespaces "no-such-namespace" not found')
    typed = ksvc_manifest("typed", ns)
    typed["spec"]["traffic"] = [{"latestRevision": True, "percent": "100"}]
    code, _, body = devcluster.request("POST", base, typed)
    assert code == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "spec.traffic[0].percent"
    code, _, body = devcluster.request("POST", base, raw=b"{not json")
    assert code == 400 and body["reason"] == "BadRequest"
    code, _, body = devcluster.request("POST", base, raw=b"x" * (3 * 1024 * 1024 + 10))
    _status(body, 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")


def test_patch_errors(devcluster: DevClusterProcess, ns: str) -> None:
    base = KSVC.format(ns=ns)
    devcluster.request("POST", base, ksvc_manifest("p", ns))
    code, _, body = devcluster.request("PATCH", f"{base}/p", {"a": 1},
                                       content_type="application/strategic-merge-patch+json")
    _status(body, 415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media "
            "types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
    code, _, body = devcluster.request("PATCH", f"{base}/p", {"a": 1}, content_type="text/plain")
    assert code == 415
    code, _, body = devcluster.request("PATCH", f"{base}/p", {"a": 1}, content_type="application/json-patch+json")
    _status(body, 400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    code, _, body = devcluster.request("PATCH", f"{base}/p", [{"op": "test", "path": "/metadata/name", "value": "q"}],
                                       content_type="application/json-patch+json")
    _status(body, 422, "Invalid", "the server rejected our request due to an error in our request")
    code, _, body = devcluster.request("PATCH", f"{base}/p", [1], content_type="application/merge-patch+json")
    assert code == 422 and body["message"].startswith("couldn't get version/kind; json parse error: json: cannot "
                                                      "unmarshal array into Go value of type struct")
    code, _, body = devcluster.request("PATCH", f"{base}/p", ksvc_manifest("p", ns),
                                       content_type="application/apply-patch+yaml")
    _status(body, 422, "Invalid",
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
    code, _, body = devcluster.request("PATCH", f"{base}/p?force=true", {"metadata": {}},
                                       content_type="application/merge-patch+json")
    _status(body, 422, "Invalid",
            'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch')
    code, _, body = devcluster.request("POST", f"{base}/p", ksvc_manifest("p", ns))
    assert code == 405 and body["reason"] == "MethodNotAllowed"


def test_server_side_apply_creates_and_reports_conflicts(devcluster: DevClusterProcess, ns: str) -> None:
    base = KSVC.format(ns=ns)
    code, _, body = devcluster.request("PATCH", f"{base}/ssa?fieldManager=one", ksvc_manifest("ssa", ns),
                                       content_type="application/apply-patch+yaml")
    assert code == 201 and body["metadata"]["managedFields"][0]["operation"] == "Apply"
    other = ksvc_manifest("ssa", ns, image="example.com/other:1")
    code, _, body = devcluster.request("PATCH", f"{base}/ssa?fieldManager=two", other,
                                       content_type="application/apply-patch+yaml")
    _status(body, 409, "Conflict",
            'Apply failed with 1 conflict: conflict with "one": .spec.template.spec.containers')
    assert body["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "one"',
                                          "field": ".spec.template.spec.containers"}]
    code, _, body = devcluster.request("PATCH", f"{base}/ssa?fieldManager=two&force=true", other,
                                       content_type="application/apply-patch+yaml")
    assert code == 200 and body["spec"]["template"]["spec"]["containers"][0]["image"] == "example.com/other:1"
    # YAML bodies are accepted for apply.
    text = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: ssa\n  labels:\n    y: 'yaml'\n"
    code, _, body = devcluster.request("PATCH", f"{base}/ssa?fieldManager=three", raw=text.encode(),
                                       content_type="application/apply-patch+yaml")
    assert code == 200 and body["metadata"]["labels"] == {"y": "yaml"}


def test_dry_run_and_generate_name(devcluster: DevClusterProcess, ns: str) -> None:
    base = KSVC.format(ns=ns)
    code, _, body = devcluster.request("POST", f"{base}?dryRun=All", ksvc_manifest("dry", ns))
    assert code == 201 and body["metadata"]["name"] == "dry"
    assert devcluster.request("GET", f"{base}/dry")[0] == 404
    generated = ksvc_manifest("", ns)
    generated["metadata"] = {"generateName": "auto-"}
    code, _, body = devcluster.request("POST", base, generated)
    assert code == 201 and body["metadata"]["name"].startswith("auto-") and len(body["metadata"]["name"]) == 10


def test_status_subresource_and_generation(devcluster: DevClusterProcess, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    service = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    code, _, created = devcluster.request("POST", base, dict(service, status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}))
    assert code == 201 and created["status"] == {"loadBalancer": {}}
    code, _, patched = devcluster.request("PATCH", f"{base}/lb/status",
                                          {"metadata": {"labels": {"no": "1"}},
                                           "status": {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}}},
                                          content_type="application/merge-patch+json")
    assert code == 200 and patched["status"]["loadBalancer"]["ingress"] == [{"ip": "5.6.7.8"}]
    assert "labels" not in patched["metadata"]
    code, _, main = devcluster.request("PATCH", f"{base}/lb", {"status": {"loadBalancer": {}}},
                                       content_type="application/merge-patch+json")
    assert main["status"]["loadBalancer"]["ingress"] == [{"ip": "5.6.7.8"}]
    assert main["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]  # a no-op write


def test_namespace_rules(devcluster: DevClusterProcess) -> None:
    code, _, body = devcluster.request("DELETE", "/api/v1/namespaces/default")
    _status(body, 403, "Forbidden", 'namespaces "default" is forbidden: this namespace may not be deleted')
    name = f"term-{uuid.uuid4().hex[:6]}"
    devcluster.request("POST", "/api/v1/namespaces", {"metadata": {"name": name, "finalizers": ["example.com/x"]}})
    code, _, body = devcluster.request("DELETE", f"/api/v1/namespaces/{name}")
    assert code == 200 and body["status"]["phase"] == "Terminating"
    code, _, body = devcluster.request("POST", f"/api/v1/namespaces/{name}/configmaps", {"metadata": {"name": "x"}})
    assert code == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (f'configmaps "" is forbidden: unable to create new content in namespace {name} because '
                               "it is being terminated")
    code, _, _ = devcluster.request("PATCH", f"/api/v1/namespaces/{name}", {"metadata": {"finalizers": None}},
                                    content_type="application/merge-patch+json")
    assert code == 200
    assert devcluster.request("GET", f"/api/v1/namespaces/{name}")[0] == 404


def test_selectors_rejected_cleanly(devcluster: DevClusterProcess) -> None:
    base = KSVC.format(ns="default")
    for query in ("fieldSelector=spec.x%3Dy", "labelSelector=a%20in%20b", "labelSelector=%3D%3D", "watch=maybe",
                  "limit=x", "timeoutSeconds=-1&watch=1"):
        code, _, body = devcluster.request("GET", f"{base}?{query}")
        assert code == 400 and body["kind"] == "Status" and body["reason"] == "BadRequest", (query, body)
    code, _, body = devcluster.request("GET", f"{base}?fieldSelector=spec.x%3Dy")
    assert body["message"] == "field label not supported: spec.x"


def test_nothing_a_client_sends_is_a_500(devcluster: DevClusterProcess, ns: str) -> None:
    rng = random.Random(7)
    base = KSVC.format(ns=ns)
    devcluster.request("POST", base, ksvc_manifest("fuzz", ns))
    leaves = [None, True, 0, -1, 3.5, "", "x", [], {}, [1, "a"], {"a": None}, "9" * 40]
    keys = ["metadata", "spec", "status", "name", "template", "traffic", "percent", "labels", "containers", "image",
            "apiVersion", "kind", "finalizers", "ownerReferences", "resourceVersion", "generateName", "op", "path"]

    def junk(depth: int = 0):  # noqa: ANN202
        if depth > 3 or rng.random() < 0.3:
            return copy.deepcopy(rng.choice(leaves))
        if rng.random() < 0.5:
            return [junk(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): junk(depth + 1) for _ in range(rng.randint(0, 4))}

    types = ["application/json", "application/merge-patch+json", "application/json-patch+json",
             "application/apply-patch+yaml", "application/yaml"]
    for _ in range(300):
        body = junk()
        method = rng.choice(["POST", "PUT", "PATCH"])
        path = base if method == "POST" else f"{base}/fuzz" + rng.choice(["", "/status"])
        ctype = rng.choice(types)
        if rng.random() < 0.5 and isinstance(body, dict):
            body = dict(ksvc_manifest("fuzz", ns), **body)
        code, _, answer = devcluster.request(method, path + "?fieldManager=f", body, content_type=ctype)
        assert code < 500, (method, path, ctype, json.dumps(body), answer)
        if code >= 400:
            assert answer["kind"] == "Status", answer


def test_junk_inside_a_valid_service_is_never_a_500(devcluster: DevClusterProcess, ns: str) -> None:
    """Admission and the reconciler see malformed values at every depth of a real Service."""
    rng = random.Random(11)
    base = KSVC.format(ns=ns)
    leaves = [None, True, 0, -5, 70000, 2.5, "", "x y", "UPPER", [], {}, ["a"], {"k": 1}, "1e9", "-"]
    template = ksvc_manifest("deep", ns, env={"TARGET": "x"})
    template["metadata"]["annotations"] = {"serving.knative.dev/rollout-duration": "10s"}
    template["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/min-scale": "1"}}
    template["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "name": "http1"}]
    template["spec"]["traffic"] = [{"latestRevision": True, "percent": 100, "tag": "t"}]

    def paths(node, prefix=()):  # noqa: ANN001, ANN202
        yield prefix
        if isinstance(node, dict):
            for key, value in node.items():
                yield from paths(value, (*prefix, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from paths(value, (*prefix, index))

    all_paths = [p for p in paths(template) if len(p) > 1 and p[:2] != ("metadata", "name")]
    for i in range(400):
        body = json.loads(json.dumps(template))
        body["metadata"]["name"] = f"deep-{i % 5}"
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(all_paths)
            node = body
            try:
                for part in path[:-1]:
                    node = node[part]
                node[path[-1]] = copy.deepcopy(rng.choice(leaves))
            except (KeyError, IndexError, TypeError):
                continue
        method = rng.choice(["POST", "PUT", "PATCH"])
        target = base if method == "POST" else f"{base}/deep-{i % 5}"
        if method == "PUT":
            code, _, live = devcluster.request("GET", target)
            if code == 200 and isinstance(body.get("metadata"), dict):
                body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
        code, _, answer = devcluster.request(method, target, body, content_type=ctype)
        assert code < 500, (method, json.dumps(body), answer)
    assert "Traceback" not in devcluster.log()


def test_a_request_that_is_not_valid_http_is_logged_in_one_line_without_its_bytes(devcluster: DevClusterProcess) -> None:
    """aiohttp logged it as an ERROR with a traceback and the offending header line, a token in it included."""
    secret = f"not-logged-{uuid.uuid4().hex}"
    host, port = devcluster.api_url.split("//", 1)[1].rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with context.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host) as sock:
        sock.sendall(f"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {secret}\x01\r\n"
                     "Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 400 ") or answer.startswith(b"HTTP/1.1 400 "), answer[:80]
    log = wait_for_log(devcluster, "not valid HTTP")
    assert secret not in log
    line = next(line for line in log.splitlines() if "not valid HTTP" in line)
    assert "Invalid header value char" in line, line
    assert "Traceback" not in log.split(line, 1)[1][:2000]


def wait_for_log(devcluster: DevClusterProcess, words: str) -> str:
    return wait_for(lambda: log if words in (log := devcluster.log()) else None, timeout=5, message=words)
