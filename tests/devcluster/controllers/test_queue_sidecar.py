"""queue-proxy's resources in the dev cluster as Knative sets them (knative/serving pkg/deployment/config.go,
pkg/reconciler/revision/resources/queue.go): config-deployment's queue-sidecar-* keys, then the revision's own
queue.sidecar.serving.knative.dev annotations; a change to config-deployment reaches the Deployments of existing
revisions, so that a quota that wants a limit queue-proxy lacked lets the revision start once an admin sets it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.devcluster.controllers.config import QUEUE_SIDECAR_CPU_REQUEST, DeploymentConfig, parse_deployment
from tests.support import DevClusterProcess, ksvc_manifest, wait_for

SERVING = "/apis/serving.knative.dev/v1/namespaces/{ns}"
CONFIG = "/api/v1/namespaces/knative-serving/configmaps/config-deployment"


def test_config_deployment_s_queue_sidecar_keys_are_read_as_knative_reads_them() -> None:
    assert parse_deployment({}) == DeploymentConfig(600, (("cpu", QUEUE_SIDECAR_CPU_REQUEST),), ())
    config = parse_deployment({"queueSidecarCPULimit": "2", "queue-sidecar-cpu-limit": "0.5",
                               "queue-sidecar-memory-request": "64Mi", "queue-sidecar-ephemeral-storage-limit": "1G"})
    assert config.queue_requests == (("cpu", "25m"), ("memory", "64Mi"))  # the default CPU request kept
    assert config.queue_limits == (("cpu", "500m"), ("ephemeral-storage", "1G"))  # the new key wins, canonical
    assert parse_deployment({"queue-sidecar-cpu-request": "100m"}).queue_requests == (("cpu", "100m"),)
    with pytest.raises(ValueError) as refused:
        parse_deployment({"queue-sidecar-memory-limit": "lots"})
    assert str(refused.value) == ('failed to parse "queue-sidecar-memory-limit": quantities must match the regular '
                                  "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    # NewConfigFromMap parses every key before it checks the deadline's sign: the quantity's error comes first.
    with pytest.raises(ValueError, match='failed to parse "queue-sidecar-cpu-limit"'):
        parse_deployment({"progress-deadline": "-1s", "queue-sidecar-cpu-limit": "x"})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterProcess]:
    """Its own dev cluster: config-deployment is the whole cluster's."""
    started = DevClusterProcess(Path(tmp_path_factory.mktemp("queue")), ["--revision-start-delay", "0.1"]).start()
    yield started
    assert started.stop() == 0, started.log()[-4000:]


def _queue_proxy(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["spec"]["containers"] if c["name"] == "queue-proxy")["resources"]


def _ready(cluster: DevClusterProcess, ns: str, name: str) -> bool:
    code, _, revision = cluster.request("GET", SERVING.format(ns=ns) + f"/revisions/{name}")
    return code == 200 and any(c["type"] == "Ready" and c["status"] == "True"
                               for c in (revision.get("status") or {}).get("conditions", []))


