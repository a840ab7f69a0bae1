"""ResourceQuotas and LimitRanges in the dev cluster, through its real API and kubectl: stored and printed as a cluster
stores and prints them, validated as pkg/apis/core/validation validates them, and applied to every pod created by the
LimitRanger and ResourceQuota admission plugins (their words: plugin/pkg/admission/limitranger/admission.go,
plugin/pkg/admission/resourcequota/controller.go, pkg/quota/v1/evaluator/core/pods.go), with status.used kept
current. Then a Knative Service whose revision's pods a quota refuses: the ReplicaSet's ReplicaFailure (FailedCreate)
and its Warning event, the Deployment's copy, the revision's ResourcesAvailable False, and the recovery once the quota
is raised."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import KUBECTL_VERSIONS, DevClusterProcess, ksvc_manifest, wait_for

NEWEST = KUBECTL_VERSIONS[-1]
QUOTAS = "/api/v1/namespaces/{ns}/resourcequotas"
LIMITS = "/api/v1/namespaces/{ns}/limitranges"
PODS = "/api/v1/namespaces/{ns}/pods"


def _write(obj: dict[str, Any], tmp: Path) -> str:
    path = tmp / f"{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(obj))
    return str(path)


def _quota(name: str, **hard: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": {"hard": hard}}


def _pod(name: str, *containers: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": list(containers) or [{"name": "app", "image": "nginx"}]}}


def _container(name: str = "app", requests: dict[str, str] | None = None,
               limits: dict[str, str] | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "nginx", "resources": resources}


def _create_pod(cluster: DevClusterProcess, ns: str, pod: dict[str, Any]) -> tuple[int, Any]:
    code, _, body = cluster.request("POST", PODS.format(ns=ns), pod)
    return code, body


def _used(cluster: DevClusterProcess, ns: str, name: str, expected: dict[str, str]) -> dict[str, Any]:
    return wait_for(lambda: (q := cluster.get(QUOTAS.format(ns=ns) + f"/{name}")).get("status", {}).get("used")
                    == expected and q, message=f"quota {name} used {expected}")


def test_kubectl_applies_gets_and_describes_a_quota_and_a_limit_range(devcluster: DevClusterProcess,
                                                                       tmp_path: Path) -> None:
    ns = devcluster.new_namespace("q")
    out = devcluster.kubectl(NEWEST, "apply", "-n", ns, "-f", _write(
        _quota("compute", **{"requests.cpu": "1000m", "requests.memory": "1Gi", "limits.cpu": "2", "pods": "4"}),
        tmp_path)).stdout
    assert out.strip() == "resourcequota/compute created"
    out = devcluster.kubectl(NEWEST, "apply", "-n", ns, "-f", _write(
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "sizes"},
         "spec": {"limits": [{"type": "Container", "max": {"cpu": "1", "memory": "1Gi"},
                              "defaultRequest": {"cpu": "100m"}}]}}, tmp_path)).stdout
    assert out.strip() == "limitrange/sizes created"
    # Stored canonical (1000m is 1), the LimitRange's defaults filled in (SetDefaults_LimitRangeItem).
    quota = devcluster.get(QUOTAS.format(ns=ns) + "/compute")
    assert quota["spec"]["hard"] == {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2", "pods": "4"}
    item = devcluster.get(LIMITS.format(ns=ns) + "/sizes")["spec"]["limits"][0]
    assert item["default"] == {"cpu": "1", "memory": "1Gi"}
    assert item["defaultRequest"] == {"cpu": "100m", "memory": "1Gi"}
    # The resource quota controller's status, and kubectl's table and describe reading it.
    _used(devcluster, ns, "compute", {"limits.cpu": "0", "pods": "0", "requests.cpu": "0", "requests.memory": "0"})
    lines = devcluster.kubectl(NEWEST, "get", "quota", "-n", ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "REQUEST", "LIMIT", "AGE"]
    assert "pods: 0/4, requests.cpu: 0/1, requests.memory: 0/1Gi" in lines[1]
    assert "limits.cpu: 0/2" in lines[1]
    described = devcluster.kubectl(NEWEST, "describe", "quota", "compute", "-n", ns).stdout
    assert any(line.split() == ["requests.memory", "0", "1Gi"] for line in described.splitlines()), described
    described = devcluster.kubectl(NEWEST, "describe", "limitrange", "sizes", "-n", ns).stdout
    assert any(line.split()[:2] == ["Container", "cpu"] for line in described.splitlines()), described
    assert devcluster.kubectl(NEWEST, "get", "limits", "-n", ns, "-o", "name").stdout.strip() == "limitrange/sizes"


def test_quantities_and_names_are_validated_as_kubernetes_does(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("q")
    code, _, body = devcluster.request("POST", QUOTAS.format(ns=ns), _quota("bad", cpu="abc"))
    assert code == 400, body
    assert body["message"] == ('ResourceQuota in version "v1" cannot be handled as a ResourceQuota: quantities must '
                               "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    code, _, body = devcluster.request("POST", QUOTAS.format(ns=ns), _quota("bad", cpu="-1", **{"limit.cpu": "1"}))
    assert code == 422, body
    assert body["message"] == (
        'ResourceQuota "bad" is invalid: [spec.hard[cpu]: Invalid value: "-1": must be greater than or equal to 0, '
        'spec.hard[limit.cpu]: Invalid value: "limit.cpu": must be a standard resource type or fully qualified, '
        'spec.hard[limit.cpu]: Invalid value: "limit.cpu": must be a standard resource for quota]')
    code, _, body = devcluster.request("POST", LIMITS.format(ns=ns), {
        "metadata": {"name": "bad"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "min": {"cpu": "2"}}]}})
    assert code == 422, body
    assert "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1" in body["message"]
    assert devcluster.request("GET", QUOTAS.format(ns=ns) + "/bad")[0] == 404


def test_the_limit_ranger_defaults_and_refuses_pods_in_its_words(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("q")
    code, _, body = devcluster.request("POST", LIMITS.format(ns=ns), {
        "metadata": {"name": "sizes"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "500m"},
                             "defaultRequest": {"cpu": "200m", "memory": "64Mi"}}]}})
    assert code == 201, body
    code, body = _create_pod(devcluster, ns, _pod("big", _container(limits={"cpu": "2"})))
    assert code == 403, body
    assert body["reason"] == "Forbidden"
    assert body["message"] == 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
    code, body = _create_pod(devcluster, ns, _pod("two", _container("a", limits={"cpu": "2"}),
                                                  _container("b", limits={"cpu": "3"})))
    assert code == 403, body
    assert body["message"] == ('pods "two" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, '
                               "maximum cpu usage per Container is 1, but limit is 3]")
    # A default limit below what a container requests: the pod's own validation refuses it (kubernetes#51430).
    code, body = _create_pod(devcluster, ns, _pod("greedy", _container(requests={"cpu": "800m"})))
    assert code == 422, body
    assert body["message"] == ('Pod "greedy" is invalid: spec.containers[0].resources.requests: Invalid value: '
                               '"800m": must be less than or equal to cpu limit of 500m')
    code, body = _create_pod(devcluster, ns, _pod("plain"))
    assert code == 201, body
    assert body["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "500m"},
                                                          "requests": {"cpu": "200m", "memory": "64Mi"}}
    assert body["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == \
        "LimitRanger plugin set: cpu, memory request for container app; cpu limit for container app"
    assert body["status"]["qosClass"] == "Burstable"  # PrepareForCreate comes after LimitRanger's defaults


def test_the_resource_quota_counts_pods_and_refuses_the_one_too_many(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("q")
    hard = {"requests.cpu": "1", "limits.memory": "1Gi", "pods": "3"}
    assert devcluster.request("POST", QUOTAS.format(ns=ns), _quota("team", **hard))[0] == 201
    _used(devcluster, ns, "team", {"limits.memory": "0", "pods": "0", "requests.cpu": "0"})
    # A pod without the cpu request or the memory limit the quota tracks (the newer "for: <containers>" wording).
    code, body = _create_pod(devcluster, ns, _pod("bare", _container("app"), _container("side")))
    assert code == 403, body
    assert body["message"] == ('pods "bare" is forbidden: failed quota: team: must specify limits.memory for: '
                               "app,side; requests.cpu for: app,side")
    sized = _container(requests={"cpu": "600m"}, limits={"memory": "512Mi"})
    code, body = _create_pod(devcluster, ns, _pod("first", sized))
    assert code == 201, body
    _used(devcluster, ns, "team", {"limits.memory": "512Mi", "pods": "1", "requests.cpu": "600m"})
    code, body = _create_pod(devcluster, ns, _pod("second", sized))
    assert code == 403, body
    assert body["message"] == ('pods "second" is forbidden: exceeded quota: team, requested: requests.cpu=600m, '
                               "used: requests.cpu=600m, limited: requests.cpu=1")
    # A dry run is refused the same, and a pod freed makes room.
    code, _, body = devcluster.request("POST", PODS.format(ns=ns) + "?dryRun=All", _pod("second", sized))
    assert code == 403, body
    assert devcluster.request("DELETE", PODS.format(ns=ns) + "/first")[0] == 200
    _used(devcluster, ns, "team", {"limits.memory": "0", "pods": "0", "requests.cpu": "0"})
    code, body = _create_pod(devcluster, ns, _pod("second", sized))
    assert code == 201, body


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def test_a_revision_the_quota_refuses_fails_with_failed_create_and_recovers_when_raised(
        devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("q")
    assert devcluster.request("POST", QUOTAS.format(ns=ns), _quota("small", **{"requests.cpu": "100m"}))[0] == 201
    manifest = ksvc_manifest("web", ns)
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "500m"}}
    code, _, body = devcluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services", manifest)
    assert code == 201, body
    serving = f"/apis/serving.knative.dev/v1/namespaces/{ns}"
    revision = wait_for(lambda: (r := devcluster.request("GET", f"{serving}/revisions/web-00001"))[0] == 200
                        and _conditions(r[2]).get("ResourcesAvailable", {}).get("status") == "False" and r[2],
                        timeout=20, message="revision refused")
    available = _conditions(revision)["ResourcesAvailable"]
    assert available["reason"] == "FailedCreate"
    assert available["message"].startswith('pods "web-00001-deployment-')
    assert available["message"].endswith(" is forbidden: exceeded quota: small, requested: requests.cpu=525m, "
                                         "used: requests.cpu=0, limited: requests.cpu=100m")
    assert _conditions(revision)["Ready"]["status"] == "False"
    deployment = devcluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web-00001-deployment")
    assert _conditions(deployment)["ReplicaFailure"]["message"] == available["message"]
    replicasets = devcluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"]
    failure = _conditions(replicasets[0])["ReplicaFailure"]
    assert (failure["status"], failure["reason"]) == ("True", "FailedCreate")
    events = devcluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
    assert any(e["type"] == "Warning" and e["reason"] == "FailedCreate"
               and e["involvedObject"]["kind"] == "ReplicaSet"
               and e["message"] == f"Error creating: {available['message']}" for e in events), events
    service = wait_for(lambda: _conditions(s := devcluster.get(f"{serving}/services/web")).get(
        "ConfigurationsReady", {}).get("status") == "False" and s, message="service not ready")
    assert "exceeded quota: small" in _conditions(service)["ConfigurationsReady"]["message"]
    # The quota raised: the ReplicaSet tries again, the revision and the Service become Ready.
    code, _, body = devcluster.request("PATCH", QUOTAS.format(ns=ns) + "/small",
                                       {"spec": {"hard": {"requests.cpu": "2"}}},
                                       content_type="application/merge-patch+json")
    assert code == 200, body
    wait_for(lambda: _conditions(devcluster.get(f"{serving}/services/web")).get("Ready", {}).get("status") == "True",
             timeout=20, message="service ready after the quota was raised")
    replicaset = devcluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"][0]
    assert "ReplicaFailure" not in _conditions(replicaset)
    assert "ReplicaFailure" not in _conditions(
        devcluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web-00001-deployment"))


_QUANTITY = st.one_of(st.text(max_size=12), st.integers(-10**20, 10**20), st.floats(allow_nan=False),
                      st.booleans(), st.none(), st.just({}), st.just([1]),
                      st.sampled_from(["1", "500m", "1Gi", "-1", "0.5", "1e3", "1.5Gi", "8Ei", "1n", ".", "1.2.3"]))
_NAMES = st.one_of(st.text(max_size=10), st.sampled_from(["cpu", "memory", "pods", "requests.cpu", "limits.memory",
                                                          "count/pods", "example.com/gpu", "a/b/c", ""]))
_LIST = st.dictionaries(_NAMES, _QUANTITY, max_size=3)


@pytest.mark.parametrize("plural", ["resourcequotas", "limitranges"])
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.data())
def test_no_quota_or_limit_range_body_gets_a_5xx(devcluster: DevClusterProcess, plural: str, body: Any) -> None:
    if plural == "resourcequotas":
        sent = {"metadata": {"name": "fuzz"}, "spec": body.draw(st.one_of(
            st.fixed_dictionaries({"hard": _LIST}), st.just({"hard": "x"}), st.just(None)))}
    else:
        item = st.fixed_dictionaries({}, optional={
            "type": st.sampled_from(["Container", "Pod", "PersistentVolumeClaim", "", "x", "a/b"]),
            **{key: _LIST for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")}})
        sent = {"metadata": {"name": "fuzz"}, "spec": {"limits": body.draw(st.lists(item, max_size=2))}}
    code, _, answer = devcluster.request("POST", f"/api/v1/namespaces/default/{plural}?dryRun=All", sent)
    assert code in (201, 400, 422), (code, answer)
    if code != 201:
        assert answer["message"]


@pytest.fixture(scope="module")
def limited(devcluster: DevClusterProcess) -> str:
    """A namespace with a quota and a limit range of every kind of item."""
    ns = devcluster.new_namespace("qp")
    assert devcluster.request("POST", QUOTAS.format(ns=ns), _quota(
        "all", cpu="2", memory="1Gi", pods="5", **{"limits.cpu": "4", "count/pods": "9"}))[0] == 201
    code, _, body = devcluster.request("POST", LIMITS.format(ns=ns), {"metadata": {"name": "all"}, "spec": {"limits": [
        {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "1Mi"}, "maxLimitRequestRatio": {"cpu": "4"},
         "defaultRequest": {"memory": "16Mi"}},
        {"type": "Pod", "max": {"memory": "2Gi"}}]}})
    assert code == 201, body
    return ns


_AMOUNTS = st.dictionaries(st.sampled_from(["cpu", "memory", "ephemeral-storage", "example.com/gpu", "x"]), _QUANTITY,
                           max_size=3)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(resources=st.lists(st.one_of(st.fixed_dictionaries({}, optional={"requests": _AMOUNTS, "limits": _AMOUNTS}),
                                    st.just({"requests": "x"}), st.just(None)), min_size=1, max_size=3))
def test_no_pod_under_a_quota_and_a_limit_range_gets_a_5xx(devcluster: DevClusterProcess, limited: str,
                                                            resources: list[Any]) -> None:
    containers = [{"name": f"c{i}", "image": "nginx", "resources": r} for i, r in enumerate(resources)]
    code, _, answer = devcluster.request("POST", PODS.format(ns=limited) + "?dryRun=All",
                                         {"metadata": {"name": "fuzz"}, "spec": {"containers": containers}})
    assert code in (201, 400, 403, 422), (code, answer)
    if code == 403:
        assert answer["message"].startswith('pods "fuzz" is forbidden: ')


def test_a_refusal_midway_through_the_slow_start_batches_stops_the_sync_and_is_tried_again(
        devcluster: DevClusterProcess) -> None:
    """min-scale 6 under a quota of 3 pods: the ReplicaSet makes 1, then 2 (slow start), is refused the 4th, says
    so (FailedCreate, ReplicaFailure) and keeps the 3; raised to 6, it makes the rest and the failure goes."""
    ns = devcluster.new_namespace("q")
    assert devcluster.request("POST", QUOTAS.format(ns=ns), _quota("three", pods="3"))[0] == 201
    manifest = ksvc_manifest("six", ns)
    manifest["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/min-scale": "6"}}
    code, _, body = devcluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services", manifest)
    assert code == 201, body
    replicasets = f"/apis/apps/v1/namespaces/{ns}/replicasets"

    def refused() -> dict[str, Any] | None:
        found = devcluster.get(replicasets)["items"]
        return found[0] if found and "ReplicaFailure" in _conditions(found[0]) else None

    replicaset = wait_for(refused, timeout=20, message="the ReplicaSet refused its 4th pod")
    assert replicaset["status"]["replicas"] == 3
    assert len(devcluster.get(PODS.format(ns=ns))["items"]) == 3
    failure = _conditions(replicaset)["ReplicaFailure"]
    assert (failure["reason"], failure["status"]) == ("FailedCreate", "True")
    assert "exceeded quota: three, requested: pods=1, used: pods=3, limited: pods=3" in failure["message"]
    events = devcluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
    created = [e for e in events if e["reason"] == "SuccessfulCreate" and e["involvedObject"]["kind"] == "ReplicaSet"]
    assert sum(e.get("count", 1) for e in created) == 3
    code, _, body = devcluster.request("PATCH", QUOTAS.format(ns=ns) + "/three", {"spec": {"hard": {"pods": "6"}}},
                                       content_type="application/merge-patch+json")
    assert code == 200, body
    done = wait_for(lambda: (r := devcluster.get(replicasets)["items"][0])["status"].get("replicas") == 6
                    and "ReplicaFailure" not in _conditions(r) and r, timeout=40, message="six pods, no failure")
    assert done["status"]["replicas"] == 6
