"""Gradual rollout on the dev cluster (knative/serving pkg/reconciler/route/traffic/rollout.go): with
`serving.knative.dev/rollout-duration` on the Service (or `rollout-duration` in config-network), a new latest revision
takes the floating share step by step; the Route's and Service's status.traffic, their RolloutInProgress condition, the
KIngress's rollout annotation and the requests through the gateway all show it."""

from __future__ import annotations

import json
from collections import Counter

import httpx

from tests.support import DevClusterProcess, ksvc_manifest, wait_for

SERVING = "/apis/serving.knative.dev/v1/namespaces/{ns}/{plural}"
KINGRESS = "/apis/networking.internal.knative.dev/v1alpha1/namespaces/{ns}/ingresses/{name}"
NETWORK = "/api/v1/namespaces/knative-serving/configmaps/config-network"
ROLLOUT_STATE = "networking.internal.knative.dev/rollout"


def _get(cluster: DevClusterProcess, ns: str, plural: str, name: str) -> dict:
    return cluster.get(SERVING.format(ns=ns, plural=plural) + f"/{name}")


def _conditions(obj: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def _ready(cluster: DevClusterProcess, ns: str, name: str) -> dict:
    return wait_for(lambda: (s := _get(cluster, ns, "services", name)) and
                    s["status"].get("observedGeneration") == s["metadata"]["generation"] and
                    _conditions(s).get("Ready", {}).get("status") == "True" and s, timeout=20, message="Ready")


def _new_revision(cluster: DevClusterProcess, ns: str, name: str, target: str) -> None:
    code, _, body = cluster.request(
        "PATCH", SERVING.format(ns=ns, plural="services") + f"/{name}",
        {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest",
                                                        "env": [{"name": "TARGET", "value": target}]}]}}}},
        content_type="application/merge-patch+json")
    assert code == 200, body


def _shares(service: dict) -> dict[str, int]:
    shares: Counter[str] = Counter()
    for target in service["status"].get("traffic") or []:
        shares[target["revisionName"]] += target["percent"]
    return dict(shares)