def test_a_quota_that_wants_a_cpu_limit_lets_the_revision_start_once_config_deployment_gives_queue_proxy_one(
        cluster: DevClusterProcess) -> None:
    ns = cluster.new_namespace("qp")
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "limits"},
             "spec": {"hard": {"limits.cpu": "4"}}}
    assert cluster.request("POST", f"/api/v1/namespaces/{ns}/resourcequotas", quota)[0] == 201
    manifest = ksvc_manifest("app", ns)
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    manifest["spec"]["template"]["metadata"] = {
        "annotations": {"queue.sidecar.serving.knative.dev/memory-resource-request": "100Mi"}}
    assert cluster.request("POST", SERVING.format(ns=ns) + "/services", manifest)[0] == 201

    def refused() -> str:
        replicasets = cluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"]
        return next((c["message"] for rs in replicasets for c in (rs.get("status") or {}).get("conditions") or []
                     if c["type"] == "ReplicaFailure"), "")

    message = wait_for(refused, timeout=20, message="the quota refuses the pod")
    assert "failed quota: limits: must specify limits.cpu for: queue-proxy" in message
    [deployment] = cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]
    queue = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "queue-proxy")
    # The revision's own annotation, beside the default CPU request (there is no config-deployment yet).
    assert queue["resources"] == {"requests": {"cpu": "25m", "memory": "100Mi"}}

    # An admin sets a limit for queue-proxy (kubectl apply of Knative's ConfigMap).
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "config-deployment", "namespace": "knative-serving"},
              "data": {"queue-sidecar-cpu-limit": "250m"}}
    code, _, body = cluster.request("POST", CONFIG.rsplit("/", 1)[0], config)
    assert code == 201, body
    wait_for(lambda: _ready(cluster, ns, "app-00001"), timeout=30, message="app-00001 Ready by itself")
    [pod] = [p for p in cluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]
             if not p["metadata"].get("deletionTimestamp")]
    assert _queue_proxy(pod) == {"requests": {"cpu": "25m", "memory": "100Mi"}, "limits": {"cpu": "250m"}}
    # Written once: the Deployment settles (no update on every pass).
    generation = cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/app-00001-deployment")["metadata"][
        "generation"]
    code, _, body = cluster.request("PATCH", CONFIG, {"data": {"queue-sidecar-cpu-limit": "not a quantity"}},
                                    content_type="application/merge-patch+json")
    assert code == 200, body  # Knative refuses it in its log and keeps what it had
    wait_for(lambda: "knative-serving/config-deployment is not valid" in cluster.log(), timeout=10,
             message="the refusal in the log")
    after = cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/app-00001-deployment")
    assert after["metadata"]["generation"] == generation, json.dumps(after["spec"]["template"])


def _configure(cluster: DevClusterProcess, data: dict[str, str]) -> None:
    """kubectl apply of knative-serving/config-deployment with `data`."""
    if cluster.request("GET", CONFIG)[0] == 404:
        config = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "config-deployment", "namespace": "knative-serving"}, "data": data}
        code, _, body = cluster.request("POST", CONFIG.rsplit("/", 1)[0], config)
        assert code == 201, body
    else:
        code, _, body = cluster.request("PATCH", CONFIG, {"data": data}, content_type="application/merge-patch+json")
        assert code == 200, body


def test_a_config_deployment_change_rolls_the_instances_without_taking_any_away_first(
        cluster: DevClusterProcess) -> None:
    """Knative's Deployments say maxUnavailable 0 (maxSurge 100%): the new pods come up beside the old ones, which go
    only as the new ones become available. A walkthrough saw every Service's pods go at once."""
    ns = cluster.new_namespace("roll")
    manifest = ksvc_manifest("steady", ns)
    manifest["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/min-scale": "2"}}
    assert cluster.request("POST", SERVING.format(ns=ns) + "/services", manifest)[0] == 201

    def ready_pods() -> list[dict[str, Any]]:
        return [p for p in cluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]
                if not p["metadata"].get("deletionTimestamp") and any(
                    c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]

    wait_for(lambda: len(ready_pods()) == 2 and _ready(cluster, ns, "steady-00001"), timeout=20,
             message="two ready instances")
    # Valid as a whole (the other test may have left an invalid key, which would keep the old settings in force).
    _configure(cluster, {"queue-sidecar-cpu-limit": "250m", "queue-sidecar-memory-limit": "300Mi"})
    fewest, deadline = 2, time.monotonic() + 30
    while time.monotonic() < deadline:
        pods = ready_pods()
        fewest = min(fewest, len(pods))
        rolled = [p for p in pods if _queue_proxy(p).get("limits", {}).get("memory") == "300Mi"]
        if len(rolled) == 2 and len(pods) == 2:
            break
        assert fewest == 2, f"{len(pods)} ready instances during the rollout"
    else:
        raise AssertionError("the rollout did not end within 30 s")
    replicasets = cluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"]
    assert sorted(rs["spec"]["replicas"] for rs in replicasets) == [0, 2]
