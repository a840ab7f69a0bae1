"""kubectl 1.27 and 1.33 against the dev cluster: the compatibility checklist of
reference/kubernetes-api.md section 6, one test per item, run with both versions where they differ (see BOTH), and
the pods, Deployments, Services and logs behind a revision (`get pods,deploy,svc`, `get all`, `describe pod`,
`logs [-f]`)."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support import KUBECTL_VERSIONS, DevClusterProcess, ksvc_manifest, kubectl_binary, wait_for

# Each checklist item runs with both versions where what kubectl sends or makes of the answer differs between them
# (discovery, OpenAPI, client-side apply and diff, printing, watch and wait, protobuf, whoami, pods and logs); the
# items whose requests and answers are the same plain JSON calls in both (selectors, create, server-side apply, patch
# types, the status subresource, delete) run with the newest only.
BOTH = pytest.mark.parametrize("version", KUBECTL_VERSIONS)
NEWEST = pytest.mark.parametrize("version", KUBECTL_VERSIONS[-1:])


def _ns(devcluster: DevClusterProcess) -> str:
    return devcluster.new_namespace("k")


def _write(obj: dict | list, tmp: Path) -> str:
    path = tmp / f"{uuid.uuid4().hex[:6]}.yaml"
    documents = obj if isinstance(obj, list) else [obj]
    path.write_text(yaml.safe_dump_all(documents))
    return str(path)


def _get(devcluster: DevClusterProcess, ns: str, name: str, plural: str = "services") -> dict:
    return devcluster.get(f"/apis/serving.knative.dev/v1/namespaces/{ns}/{plural}/{name}")


def _ready(devcluster: DevClusterProcess, ns: str, name: str) -> dict:
    def check() -> dict | None:
        obj = _get(devcluster, ns, name)
        status = obj.get("status", {})
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        settled = status.get("observedGeneration") == obj["metadata"]["generation"]
        return obj if settled and conditions.get("Ready") == "True" else None

    return wait_for(check, message=f"ksvc {name} Ready")


@BOTH
def test_01_api_versions_and_resources(devcluster: DevClusterProcess, version: str) -> None:
    versions = devcluster.kubectl(version, "api-versions").stdout.split()
    assert "serving.knative.dev/v1" in versions and "v1" in versions
    table = devcluster.kubectl(version, "api-resources").stdout
    rows = {tuple(line.split()) for line in table.splitlines()[1:]}
    assert ("services", "kservice,ksvc", "serving.knative.dev/v1", "true", "Service") in rows
    assert ("configurations", "config,cfg", "serving.knative.dev/v1", "true", "Configuration") in rows
    assert ("revisions", "rev", "serving.knative.dev/v1", "true", "Revision") in rows
    assert ("routes", "rt", "serving.knative.dev/v1", "true", "Route") in rows
    assert ("namespaces", "ns", "v1", "false", "Namespace") in rows


@BOTH
def test_02_discovery_form_matches_the_client(devcluster: DevClusterProcess, version: str) -> None:
    # 1.27 asks for v2beta1 aggregated discovery, 1.33 for v2: -v=8 shows which came back.
    result = devcluster.kubectl(version, "get", "ksvc", "-v=8", "-n", "default")
    wanted = "v2beta1" if version == "1.27" else "v2"
    assert f"g=apidiscovery.k8s.io;v={wanted};as=APIGroupDiscoveryList" in result.stderr


@BOTH
def test_03_every_name_resolves(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    devcluster.kubectl(version, "apply", "-f", _write(ksvc_manifest("names", ns), tmp_path))
    for name in ("ksvc", "kservice", "services.serving.knative.dev", "services.v1.serving.knative.dev"):
        out = devcluster.kubectl(version, "get", name, "-n", ns).stdout
        assert out.splitlines()[1].split()[0] == "names", (name, out)
    _ready(devcluster, ns, "names")
    for name, expected in (("rev", "names-00001"), ("rt", "names"), ("config", "names"), ("cfg", "names")):
        out = devcluster.kubectl(version, "get", name, "-n", ns).stdout
        assert out.splitlines()[1].split()[0] == expected, (name, out)
    everything = devcluster.kubectl(version, "get", "all", "-n", ns).stdout
    for kind in ("service.serving.knative.dev/names", "route.serving.knative.dev/names",
                 "configuration.serving.knative.dev/names", "revision.serving.knative.dev/names-00001"):
        assert kind in everything, everything


@BOTH
def test_04_apply_validates_without_flags(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    result = devcluster.kubectl(version, "apply", "-f", _write(ksvc_manifest("applied", ns), tmp_path))
    assert result.stdout.strip() == "service.serving.knative.dev/applied created"
    explain = devcluster.kubectl(version, "explain", "ksvc.spec.traffic").stdout
    assert "percent" in explain and "revisionName" in explain


@BOTH
def test_05_printers(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    devcluster.kubectl(version, "apply", "-f", _write(ksvc_manifest("printed", ns), tmp_path))
    _ready(devcluster, ns, "printed")
    lines = devcluster.kubectl(version, "get", "ksvc", "-n", ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"]
    assert lines[1].split() == ["printed", f"http://printed.{ns}.example.com", "printed-00001", "printed-00001",
                                "True"]
    all_ns = devcluster.kubectl(version, "get", "ksvc", "-A").stdout.splitlines()
    assert all_ns[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [ns, "printed"] for line in all_ns[1:])
    assert devcluster.kubectl(version, "get", "ksvc", "-n", ns, "-o", "wide").stdout.splitlines()[0].split()[0] == "NAME"
    assert devcluster.kubectl(version, "get", "ksvc", "-n", ns, "-o", "name").stdout.strip() == \
        "service.serving.knative.dev/printed"
    as_json = json.loads(devcluster.kubectl(version, "get", "ksvc", "printed", "-n", ns, "-o", "json").stdout)
    assert as_json["metadata"]["name"] == "printed" and "managedFields" not in as_json["metadata"]
    as_yaml = yaml.safe_load(devcluster.kubectl(version, "get", "ksvc", "printed", "-n", ns, "-o", "yaml").stdout)
    assert as_yaml["status"]["url"] == f"http://printed.{ns}.example.com"
    url = devcluster.kubectl(version, "get", "ksvc", "printed", "-n", ns, "-o", "jsonpath={.status.url}").stdout
    assert url == f"http://printed.{ns}.example.com"
    revisions = devcluster.kubectl(version, "get", "rev", "-n", ns).stdout.splitlines()
    assert revisions[0].split() == ["NAME", "CONFIG", "NAME", "GENERATION", "READY", "REASON", "ACTUAL", "REPLICAS",
                                    "DESIRED", "REPLICAS"]


@NEWEST
def test_06_selectors(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    labelled = ksvc_manifest("labelled", ns)
    labelled["metadata"]["labels"] = {"tier": "web"}
    devcluster.kubectl(version, "apply", "-f", _write([labelled, ksvc_manifest("plain", ns)], tmp_path))
    names = devcluster.kubectl(version, "get", "ksvc", "-n", ns, "-l", "tier=web", "-o", "name").stdout.split()
    assert names == ["service.serving.knative.dev/labelled"]
    names = devcluster.kubectl(version, "get", "ksvc", "-n", ns, "-l", "tier notin (web)", "-o", "name").stdout.split()
    assert names == ["service.serving.knative.dev/plain"]
    names = devcluster.kubectl(version, "get", "ksvc", "-n", ns, "--field-selector", "metadata.name=plain",
                               "-o", "name").stdout.split()
    assert names == ["service.serving.knative.dev/plain"]
    bad = devcluster.kubectl(version, "get", "ksvc", "-n", ns, "--field-selector", "spec.x=y", check=False)
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error from server (BadRequest): ")
    assert bad.stderr.rstrip().endswith("field label not supported: spec.x")


@NEWEST
def test_07_create_twice_and_generate_name(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    path = _write(ksvc_manifest("once", ns), tmp_path)
    assert devcluster.kubectl(version, "create", "-f", path).stdout.strip() == "service.serving.knative.dev/once created"
    again = devcluster.kubectl(version, "create", "-f", path, check=False)
    assert again.returncode == 1
    assert 'Error from server (AlreadyExists): error when creating "' in again.stderr
    assert 'services.serving.knative.dev "once" already exists' in again.stderr
    generated = ksvc_manifest("", ns)
    del generated["metadata"]["name"]
    generated["metadata"]["generateName"] = "gen-"
    out = devcluster.kubectl(version, "create", "-f", _write(generated, tmp_path)).stdout.strip()
    assert out.startswith("service.serving.knative.dev/gen-") and out.endswith(" created")
    assert len(out.split()[0].split("/")[1]) == len("gen-") + 5


@BOTH
def test_08_apply_unchanged_configured_and_label_only(devcluster: DevClusterProcess, version: str,
                                                      tmp_path: Path) -> None:
    ns = _ns(devcluster)
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns},
                 "data": {"a": "1"}}
    assert devcluster.kubectl(version, "apply", "-f", _write(configmap, tmp_path)).stdout.strip() == \
        "configmap/settings created"
    assert devcluster.kubectl(version, "apply", "-f", _write(configmap, tmp_path)).stdout.strip() == \
        "configmap/settings unchanged"

    manifest = ksvc_manifest("reapply", ns)
    devcluster.kubectl(version, "apply", "-f", _write(manifest, tmp_path))
    before = _ready(devcluster, ns, "reapply")
    # Knative's webhook defaults fields inside the containers list (name, probe, resources), so
    # kubectl's three-way diff of that atomic list is never empty and it says "configured", as on
    # a real cluster; the server sees a no-op and keeps the resourceVersion.
    out = devcluster.kubectl(version, "apply", "-f", _write(manifest, tmp_path)).stdout.strip()
    assert out == "service.serving.knative.dev/reapply configured"
    again = _get(devcluster, ns, "reapply")
    assert again["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/knative/helloworld-go:v2"
    out = devcluster.kubectl(version, "apply", "-f", _write(manifest, tmp_path)).stdout.strip()
    assert out == "service.serving.knative.dev/reapply configured"
    changed = _get(devcluster, ns, "reapply")
    assert changed["metadata"]["generation"] == before["metadata"]["generation"] + 1
    manifest["metadata"]["labels"] = {"only": "label"}
    out = devcluster.kubectl(version, "apply", "-f", _write(manifest, tmp_path)).stdout.strip()
    assert out == "service.serving.knative.dev/reapply configured"
    labelled = _get(devcluster, ns, "reapply")
    assert labelled["metadata"]["generation"] == changed["metadata"]["generation"]
    assert labelled["metadata"]["labels"] == {"only": "label"}


@NEWEST
def test_09_server_side_apply(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    manifest = ksvc_manifest("ssa", ns)
    out = devcluster.kubectl(version, "apply", "--server-side", "-f", _write(manifest, tmp_path)).stdout.strip()
    assert out == "service.serving.knative.dev/ssa serverside-applied"
    out = devcluster.kubectl(version, "apply", "--server-side", "-f", _write(manifest, tmp_path)).stdout.strip()
    assert out == "service.serving.knative.dev/ssa serverside-applied"
    devcluster.kubectl(version, "patch", "ksvc", "ssa", "-n", ns, "--type", "merge", "-p",
                       '{"spec":{"template":{"spec":{"containers":[{"image":"other:1"}]}}}}')
    conflict = devcluster.kubectl(version, "apply", "--server-side", "-f", _write(manifest, tmp_path), check=False)
    assert conflict.returncode == 1
    assert "Apply failed with 1 conflict: conflict with \"kubectl-patch\"" in conflict.stderr
    assert ".spec.template.spec.containers" in conflict.stderr
    forced = devcluster.kubectl(version, "apply", "--server-side", "--force-conflicts", "-f",
                                _write(manifest, tmp_path)).stdout.strip()
    assert forced == "service.serving.knative.dev/ssa serverside-applied"
    live = _get(devcluster, ns, "ssa")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == manifest["spec"]["template"]["spec"][
        "containers"][0]["image"]
    managers = {(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers


def _quiet(devcluster: DevClusterProcess, ns: str, name: str, seconds: float = 0.5) -> None:
    """Until the object has not changed for `seconds`: the controllers are done with it for now."""
    def still() -> bool:
        before = _get(devcluster, ns, name)["metadata"]["resourceVersion"]
        time.sleep(seconds)
        return _get(devcluster, ns, name)["metadata"]["resourceVersion"] == before

    wait_for(still, message=f"ksvc {name} unchanged for {seconds} s")


@NEWEST
def test_10_patch_types(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    devcluster.kubectl(version, "apply", "-f", _write(ksvc_manifest("patched", ns), tmp_path))
    args = ("patch", "ksvc", "patched", "-n", ns)
    merge = '{"metadata":{"labels":{"a":"b"}}}'
    assert devcluster.kubectl(version, *args, "--type", "merge", "-p", merge).stdout.strip() == \
        "service.serving.knative.dev/patched patched"
    # kubectl says "(no change)" when what the PATCH answers equals what it read just before: a status write of the
    # controllers in between (still reconciling the new Service, under load) made it say "patched" (a CI run).
    _quiet(devcluster, ns, "patched")
    assert devcluster.kubectl(version, *args, "--type", "merge", "-p", merge).stdout.strip() == \
        "service.serving.knative.dev/patched patched (no change)"
    out = devcluster.kubectl(version, *args, "--type", "json", "-p",
                             '[{"op":"add","path":"/metadata/labels/c","value":"d"}]').stdout.strip()
    assert out == "service.serving.knative.dev/patched patched"
    assert _get(devcluster, ns, "patched")["metadata"]["labels"] == {"a": "b", "c": "d"}
    strategic = devcluster.kubectl(version, *args, "-p", merge, check=False)
    assert strategic.returncode == 1
    assert strategic.stderr.strip() == (
        "error: application/strategic-merge-patch+json is not supported by serving.knative.dev/v1, Kind=Service: "
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


@BOTH
def test_11_label_annotate_replace_diff_dry_run(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    manifest = ksvc_manifest("edited", ns)
    path = _write(manifest, tmp_path)
    devcluster.kubectl(version, "apply", "-f", path)
    assert devcluster.kubectl(version, "label", "ksvc", "edited", "-n", ns, "x=y").stdout.strip() == \
        "service.serving.knative.dev/edited labeled"
    # kubectl 1.27 prints "annotate", later versions "annotated".
    assert devcluster.kubectl(version, "annotate", "ksvc", "edited", "-n", ns, "note=hi").stdout.strip() in (
        "service.serving.knative.dev/edited annotated", "service.serving.knative.dev/edited annotate")
    live = _get(devcluster, ns, "edited")
    assert live["metadata"]["labels"]["x"] == "y" and live["metadata"]["annotations"]["note"] == "hi"
    changed = ksvc_manifest("edited", ns, image="example.com/changed:2")
    changed_path = _write(changed, tmp_path)
    diff = devcluster.kubectl(version, "diff", "-f", changed_path, check=False)
    assert diff.returncode == 1 and "example.com/changed:2" in diff.stdout
    before = _ready(devcluster, ns, "edited")
    out = devcluster.kubectl(version, "apply", "--dry-run=server", "-f", changed_path).stdout.strip()
    assert out == "service.serving.knative.dev/edited configured (server dry run)"
    after = _get(devcluster, ns, "edited")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"] == before["spec"]
    # A replace must carry the stored creator annotation (Knative's webhook makes it immutable),
    # so replace what kubectl fetched, as users do with `get -o yaml | replace -f -`.
    fetched = json.loads(devcluster.kubectl(version, "get", "ksvc", "edited", "-n", ns, "-o", "json").stdout)
    fetched["metadata"]["labels"] = {"replaced": "yes"}
    assert devcluster.kubectl(version, "replace", "-f", "-", input=json.dumps(fetched)).stdout.strip() == \
        "service.serving.knative.dev/edited replaced"
    without_creator = devcluster.kubectl(version, "replace", "-f", path, check=False)
    assert without_creator.returncode == 1
    assert ('admission webhook "validation.webhook.serving.knative.dev" denied the request: validation failed: '
            "annotation value is immutable: metadata.annotations.serving.knative.dev/creator") in without_creator.stderr
    stale = dict(manifest, metadata=dict(manifest["metadata"], resourceVersion="1"))
    conflict = devcluster.kubectl(version, "replace", "-f", _write(stale, tmp_path), check=False)
    assert conflict.returncode == 1
    assert ('Operation cannot be fulfilled on services.serving.knative.dev "edited": the object has been modified; '
            "please apply your changes to the latest version and try again") in conflict.stderr


@NEWEST
def test_12_status_is_separate_from_spec(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    devcluster.kubectl(version, "apply", "-f", _write(ksvc_manifest("statused", ns), tmp_path))
    settled = _ready(devcluster, ns, "statused")
    out = devcluster.kubectl(version, "patch", "ksvc", "statused", "-n", ns, "--type", "merge", "-p",
                             '{"metadata":{"labels":{"l":"1"}},"status":{"url":"http://spoofed"}}').stdout
    assert "patched" in out
    live = _get(devcluster, ns, "statused")
    assert live["status"]["url"] == settled["status"]["url"]
    assert live["metadata"]["generation"] == settled["metadata"]["generation"]
    result = devcluster.kubectl(version, "patch", "ksvc", "statused", "-n", ns, "--subresource=status", "--type",
                                "merge", "-p", '{"metadata":{"labels":{"l":"2"}},"status":{"observedGeneration":99}}',
                                "-o", "json")
    patched = json.loads(result.stdout)
    assert patched["status"]["observedGeneration"] == 99
    assert patched["metadata"]["labels"]["l"] == "1"  # label changes sent to /status are ignored
    assert patched["metadata"]["generation"] == settled["metadata"]["generation"]


@NEWEST
def test_13_delete(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    devcluster.kubectl(version, "apply", "-f", _write(ksvc_manifest("gone", ns), tmp_path))
    _ready(devcluster, ns, "gone")
    assert devcluster.kubectl(version, "delete", "ksvc", "gone", "-n", ns).stdout.strip() == \
        'service.serving.knative.dev "gone" deleted'
    for plural in ("configurations", "routes", "revisions"):
        wait_for(lambda p=plural: devcluster.get(f"/apis/serving.knative.dev/v1/namespaces/{ns}/{p}")["items"] == [],
                 message=f"{plural} collected")
    missing = devcluster.kubectl(version, "delete", "ksvc", "gone", "-n", ns, check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): services.serving.knative.dev "gone" not found' in missing.stderr

    held = ksvc_manifest("held", ns)
    held["metadata"]["finalizers"] = ["example.com/hold"]
    devcluster.kubectl(version, "apply", "-f", _write(held, tmp_path))
    env = {"KUBECONFIG": str(devcluster.kubeconfig), "KUBECACHEDIR": tempfile.mkdtemp()}
    deleting = subprocess.Popen([kubectl_binary(version), "delete", "ksvc", "held", "-n", ns],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: _get(devcluster, ns, "held")["metadata"].get("deletionTimestamp"), message="deletionTimestamp")
    time.sleep(0.3)
    assert deleting.poll() is None, "kubectl must wait while a finalizer holds the object"
    devcluster.kubectl(version, "patch", "ksvc", "held", "-n", ns, "--type", "json",
                       "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
    out, _ = deleting.communicate(timeout=30)
    assert deleting.returncode == 0 and 'service.serving.knative.dev "held" deleted' in out
    code, _, _ = devcluster.request("GET", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services/held")
    assert code == 404


@BOTH
def test_14_watch_and_wait(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    env = {"KUBECONFIG": str(devcluster.kubeconfig), "KUBECACHEDIR": tempfile.mkdtemp()}
    # -v=6 logs each request kubectl makes (to stderr; what it prints stays as it is).
    watcher = subprocess.Popen([kubectl_binary(version), "get", "ksvc", "-n", ns, "-w", "--output-watch-events",
                                "-v=6"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda pipe=pipe, into=into: into.extend(pipe), daemon=True)
               for pipe, into in ((watcher.stdout, out), (watcher.stderr, err))]
    for reader in readers:
        reader.start()
    try:
        # Its watch was answered (from its list's resourceVersion): nothing written from now on can be missed.
        wait_for(lambda: any("watch=true" in line and "200 OK" in line for line in err), message="kubectl's watch")
        devcluster.kubectl(version, "apply", "-f", _write(ksvc_manifest("watched", ns), tmp_path))
        waited = devcluster.kubectl(version, "wait", "--for=condition=Ready", "ksvc/watched", "-n", ns,
                                    "--timeout=30s")
        assert waited.stdout.strip() == "service.serving.knative.dev/watched condition met"
        devcluster.kubectl(version, "delete", "ksvc", "watched", "-n", ns)
        wait_for(lambda: any(line.startswith("DELETED") for line in out), message="the DELETED event")
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=10)
    events = [line.split()[0] for line in out[1:] if line.split()]
    assert out[0].split()[:2] == ["EVENT", "NAME"]
    assert events[0] == "ADDED" and "MODIFIED" in events and events[-1] == "DELETED", out
    assert any("True" in line.split() for line in out if line.startswith("MODIFIED")), out


@BOTH
def test_15_namespaces(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    name = f"ns-{uuid.uuid4().hex[:6]}"
    ns_file = _write({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, tmp_path)
    assert devcluster.kubectl(version, "apply", "-f", ns_file).stdout.strip() == f"namespace/{name} created"
    assert devcluster.kubectl(version, "apply", "-f", ns_file).stdout.strip() == f"namespace/{name} unchanged"
    labelled = _write({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"a": "b"}}},
                      tmp_path)
    assert devcluster.kubectl(version, "apply", "-f", labelled).stdout.strip() == f"namespace/{name} configured"
    rows = devcluster.kubectl(version, "get", "ns").stdout.splitlines()
    assert rows[0].split() == ["NAME", "STATUS", "AGE"]
    assert any(r.split()[:2] == [name, "Active"] for r in rows)
    devcluster.kubectl(version, "apply", "-f", _write(ksvc_manifest("inside", name), tmp_path))
    assert devcluster.kubectl(version, "delete", "ns", name).stdout.strip() == f'namespace "{name}" deleted'
    code, _, _ = devcluster.request("GET", f"/api/v1/namespaces/{name}")
    assert code == 404
    assert devcluster.get(f"/apis/serving.knative.dev/v1/namespaces/{name}/services")["items"] == []
    forbidden = devcluster.kubectl(version, "delete", "ns", "default", check=False)
    assert forbidden.returncode == 1
    assert 'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted' \
        in forbidden.stderr
    missing = devcluster.kubectl(version, "apply", "-f", _write(ksvc_manifest("x", "no-such-ns"), tmp_path),
                                 check=False)
    assert missing.returncode == 1 and 'namespaces "no-such-ns" not found' in missing.stderr
    created = f"pb-{uuid.uuid4().hex[:6]}"
    assert devcluster.kubectl(version, "create", "namespace", created).stdout.strip() == f"namespace/{created} created"
    assert devcluster.get(f"/api/v1/namespaces/{created}")["status"]["phase"] == "Active"


@BOTH
def test_16_pods_deployments_and_logs(devcluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    ns = _ns(devcluster)
    devcluster.kubectl(version, "apply", "-f", _write(ksvc_manifest("wl", ns, env={"TARGET": "logs"}), tmp_path))
    _ready(devcluster, ns, "wl")
    out = devcluster.kubectl(version, "get", "pods,deploy,svc", "-n", ns).stdout
    assert out.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], out
    pod_row = next(line.split() for line in out.splitlines() if line.startswith("pod/wl-00001-deployment-"))
    assert pod_row[1:4] == ["2/2", "Running", "0"], pod_row
    assert any(line.split()[:2] == ["deployment.apps/wl-00001-deployment", "1/1"] for line in out.splitlines()), out
    services = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("service/")}
    assert services == {"service/wl": "ExternalName", "service/wl-00001": "ClusterIP",
                        "service/wl-00001-private": "ClusterIP"}, out
    everything = devcluster.kubectl(version, "get", "all", "-n", ns).stdout
    for kind in ("pod/wl-00001-deployment-", "service/wl-00001", "deployment.apps/wl-00001-deployment",
                 "replicaset.apps/wl-00001-deployment-", "revision.serving.knative.dev/wl-00001"):
        assert kind in everything, everything
    pod = pod_row[0].removeprefix("pod/")
    described = devcluster.kubectl(version, "describe", "pod", pod, "-n", ns).stdout
    for text in (f"Name:             {pod}", "Node:             devcluster/10.0.0.2", "Status:           Running",
                 f"Controlled By:  ReplicaSet/{pod.rsplit('-', 1)[0]}", "user-container:", "queue-proxy:",
                 "Successfully assigned", "Started container user-container"):
        assert text in described, (text, described)
    logs = devcluster.kubectl(version, "logs", pod, "-c", "user-container", "-n", ns).stdout.splitlines()
    assert logs[0].endswith("helloworld: starting server...") and logs[1].endswith("helloworld: listening on port 8080")
    refused = devcluster.kubectl(version, "logs", pod, "-c", "nope", "-n", ns, check=False)
    assert refused.returncode == 1 and f"container nope is not valid for pod {pod}" in refused.stderr

    # -f follows: a request through the gateway shows up as the sample's line.
    env = {"KUBECONFIG": str(devcluster.kubeconfig), "KUBECACHEDIR": tempfile.mkdtemp()}
    follower = subprocess.Popen([kubectl_binary(version), "logs", "-f", pod, "-c", "user-container", "-n", ns],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline().endswith("helloworld: starting server...\n")
        with httpx.Client(base_url=devcluster.gateway_url, trust_env=False, timeout=10) as gateway:
            assert gateway.get("/", headers={"Host": f"wl.{ns}.example.com"}).text == "Hello logs!\n"
        line = ""
        while "received a request" not in line:
            line = follower.stdout.readline()
            assert line, follower.stderr.read() if follower.stderr else ""
    finally:
        follower.terminate()
        follower.communicate(timeout=10)


@BOTH
def test_17_a_deployment_of_ones_own(devcluster: DevClusterProcess, version: str) -> None:
    """A Deployment no revision made (`kubectl create deployment`, which 1.33 sends as protobuf) gets its ReplicaSet
    and running pods, rolls a new template out, and goes with them; Knative's controllers carry on beside it."""
    ns = _ns(devcluster)
    devcluster.kubectl(version, "create", "deployment", "web", "--image=ghcr.io/example/web:1", "--replicas=2",
                       "--port=8080", "-n", ns)
    rolled = devcluster.kubectl(version, "rollout", "status", "deployment/web", "-n", ns, "--timeout=20s").stdout
    assert 'deployment "web" successfully rolled out' in rolled, rolled
    stored = devcluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert stored["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "ghcr.io/example/web:1", "ports": [{"containerPort": 8080}], "resources": {}}]
    pods = devcluster.kubectl(version, "get", "pods", "-l", "app=web", "-n", ns, "-o", "json").stdout
    phases = [(p["status"]["phase"], p["spec"]["nodeName"]) for p in json.loads(pods)["items"]]
    assert phases == [("Running", "devcluster")] * 2, phases

    devcluster.kubectl(version, "set", "image", "deployment/web", "web=ghcr.io/example/web:2", "-n", ns)

    def rolled_over() -> list[tuple[str, int]] | None:
        sets = devcluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"]
        shape = sorted((s["spec"]["template"]["spec"]["containers"][0]["image"], s["spec"]["replicas"]) for s in sets)
        ready = all(s.get("status", {}).get("readyReplicas", 0) == s["spec"]["replicas"] for s in sets)
        return shape if ready and shape == [("ghcr.io/example/web:1", 0), ("ghcr.io/example/web:2", 2)] else None

    wait_for(rolled_over, timeout=20, message="the new template's ReplicaSet takes over")
    devcluster.kubectl(version, "delete", "deployment", "web", "-n", ns)
    wait_for(lambda: not devcluster.get(f"/api/v1/namespaces/{ns}/pods")["items"], timeout=20,
             message="its pods go with it")
    assert devcluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"] == []
    devcluster.kubectl(version, "apply", "-f", "-", input=json.dumps(ksvc_manifest("after", ns)))
    _ready(devcluster, ns, "after")


@BOTH
def test_18_create_quota(devcluster: DevClusterProcess, version: str) -> None:
    """`kubectl create quota`, which sends a protobuf body (a walkthrough's first command got a 415): stored as sent,
    counted by the quota controller, shown by `kubectl describe`."""
    ns = _ns(devcluster)
    devcluster.kubectl(version, "create", "quota", "small", "--hard=requests.cpu=100m,pods=3", "-n", ns)
    devcluster.kubectl(version, "create", "quota", "scoped", "--hard=pods=5", "--scopes=BestEffort", "-n", ns)
    stored = devcluster.get(f"/api/v1/namespaces/{ns}/resourcequotas/small")
    assert stored["spec"] == {"hard": {"pods": "3", "requests.cpu": "100m"}}, stored["spec"]
    assert devcluster.get(f"/api/v1/namespaces/{ns}/resourcequotas/scoped")["spec"] == {
        "hard": {"pods": "5"}, "scopes": ["BestEffort"]}
    wait_for(lambda: "used" in (devcluster.get(f"/api/v1/namespaces/{ns}/resourcequotas/small").get("status") or {}),
             message="the quota counted")
    described = devcluster.kubectl(version, "describe", "quota", "small", "-n", ns).stdout
    assert re.search(r"requests\.cpu\s+0\s+100m", described), described