def test_a_new_revision_takes_the_traffic_step_by_step(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("r")
    manifest = ksvc_manifest("roll", ns, env={"TARGET": "one"})
    manifest["metadata"]["annotations"] = {"serving.knative.dev/rollout-duration": "4s"}
    code, _, body = devcluster.request("POST", SERVING.format(ns=ns, plural="services"), manifest)
    assert code == 201, body
    _ready(devcluster, ns, "roll")
    route = _get(devcluster, ns, "routes", "roll")
    assert route["metadata"]["annotations"]["serving.knative.dev/rollout-duration"] == "4s"
    ingress = devcluster.get(KINGRESS.format(ns=ns, name="roll"))
    assert json.loads(ingress["metadata"]["annotations"][ROLLOUT_STATE]) == {"configurations": [
        {"configurationName": "roll", "percent": 100, "revisions": [{"revisionName": "roll-00001", "percent": 100}],
         "stepParams": {}}]}

    _new_revision(devcluster, ns, "roll", "two")
    seen: list[dict[str, int]] = []

    def rolling() -> dict | None:
        service = _get(devcluster, ns, "services", "roll")
        shares = _shares(service)
        if not seen or seen[-1] != shares:
            seen.append(shares)
        return service if 0 < shares.get("roll-00002", 0) < 100 else None

    service = wait_for(rolling, timeout=15, message="a rollout in progress")
    routes_ready = _conditions(service)["RoutesReady"]
    assert (routes_ready["status"], routes_ready["reason"], routes_ready["message"]) == \
        ("Unknown", "RolloutInProgress", "A gradual rollout of the latest revision(s) is in progress.")
    assert all(t["latestRevision"] for t in service["status"]["traffic"])
    assert [t["revisionName"] for t in service["status"]["traffic"]] == ["roll-00001", "roll-00002"]
    ingress_ready = _conditions(_get(devcluster, ns, "routes", "roll"))["IngressReady"]
    assert (ingress_ready["status"], ingress_ready["reason"]) == ("Unknown", "RolloutInProgress")
    state = json.loads(devcluster.get(KINGRESS.format(ns=ns, name="roll"))["metadata"]["annotations"][ROLLOUT_STATE])
    [config] = state["configurations"]
    assert [r["revisionName"] for r in config["revisions"]] == ["roll-00001", "roll-00002"]
    assert config["stepParams"]["starttime"] > 0

    # Real requests follow the shares while it rolls.
    with httpx.Client(base_url=devcluster.gateway_url, trust_env=False, timeout=10) as gateway:
        answers = Counter(gateway.get("/", headers={"Host": f"roll.{ns}.example.com"}).text for _ in range(100))
    assert set(answers) <= {"Hello one!\n", "Hello two!\n"} and answers["Hello one!\n"] > 0

    done = wait_for(lambda: (s := _get(devcluster, ns, "services", "roll")) and
                    _shares(s) == {"roll-00002": 100} and s, timeout=15, message="the rollout done")
    seen.append(_shares(done))
    _ready(devcluster, ns, "roll")
    # 1% first, then steps of a third of the rest (4 s: the first second for 1%, three steps after it).
    news = [shares.get("roll-00002", 0) for shares in seen]
    assert news == sorted(news) and news[-1] == 100, seen
    assert set(news) <= {0, 1, 34, 67, 100}, seen
    with httpx.Client(base_url=devcluster.gateway_url, trust_env=False, timeout=10) as gateway:
        assert {gateway.get("/", headers={"Host": f"roll.{ns}.example.com"}).text for _ in range(20)} == \
            {"Hello two!\n"}


def test_config_network_rollout_duration_applies_to_every_route(devcluster: DevClusterProcess) -> None:
    """It applies where a route's annotation gives 0 s too (reconcileRollout falls back to it when
    Route.RolloutDuration is 0), and an invalid one leaves the last valid one in force (knative/pkg configmap/store.go
    keeps the configuration when an update fails to parse)."""
    ns = devcluster.new_namespace("r")
    zero = ksvc_manifest("zero", ns, env={"TARGET": "one"})
    zero["metadata"]["annotations"] = {"serving.knative.dev/rollout-duration": "0s"}
    for manifest in (ksvc_manifest("wide", ns, env={"TARGET": "one"}), zero):
        code, _, body = devcluster.request("POST", SERVING.format(ns=ns, plural="services"), manifest)
        assert code == 201, body
    _ready(devcluster, ns, "wide")
    _ready(devcluster, ns, "zero")

    def rolling(name: str, revision: str) -> None:
        service = wait_for(lambda: (s := _get(devcluster, ns, "services", name)) and
                           0 < _shares(s).get(revision, 0) < 100 and s, timeout=15, message=f"{name} rolling out")
        assert _conditions(service)["RoutesReady"]["reason"] == "RolloutInProgress"

    def rolled_out(name: str, revision: str) -> None:
        wait_for(lambda: _shares(_get(devcluster, ns, "services", name)) == {revision: 100}, timeout=15,
                 message=f"{name} rolled out")

    def network(value: str | None) -> None:
        code, _, body = devcluster.request("PATCH", NETWORK, {"data": {"rollout-duration": value}},
                                           content_type="application/merge-patch+json")
        assert code == 200, body

    network("3")
    try:
        _new_revision(devcluster, ns, "wide", "two")
        _new_revision(devcluster, ns, "zero", "two")
        rolling("wide", "wide-00002")
        rolling("zero", "zero-00002")
        rolled_out("wide", "wide-00002")
        network("-5")
        _new_revision(devcluster, ns, "wide", "three")
        rolling("wide", "wide-00003")
        rolled_out("wide", "wide-00003")
    finally:
        network(None)
