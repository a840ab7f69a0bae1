"""A Pod as the kube-apiserver stores it on create (pkg/registry/core/pod/strategy.go PrepareForCreate): whatever
status the client sent is replaced by phase Pending and the QoS class of its containers' requests and limits, so a
client reading the Pod before any kubelet has seen it finds a status, as on a real cluster."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.devcluster.apiserver.builtins import pod_qos
from tests.support import DevClusterProcess


def _pod(name: str, resources: dict | None = None, **extra: object) -> dict:
    container: dict = {"name": "app", "image": "registry.invalid/app:v1"}
    if resources is not None:
        container["resources"] = resources
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [container]}, **extra}


@pytest.mark.parametrize(("resources", "qos"), [
    (None, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "64Mi"}}, "Guaranteed"),
])
def test_a_created_pod_is_pending_with_its_qos_class(devcluster: DevClusterProcess, resources: dict | None,
                                                     qos: str) -> None:
    ns = devcluster.new_namespace("pod")
    sent = _pod("p", resources, status={"phase": "Running", "podIP": "10.0.0.9"})
    code, _, created = devcluster.request("POST", f"/api/v1/namespaces/{ns}/pods", sent)
    assert code == 201, created
    assert created["status"] == {"phase": "Pending", "qosClass": qos}


def test_a_dry_run_pod_has_the_status_too(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("pod")
    code, _, created = devcluster.request("POST", f"/api/v1/namespaces/{ns}/pods?dryRun=All", _pod("p"))
    assert code == 201, created
    assert created["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def _spec(*containers: dict) -> dict:
    return {"spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(containers)]}}


@pytest.mark.parametrize(("containers", "qos"), [
    (({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1024Mi"}},), "Guaranteed"),
    (({"limits": {"cpu": 1, "memory": "1Gi"}},), "Guaranteed"),  # requests default to the limits; a JSON number
    (({"limits": {"cpu": "1"}},), "Burstable"),  # Guaranteed needs both limits
    (({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "0"}},), "Burstable"),  # a request of 0 stays
    (({"limits": {"cpu": "1", "memory": "1Gi"}}, {}), "Burstable"),  # every container needs them
    (({"requests": {"cpu": "0", "ephemeral-storage": "1Gi"}},), "BestEffort"),  # only cpu and memory above zero
    (({"limits": {"cpu": "1", "memory": "1Gi"}}, {"limits": {"cpu": "2", "memory": "1Gi"}}), "Guaranteed"),
])
def test_the_qos_class_as_kubernetes_computes_it(containers: tuple[dict, ...], qos: str) -> None:
    assert pod_qos(_spec(*containers)) == qos


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["spec", "containers", "initContainers", "resources", "limits", "requests",
                                         "cpu", "memory"]), inner, max_size=4), max_leaves=20))
def test_any_pod_body_has_a_qos_class(body: object) -> None:
    assert pod_qos({"spec": body}) in ("BestEffort", "Burstable", "Guaranteed")
