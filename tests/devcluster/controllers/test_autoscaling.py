"""The dev cluster's autoscaler on the concurrency its gateway sees, with config-autoscaler at Knative's smallest
settings (the session's: a 6 s stable window, a 1 s grace period): replicas between min-scale and max-scale, an idle
revision marked inactive (NoTraffic) and scaled to zero, a request that brings it back (a cold start through the
gateway), and initial-scale."""

from __future__ import annotations

import threading
import time

import httpx

from tests.support import DevClusterProcess, ksvc_manifest, wait_for

SERVING = "/apis/serving.knative.dev/v1/namespaces/{ns}/{plural}"


def _revision(cluster: DevClusterProcess, ns: str, name: str) -> dict:
    """The revision, or an empty one while it does not exist yet."""
    code, _, revision = cluster.request("GET", SERVING.format(ns=ns, plural="revisions") + f"/{name}")
    assert code in (200, 404), revision
    revision = revision if code == 200 else {"metadata": {}}
    revision.setdefault("status", {})
    return revision


def _active(revision: dict) -> dict:
    return next((c for c in revision["status"].get("conditions", []) if c["type"] == "Active"), {})


def _pods(cluster: DevClusterProcess, ns: str, revision: str) -> list[dict]:
    return cluster.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=serving.knative.dev/revision%3D{revision}")["items"]


def _create(cluster: DevClusterProcess, ns: str, name: str, annotations: dict[str, str]) -> None:
    manifest = ksvc_manifest(name, ns, env={"TARGET": name})
    manifest["spec"]["template"]["metadata"] = {"annotations": annotations}
    code, _, body = cluster.request("POST", SERVING.format(ns=ns, plural="services"), manifest)
    assert code == 201, body


