"""The dev cluster's node and scheduler, through its real API and kubectl, on a small node (1 cpu, 1Gi, 4 pods): a pod
that fits is bound to `devcluster`; one that does not stays Pending with PodScheduled False, reason Unschedulable, and
the scheduler's message (pkg/scheduler/framework/types.go FitError.Error, plugins/noderesources/fit.go's reasons, the
preemption plugin's PostFilter message), with a Warning FailedScheduling Event from default-scheduler; it is bound once
room frees up. Knative propagates the first pod's reason and message to the Revision's ResourcesAvailable
(reconcile_resources.go), and so to Ready, the Configuration and the Service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import KUBECTL_VERSIONS, DevClusterProcess, ksvc_manifest, start_cluster, wait_for

MIN_SCALE = "autoscaling.knative.dev/min-scale"
CPU = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims " \
      "found for incoming pod."
PODS = "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims " \
       "found for incoming pod."


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterProcess]:
    cluster = start_cluster(Path(tmp_path_factory.mktemp("small-node")), "--revision-start-delay", "0.1",
                            "--node-cpu", "1", "--node-memory", "1Gi", "--node-pods", "4")
    yield cluster
    assert cluster.stop() == 0, cluster.log()[-4000:]


def _pod(ns: str, name: str, cpu: str = "", memory: str = "") -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container = {"name": "app", "image": "ghcr.io/knative/helloworld-go:latest",
                 **({"resources": {"requests": requests}} if requests else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [container]}}


def _create(cluster: DevClusterProcess, ns: str, pod: dict) -> None:
    code, _, answer = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", pod)
    assert code == 201, answer


def _get_pod(cluster: DevClusterProcess, ns: str, name: str) -> dict:
    return cluster.get(f"/api/v1/namespaces/{ns}/pods/{name}")


def _scheduled(pod: dict) -> dict:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c["type"] == "PodScheduled"), {})


def _wait_bound(cluster: DevClusterProcess, ns: str, name: str) -> dict:
    return wait_for(lambda: (pod := _get_pod(cluster, ns, name))["spec"].get("nodeName") == "devcluster" and pod,
                    message=f"{name} bound")


def _wait_unschedulable(cluster: DevClusterProcess, ns: str, name: str) -> dict:
    return wait_for(lambda: _scheduled(pod := _get_pod(cluster, ns, name)).get("reason") == "Unschedulable" and pod,
                    message=f"{name} Unschedulable")


def _events(cluster: DevClusterProcess, ns: str, name: str, reason: str) -> list[dict]:
    return [e for e in cluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
            if e["involvedObject"]["name"] == name and e["reason"] == reason]


def test_the_node_is_read_as_a_real_one(small: DevClusterProcess) -> None:
    node = small.get("/api/v1/nodes/devcluster")
    assert node["status"]["allocatable"]["cpu"] == "1"
    assert node["status"]["allocatable"]["memory"] == "1Gi"
    assert node["status"]["allocatable"]["pods"] == "4"
    assert node["status"]["capacity"]["pods"] == "4"
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == \
        ("True", "KubeletReady", "kubelet is posting ready status")
    assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.")
    names = [n["metadata"]["name"] for n in small.get("/api/v1/nodes")["items"]]
    assert names == ["devcluster"]


def test_users_cannot_change_the_node(small: DevClusterProcess) -> None:
    code, _, _ = small.request("DELETE", "/api/v1/nodes/devcluster")
    assert code == 405
    assert small.get("/api/v1/nodes/devcluster")["metadata"]["name"] == "devcluster"


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_kubectl_gets_and_describes_the_node(small: DevClusterProcess, version: str) -> None:
    table = small.kubectl(version, "get", "nodes").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert table[1].split()[:3] == ["devcluster", "Ready", "control-plane"]
    wide = small.kubectl(version, "get", "nodes", "-o", "wide").stdout
    assert "INTERNAL-IP" in wide and "10.0.0.2" in wide
    described = small.kubectl(version, "describe", "node", "devcluster").stdout
    assert "Allocatable:" in described and "pods:" in described
    assert "KubeletReady" in described
    got = json.loads(small.kubectl(version, "get", "node", "devcluster", "-o", "json").stdout)
    assert got["status"]["allocatable"]["pods"] == "4"


def test_a_pod_that_does_not_fit_stays_pending_until_room_frees(small: DevClusterProcess) -> None:
    ns = small.new_namespace("fit")
    _create(small, ns, _pod(ns, "big", cpu="700m"))
    _wait_bound(small, ns, "big")
    node = small.kubectl(KUBECTL_VERSIONS[-1], "describe", "node", "devcluster").stdout
    assert "Non-terminated Pods:          (1 in total)" in node and " big " in node
    assert "cpu                700m (70%)" in node  # kubectl adds up the requests of the pods bound to the node
    _create(small, ns, _pod(ns, "second", cpu="500m"))
    pending = _wait_unschedulable(small, ns, "second")
    assert not pending["spec"].get("nodeName")
    assert pending["status"]["phase"] == "Pending"
    condition = _scheduled(pending)
    assert (condition["status"], condition["message"]) == ("False", CPU)
    failed = wait_for(lambda: _events(small, ns, "second", "FailedScheduling"), message="FailedScheduling")
    assert failed[0]["type"] == "Warning"
    assert failed[0]["source"]["component"] == "default-scheduler"
    assert failed[0]["message"] == CPU
    assert not _events(small, ns, "second", "Scheduled")
    described = small.kubectl(KUBECTL_VERSIONS[-1], "describe", "pod", "-n", ns, "second").stdout
    assert "FailedScheduling" in described and "Insufficient cpu" in described
    # No node, no kubelet to ask: the API server answers its log with 204 No Content, and kubectl prints nothing.
    code, _, _ = small.request("GET", f"/api/v1/namespaces/{ns}/pods/second/log")
    assert code == 204
    assert small.kubectl(KUBECTL_VERSIONS[-1], "logs", "-n", ns, "second").stdout == ""

    code, _, _ = small.request("DELETE", f"/api/v1/namespaces/{ns}/pods/big")
    assert code == 200
    bound = _wait_bound(small, ns, "second")
    assert wait_for(lambda: _events(small, ns, "second", "Scheduled"), message="Scheduled")
    assert wait_for(lambda: _scheduled(_get_pod(small, ns, "second")).get("status") == "True",
                    message="PodScheduled True")
    assert bound["spec"]["nodeName"] == "devcluster"
    small.request("DELETE", f"/api/v1/namespaces/{ns}/pods/second")


def test_memory_is_counted_too(small: DevClusterProcess) -> None:
    ns = small.new_namespace("mem")
    _create(small, ns, _pod(ns, "huge", memory="2Gi"))
    pending = _wait_unschedulable(small, ns, "huge")
    assert _scheduled(pending)["message"].startswith("0/1 nodes are available: 1 Insufficient memory. preemption:")
    small.request("DELETE", f"/api/v1/namespaces/{ns}/pods/huge")


def test_a_limit_without_a_request_counts_as_the_request(small: DevClusterProcess) -> None:
    """The API server's defaulting copies a container's limit to its missing request, and the scheduler counts it."""
    ns = small.new_namespace("lim")
    pod = _pod(ns, "limited")
    pod["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "2", "memory": "64Mi"}}
    _create(small, ns, pod)
    pending = _wait_unschedulable(small, ns, "limited")
    assert pending["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "2", "memory": "64Mi"}
    assert _scheduled(pending)["message"].startswith("0/1 nodes are available: 1 Insufficient cpu. preemption:")
    small.request("DELETE", f"/api/v1/namespaces/{ns}/pods/limited")


def test_a_revision_no_node_can_run_fails_with_the_schedulers_words(small: DevClusterProcess) -> None:
    ns = small.new_namespace("ksvc")
    body = ksvc_manifest("hungry", ns)
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "2"}}
    code, _, answer = small.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services", body)
    assert code == 201, answer
    base = f"/apis/serving.knative.dev/v1/namespaces/{ns}"

    def condition(path: str, kind: str) -> dict:
        code, _, obj = small.request("GET", path)
        conditions = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []} if code == 200 else {}
        return conditions.get(kind) or {}

    available = wait_for(lambda: (c := condition(f"{base}/revisions/hungry-00001", "ResourcesAvailable"))
                         .get("status") == "False" and c, timeout=20, message="ResourcesAvailable False")
    assert available["reason"] == "Unschedulable"
    assert available["message"] == CPU
    ready = condition(f"{base}/revisions/hungry-00001", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Unschedulable")
    service = wait_for(lambda: (c := condition(f"{base}/services/hungry", "ConfigurationsReady"))
                       .get("status") == "False" and c, timeout=20, message="Service ConfigurationsReady False")
    assert CPU in service["message"]


def test_the_pod_limit_leaves_the_rest_pending(small: DevClusterProcess) -> None:
    ns = small.new_namespace("many")
    body = ksvc_manifest("many", ns)
    body["spec"]["template"]["metadata"] = {"annotations": {MIN_SCALE: "6"}}
    code, _, answer = small.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services", body)
    assert code == 201, answer

    def pods() -> list[dict]:
        return small.get(f"/api/v1/namespaces/{ns}/pods")["items"]

    # Four pods take the node (the other tests' pods are gone by now); two wait, for the pod count alone.
    settled = wait_for(lambda: len(p := pods()) == 6 and sum(1 for i in p if i["spec"].get("nodeName")) == 4 and
                       all(_scheduled(i) for i in p) and p, timeout=20, message="4 bound, 2 pending")
    waiting = [p for p in settled if not p["spec"].get("nodeName")]
    assert [_scheduled(p)["message"] for p in waiting] == [PODS, PODS]
    code, _, _ = small.request("DELETE", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services/many")
    assert code == 200
    wait_for(lambda: not pods(), timeout=20, message="the pods gone")


def _revision_conditions(cluster: DevClusterProcess, ns: str, name: str) -> dict[str, dict]:
    code, _, obj = cluster.request("GET", f"/apis/serving.knative.dev/v1/namespaces/{ns}/revisions/{name}")
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []} if code == 200 else {}


def test_a_waiting_revision_becomes_ready_once_another_frees_the_room(small: DevClusterProcess) -> None:
    ns = small.new_namespace("room")
    base = f"/apis/serving.knative.dev/v1/namespaces/{ns}/services"
    for name, cpu in (("first", "800m"), ("second", "500m")):
        body = ksvc_manifest(name, ns)
        body["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": cpu}}
        body["spec"]["template"]["metadata"] = {"annotations": {MIN_SCALE: "1"}}
        code, _, answer = small.request("POST", base, body)
        assert code == 201, answer
        if name == "first":
            wait_for(lambda: _revision_conditions(small, ns, "first-00001").get("Ready", {}).get("status") == "True",
                     timeout=20, message="first Ready")
    failed = wait_for(lambda: (c := _revision_conditions(small, ns, "second-00001").get("Ready", {})).get(
        "reason") == "Unschedulable" and c, timeout=20, message="second Unschedulable")
    assert failed["status"] == "False"
    code, _, _ = small.request("DELETE", f"{base}/first")
    assert code == 200
    # Its pods go with it (garbage collection); the waiting pod is bound, starts, and the revision recovers.
    wait_for(lambda: _revision_conditions(small, ns, "second-00001").get("Ready", {}).get("status") == "True",
             timeout=30, message="second Ready once first is gone")
    small.request("DELETE", f"{base}/second")
    wait_for(lambda: not small.get(f"/api/v1/namespaces/{ns}/pods")["items"], timeout=20, message="no pods")


def test_the_autoscaler_giving_up_takes_over_from_unschedulable(tmp_path: Path) -> None:
    """After config-deployment's progress deadline and the activation buffer, Knative's autoscaler scales a revision
    that never reached its initial scale to zero (revision_lifecycle.go PropagateAutoscalerStatus): with no pod left,
    the Unschedulable pod no longer speaks for it, and its message becomes "Initial scale was never achieved"."""
    cluster = start_cluster(tmp_path / "gives-up", "--revision-start-delay", "0.1", "--node-cpu", "1",
                            "--activation-timeout-buffer", "1")
    try:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config-deployment"},
                "data": {"progress-deadline": "2s"}}
        code, _, answer = cluster.request("POST", "/api/v1/namespaces/knative-serving/configmaps", body)
        assert code == 201, answer
        ns = cluster.new_namespace("late")
        manifest = ksvc_manifest("hungry", ns)
        manifest["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "2"}}
        code, _, answer = cluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services", manifest)
        assert code == 201, answer
        first = wait_for(lambda: (c := _revision_conditions(cluster, ns, "hungry-00001").get("ResourcesAvailable",
                                                                                               {})).get("reason") ==
                         "Unschedulable" and c, timeout=20, message="Unschedulable")
        assert first["message"] == CPU
        later = wait_for(lambda: (c := _revision_conditions(cluster, ns, "hungry-00001").get("ResourcesAvailable",
                                                                                               {})).get("message") ==
                         "Initial scale was never achieved" and c, timeout=30, message="the autoscaler gave up")
        assert (later["status"], later["reason"]) == ("False", "ProgressDeadlineExceeded")
        wait_for(lambda: not cluster.get(f"/api/v1/namespaces/{ns}/pods")["items"], timeout=15, message="no pods")
    finally:
        assert cluster.stop() == 0


def test_a_pod_that_still_does_not_fit_is_told_why_again_when_room_frees(small: DevClusterProcess) -> None:
    """A pod too big for the node's CPU, first refused while the node was also full of pods: once a pod goes, the
    scheduler tries it again, and its condition and a FailedScheduling say only what is still short (found by a
    walkthrough: "Insufficient cpu, Too many pods" stayed after the node had room for pods)."""
    ns = small.new_namespace("again")
    fillers = [f"fill-{index}" for index in range(4)]
    for name in fillers:
        _create(small, ns, _pod(ns, name))
    for name in fillers:
        _wait_bound(small, ns, name)
    _create(small, ns, _pod(ns, "huge", cpu="3"))
    both = "0/1 nodes are available: 1 Insufficient cpu, 1 Too many pods. preemption: 0/1 nodes are available: 1 " \
           "No preemption victims found for incoming pod."
    assert _scheduled(_wait_unschedulable(small, ns, "huge"))["message"] == both
    code, _, body = small.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{fillers[0]}")
    assert code == 200, body
    wait_for(lambda: _scheduled(_get_pod(small, ns, "huge")).get("message") == CPU, message="the message brought up "
             "to date")
    said = wait_for(lambda: [e["message"] for e in _events(small, ns, "huge", "FailedScheduling")
                             if e["message"] == CPU], message="a FailedScheduling for what is still short")
    assert said == [CPU]
    assert not _get_pod(small, ns, "huge")["spec"].get("nodeName")
    for name in fillers[1:]:
        small.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}")
    small.request("DELETE", f"/api/v1/namespaces/{ns}/pods/huge")
