"""A revision that never becomes ready, on the dev cluster, as Knative and Kubernetes report it: an image
`devcluster-system/images` lists under `unready` runs, but never passes the readiness probe queue-proxy runs for it
(knative/serving deploy.go moves a tcpSocket or httpGet readiness probe from the user's container to queue-proxy), so
the kubelet's probe of queue-proxy fails (pkg/kubelet/prober/prober.go, pkg/probe/http/http.go: a 503 from
queue-proxy's health_state.go); once the Deployment's progressDeadlineSeconds pass without progress, its Progressing
condition goes False with ProgressDeadlineExceeded (pkg/controller/deployment/progress.go), which Knative propagates to
the Revision (revision_lifecycle.go PropagateDeploymentStatus), the Configuration and the Service."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import DevClusterProcess, ksvc_manifest, start_cluster, wait_for

SERVING = "/apis/serving.knative.dev/v1/namespaces/{ns}/{plural}/{name}"
IMAGES = "/api/v1/namespaces/devcluster-system/configmaps/images"
CONFIG_DEPLOYMENT = "/api/v1/namespaces/knative-serving/configmaps"
DEADLINE = "serving.knative.dev/progress-deadline"
PROBE_FAILED = "Readiness probe failed: HTTP probe failed with statuscode: 503"


@pytest.fixture
def unready(devcluster: DevClusterProcess) -> Iterator[str]:
    """A namespace whose `ghcr.io/<namespace>/never-ready:*` images are listed as unready, the list put back after."""
    ns = devcluster.new_namespace("u")
    with devcluster.images("unready", f"ghcr.io/{ns}/never-ready:*\n"):
        yield ns


def _create(cluster: DevClusterProcess, ns: str, name: str, image: str, deadline: str = "") -> None:
    body = ksvc_manifest(name, ns, image=image)
    if deadline:
        body["spec"]["template"]["metadata"] = {"annotations": {DEADLINE: deadline}}
    code, _, answer = cluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services", body)
    assert code == 201, answer


def _conditions(obj: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def _get(cluster: DevClusterProcess, path: str) -> dict | None:
    code, _, obj = cluster.request("GET", path)
    return obj if code == 200 else None


def _condition(cluster: DevClusterProcess, path: str, kind: str, status: str, reason: str = "") -> dict:
    return wait_for(lambda: (obj := _get(cluster, path)) and
                    _conditions(obj).get(kind, {}).get("status") == status and
                    (not reason or _conditions(obj)[kind].get("reason") == reason) and obj,
                    timeout=20, message=f"{path} {kind}={status} {reason}")


def _unhealthy(cluster: DevClusterProcess, ns: str, pod: str) -> list[dict]:
    return [e for e in cluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
            if e["involvedObject"]["name"] == pod and e["reason"] == "Unhealthy"]


def test_an_unready_image_runs_but_queue_proxy_never_becomes_ready(devcluster: DevClusterProcess,
                                                                   unready: str) -> None:
    ns = unready
    _create(devcluster, ns, "slow", f"ghcr.io/{ns}/never-ready:v1", deadline="600s")

    def running() -> dict | None:
        pods = devcluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]
        states = {s["name"]: s for p in pods for s in p["status"].get("containerStatuses") or []}
        return pods[0] if states and all("running" in s["state"] for s in states.values()) else None

    pod = wait_for(running, timeout=15, message="both containers running")
    states = {s["name"]: s for s in pod["status"]["containerStatuses"]}
    # The user's container has no readiness probe left for the kubelet (deploy.go moves it to queue-proxy): it is
    # ready once it runs; queue-proxy, whose probe goes through to the user's container, is not.
    assert states["user-container"]["ready"] is True and states["user-container"]["restartCount"] == 0
    assert states["queue-proxy"]["ready"] is False
    pod_conditions = _conditions(pod)
    for kind in ("Ready", "ContainersReady"):
        assert (pod_conditions[kind]["status"], pod_conditions[kind]["reason"], pod_conditions[kind]["message"]) == \
            ("False", "ContainersNotReady", "containers with unready status: [queue-proxy]")
    assert pod["status"]["phase"] == "Running"

    # The kubelet's probe of queue-proxy fails each period: one Event about queue-proxy, its count raised.
    name = pod["metadata"]["name"]
    events = wait_for(lambda: (found := _unhealthy(devcluster, ns, name)) and found[0]["count"] >= 3 and found,
                      timeout=15, message="Unhealthy seen three times")
    assert len(events) == 1
    [event] = events
    assert (event["type"], event["message"], event["source"]["component"], event["involvedObject"]["fieldPath"]) == \
        ("Warning", PROBE_FAILED, "kubelet", "spec.containers{queue-proxy}")
    assert event["lastTimestamp"] >= event["firstTimestamp"]

    # Before its progress deadline the revision is still deploying: Knative says nothing more.
    revision = _get(devcluster, SERVING.format(ns=ns, plural="revisions", name="slow-00001"))
    assert revision is not None
    conds = _conditions(revision)
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("Unknown", "Deploying")
    assert (conds["ResourcesAvailable"]["status"], conds["ResourcesAvailable"]["reason"]) == ("Unknown", "Deploying")
    assert revision["status"]["actualReplicas"] == 0
    deployment = devcluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/slow-00001-deployment")
    assert deployment["spec"]["progressDeadlineSeconds"] == 600
    progressing = _conditions(deployment)["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("True", "ReplicaSetUpdated")

    # The app's own words say why, where `kubectl logs` finds them.
    code, _, text = devcluster.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}/log?container=user-container")
    assert code == 200 and "helloworld: starting server..." in text and "not listening on port 8080" in text, text
    assert "listening on port 8080\n" not in text.replace("not listening on port 8080", "")


def test_the_progress_deadline_fails_the_revision_the_configuration_and_the_service(devcluster: DevClusterProcess,
                                                                                   unready: str) -> None:
    ns = unready
    _create(devcluster, ns, "stuck", f"ghcr.io/{ns}/never-ready:v1", deadline="3s")
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/stuck-00001-deployment"
    deployment = _condition(devcluster, path, "Progressing", "False", "ProgressDeadlineExceeded")
    assert deployment["spec"]["progressDeadlineSeconds"] == 3
    [replicaset] = devcluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"]
    message = f'ReplicaSet "{replicaset["metadata"]["name"]}" has timed out progressing.'
    assert _conditions(deployment)["Progressing"]["message"] == message
    assert (_conditions(deployment)["Available"]["status"], _conditions(deployment)["Available"]["reason"]) == \
        ("False", "MinimumReplicasUnavailable")

    revision = _condition(devcluster, SERVING.format(ns=ns, plural="revisions", name="stuck-00001"), "Ready", "False")
    conds = _conditions(revision)
    assert (conds["ResourcesAvailable"]["status"], conds["ResourcesAvailable"]["reason"],
            conds["ResourcesAvailable"]["message"]) == ("False", "ProgressDeadlineExceeded", message)
    assert (conds["Ready"]["reason"], conds["Ready"]["message"]) == ("ProgressDeadlineExceeded", message)
    assert (conds["ContainerHealthy"]["status"], conds["ContainerHealthy"]["reason"]) == ("Unknown", "Deploying")

    failed = f'Revision "stuck-00001" failed with message: {message}.'
    configuration = _condition(devcluster, SERVING.format(ns=ns, plural="configurations", name="stuck"), "Ready",
                               "False")
    assert (_conditions(configuration)["Ready"]["reason"], _conditions(configuration)["Ready"]["message"]) == \
        ("RevisionFailed", failed)
    service = _condition(devcluster, SERVING.format(ns=ns, plural="services", name="stuck"), "ConfigurationsReady",
                         "False")
    assert _conditions(service)["ConfigurationsReady"]["message"] == failed
    service = _condition(devcluster, SERVING.format(ns=ns, plural="services", name="stuck"), "Ready", "False")
    events = {(e["involvedObject"]["kind"], e["reason"], e["message"])
              for e in devcluster.get(f"/api/v1/namespaces/{ns}/events")["items"]}
    assert ("Configuration", "LatestCreatedFailed", 'Latest created revision "stuck-00001" has failed') in events


def test_config_deployment_sets_the_progress_deadline_of_revisions_without_one(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("u")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config-deployment"},
            "data": {"progress-deadline": "45s"}}
    code, _, answer = devcluster.request("POST", CONFIG_DEPLOYMENT, body)
    assert code == 201, answer
    try:
        _create(devcluster, ns, "configured", "ghcr.io/knative/helloworld-go:latest")
        _create(devcluster, ns, "annotated", "ghcr.io/knative/helloworld-go:latest", deadline="20s")
        def deadlines() -> dict[str, int] | None:
            found = {d["metadata"]["name"]: d["spec"]["progressDeadlineSeconds"]
                     for d in devcluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]}
            return found if len(found) == 2 else None

        assert wait_for(deadlines, timeout=15, message="both Deployments") == \
            {"configured-00001-deployment": 45, "annotated-00001-deployment": 20}
        # A ready revision's Deployment completes as before: the deadline never comes into it.
        deployment = _condition(devcluster, f"/apis/apps/v1/namespaces/{ns}/deployments/configured-00001-deployment",
                                "Progressing", "True", "NewReplicaSetAvailable")
        assert _conditions(deployment)["Available"]["status"] == "True"
    finally:
        code, _, answer = devcluster.request("DELETE", f"{CONFIG_DEPLOYMENT}/config-deployment")
        assert code == 200, answer


def test_knatives_autoscaler_scales_a_revision_that_never_activates_to_zero(tmp_path: Path) -> None:
    """kpa/scaler.go: a revision still activating config-deployment's progress deadline and 30 s (activationTimeoutBuffer)
    after it began is scaled to zero; its PodAutoscaler goes inactive, TimedOut (kpa.go), and the revision says
    "Initial scale was never achieved" (revision_lifecycle.go PropagateAutoscalerStatus), its Deployment complete at
    zero replicas. On a dev cluster of its own whose buffer is 1 s (`--activation-timeout-buffer`), not to wait 30 s."""
    devcluster = start_cluster(tmp_path / "devcluster", "--activation-timeout-buffer", "1")
    try:
        _never_activates(devcluster)
    finally:
        devcluster.stop()


def _never_activates(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("u")
    code, _, answer = devcluster.request("PATCH", IMAGES, {"data": {"unready": f"ghcr.io/{ns}/never-ready:*\n"}},
                                         content_type="application/merge-patch+json")
    assert code == 200, answer
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config-deployment"},
            "data": {"progress-deadline": "1s"}}
    code, _, answer = devcluster.request("POST", CONFIG_DEPLOYMENT, body)
    assert code == 201, answer
    started = time.monotonic()
    _create(devcluster, ns, "gives-up", f"ghcr.io/{ns}/never-ready:v1")
    path = SERVING.format(ns=ns, plural="revisions", name="gives-up-00001")
    first = _condition(devcluster, path, "ResourcesAvailable", "False", "ProgressDeadlineExceeded")
    assert _conditions(first)["ResourcesAvailable"]["message"].endswith("has timed out progressing.")
    revision = wait_for(lambda: (obj := _get(devcluster, path)) and
                        _conditions(obj).get("Active", {}).get("reason") == "TimedOut" and obj,
                        timeout=45, message="the autoscaler's TimedOut")
    # Not before the progress deadline and the buffer (1 s + 1 s) have passed.
    assert time.monotonic() - started >= 2.0
    conds = _conditions(revision)
    assert (conds["Active"]["status"], conds["Active"]["message"]) == ("False", "The target could not be activated.")
    for kind in ("ResourcesAvailable", "Ready"):
        assert (conds[kind]["status"], conds[kind]["reason"], conds[kind]["message"]) == \
            ("False", "ProgressDeadlineExceeded", "Initial scale was never achieved")
    assert revision["status"]["desiredReplicas"] == 0
    deployment = _condition(devcluster, f"/apis/apps/v1/namespaces/{ns}/deployments/gives-up-00001-deployment",
                            "Progressing", "True", "NewReplicaSetAvailable")
    assert deployment["spec"]["replicas"] == 0
    wait_for(lambda: not devcluster.get(f"/api/v1/namespaces/{ns}/pods")["items"], timeout=15, message="no pods")
    configuration = _get(devcluster, SERVING.format(ns=ns, plural="configurations", name="gives-up"))
    assert configuration is not None and _conditions(configuration)["Ready"]["message"] == \
        'Revision "gives-up-00001" failed with message: Initial scale was never achieved.'