def test_an_idle_revision_goes_to_zero_and_a_request_brings_it_back(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("a")
    _create(devcluster, ns, "idle", {})
    # Meanwhile, a revision with min-scale that no route sends traffic to any more: it goes to zero too (Knative's
    # KPA ignores min-scale for an unreachable revision), while its successor keeps its minimum.
    _create(devcluster, ns, "kept", {"autoscaling.knative.dev/min-scale": "1"})
    wait_for(lambda: _revision(devcluster, ns, "kept-00001")["status"].get("actualReplicas") == 1, message="kept")
    code, _, body = devcluster.request(
        "PATCH", SERVING.format(ns=ns, plural="services") + "/kept",
        {"spec": {"template": {"metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1", "v": "2"}}}}},
        content_type="application/merge-patch+json")
    assert code == 200, body
    wait_for(lambda: _revision(devcluster, ns, "idle-00001")["status"].get("actualReplicas") == 1, message="one pod")
    # No request for the stable window: inactive, its pod kept for the grace period, then gone.
    idle = wait_for(lambda: (r := _revision(devcluster, ns, "idle-00001")) and _active(r).get("status") == "False"
                    and r, timeout=20, message="inactive")
    assert (_active(idle)["reason"], _active(idle)["message"], _active(idle)["severity"]) == \
        ("NoTraffic", "The target is not receiving traffic.", "Info")
    gone = wait_for(lambda: (r := _revision(devcluster, ns, "idle-00001")) and r["status"]["actualReplicas"] == 0
                    and not _pods(devcluster, ns, "idle-00001") and r, timeout=20, message="scaled to zero")
    assert gone["status"]["desiredReplicas"] == 0
    assert next(c for c in gone["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
    deployment = devcluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/idle-00001-deployment")
    assert deployment["spec"]["replicas"] == 0
    reserve = wait_for(lambda: (r := _revision(devcluster, ns, "kept-00001")) and r["status"]["actualReplicas"] == 0
                       and r, timeout=10, message="the unrouted revision at zero, min-scale or not")
    assert reserve["metadata"]["labels"]["serving.knative.dev/routingState"] == "reserve"
    assert (_active(reserve)["status"], _active(reserve)["reason"]) == ("False", "NoTraffic")
    assert next(c for c in reserve["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
    assert _revision(devcluster, ns, "kept-00002")["status"]["actualReplicas"] == 1  # its minimum, while routed

    # The next request waits while an instance starts (the session's cold start is 0.2 s), then answers.
    with httpx.Client(base_url=devcluster.gateway_url, trust_env=False, timeout=30) as gateway:
        started = time.monotonic()
        response = gateway.get("/", headers={"Host": f"idle.{ns}.example.com"})
        waited = time.monotonic() - started
    assert (response.status_code, response.text) == (200, "Hello idle!\n")
    assert waited >= 0.2, waited
    back = wait_for(lambda: (r := _revision(devcluster, ns, "idle-00001")) and _active(r).get("status") == "True"
                    and r["status"]["actualReplicas"] == 1 and r, message="active again")
    assert back["status"]["desiredReplicas"] == 1
    [pod] = _pods(devcluster, ns, "idle-00001")
    code, _, log = devcluster.request("GET", f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}/log"
                                             "?container=user-container")
    assert code == 200 and log.endswith("helloworld: received a request\n"), log


def test_replicas_follow_concurrency_within_min_and_max(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("a")
    # A target of 0.01 concurrent requests per instance: a steady trickle of requests asks for many instances.
    _create(devcluster, ns, "busy", {"autoscaling.knative.dev/target": "0.01",
                                     "autoscaling.knative.dev/target-utilization-percentage": "100",
                                     "autoscaling.knative.dev/min-scale": "2", "autoscaling.knative.dev/max-scale": "3"})
    first = wait_for(lambda: (r := _revision(devcluster, ns, "busy-00001")) and r["status"].get("actualReplicas") == 2
                     and r, message="min-scale instances")
    assert first["status"]["desiredReplicas"] == 2
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=devcluster.gateway_url, trust_env=False, timeout=10) as gateway:
            while not stop.is_set():
                gateway.get("/", headers={"Host": f"busy.{ns}.example.com"})

    worker = threading.Thread(target=load)
    worker.start()
    try:
        busy = wait_for(lambda: (r := _revision(devcluster, ns, "busy-00001")) and
                        r["status"].get("desiredReplicas") == 3 and r["status"].get("actualReplicas") == 3 and r,
                        timeout=20, message="max-scale instances under load")
    finally:
        stop.set()
        worker.join()
    assert len(_pods(devcluster, ns, "busy-00001")) == 3
    assert busy["status"]["desiredReplicas"] == 3  # bounded by max-scale, whatever the load asks for
    # Idle again: back to min-scale, never below it while routed.
    wait_for(lambda: _revision(devcluster, ns, "busy-00001")["status"].get("actualReplicas") == 2, timeout=25,
             message="back to min-scale")
    time.sleep(1.5)
    assert _revision(devcluster, ns, "busy-00001")["status"]["desiredReplicas"] == 2


def test_initial_scale_starts_that_many(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("a")
    _create(devcluster, ns, "wide", {"autoscaling.knative.dev/initial-scale": "2"})
    revision = wait_for(lambda: (r := _revision(devcluster, ns, "wide-00001")) and
                        next((c["status"] for c in r["status"].get("conditions", []) if c["type"] == "Ready"), "")
                        == "True" and r, message="Ready")
    assert revision["status"]["actualReplicas"] == 2
    deployment = devcluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/wide-00001-deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["metadata"]["labels"]["serving.knative.dev/revision"] == "wide-00001"
    assert deployment["spec"]["selector"] == {"matchLabels": {
        "serving.knative.dev/revisionUID": revision["metadata"]["uid"]}}
    assert [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]] == ["user-container",
                                                                                         "queue-proxy"]
    for pod in _pods(devcluster, ns, "wide-00001"):
        replicaset = pod["metadata"]["ownerReferences"][0]["name"]
        assert replicaset.startswith("wide-00001-deployment-")
        assert pod["metadata"]["name"].startswith(replicaset + "-") and len(pod["metadata"]["name"]) == \
            len(replicaset) + 6
        assert pod["metadata"]["labels"]["pod-template-hash"] == replicaset.rsplit("-", 1)[1]
