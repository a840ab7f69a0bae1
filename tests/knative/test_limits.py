"""The Create Revision wizard's warning of what a namespace's LimitRange refuses (app/knative/limits.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from app.knative.limits import counts_compute, limit_range_warnings, queue_proxy_amounts, quota_warnings
from app.knative.models import Scaling, Template


def test_the_wizard_warns_of_what_a_limit_range_refuses() -> None:
    """A Container item's max and min against what was typed; a request not typed is the limit, as kube-apiserver
    defaults it; a Pod item, or a LimitRange that allows it, says nothing."""
    sizes = {"metadata": {"name": "sizes"}, "spec": {"limits": [
        {"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}, "min": {"memory": "64Mi"}},
        {"type": "Pod", "max": {"cpu": "100m"}}]}}
    assert limit_range_warnings(Template(cpu_limit="2"), [sizes]) == [
        "The namespace's LimitRange sizes allows a container a CPU limit of at most 1, and this one's is 2: "
        "Kubernetes would refuse every instance of the new revision."]
    assert limit_range_warnings(Template(cpu_request="1500m", memory_request="32Mi"), [sizes]) == [
        "The namespace's LimitRange sizes allows a container a CPU request of at most 1, and this one's is 1500m: "
        "Kubernetes would refuse every instance of the new revision.",
        "The namespace's LimitRange sizes allows a container a memory request of at least 64Mi, and this one's is "
        "32Mi: Kubernetes would refuse every instance of the new revision."]
    assert limit_range_warnings(Template(cpu_request="500m", cpu_limit="1", memory_limit="512Mi"), [sizes]) == []
    assert limit_range_warnings(Template(cpu_limit="2"), [{"spec": {"limits": "x"}}, None, {}]) == []


@given(st.lists(st.one_of(st.none(), st.text(max_size=8), st.dictionaries(
    st.sampled_from(["metadata", "spec"]), st.one_of(st.none(), st.text(max_size=4), st.fixed_dictionaries(
        {"limits": st.lists(st.dictionaries(st.sampled_from(["type", "max", "min"]), st.one_of(
            st.sampled_from(["Container", "Pod"]), st.dictionaries(st.sampled_from(["cpu", "memory"]),
                                                                   st.one_of(st.text(max_size=6), st.integers())))),
            max_size=2)})))), max_size=2),
       st.text(max_size=6), st.text(max_size=6))
def test_any_limit_range_is_read_without_failing(ranges: list[Any], request: str, limit: str) -> None:
    for warning in limit_range_warnings(Template(cpu_request=request, memory_limit=limit), ranges):
        assert warning.startswith("The namespace's LimitRange ")


# -- ResourceQuotas (quota_warnings) ----------------------------------------------------------------------------------

def _quota(name: str, hard: dict[str, str], used: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    status = {"hard": hard, "used": used} if used is not None else {}
    return {"metadata": {"name": name}, "spec": {"hard": hard, **spec}, "status": status}


KNATIVE_DEFAULTS = queue_proxy_amounts({})  # queue-proxy asks for 25m of CPU, and states nothing else


def test_a_quota_the_new_revision_would_exceed() -> None:
    """What is left of the quota against what an instance asks, queue-proxy's part counted when it is known."""
    small = _quota("small", {"requests.cpu": "100m"}, {"requests.cpu": "0"})
    assert quota_warnings(Template(cpu_request="500m"), [small], [], KNATIVE_DEFAULTS) == [
        "The namespace's ResourceQuota small allows 100m of CPU requests in all, 0 of them in use; each instance of "
        "the new revision asks for 525m (500m for its container, the rest for queue-proxy): Kubernetes would refuse "
        "every instance of it."]
    assert quota_warnings(Template(cpu_request="500m"), [small], [], None) == [
        "The namespace's ResourceQuota small allows 100m of CPU requests in all, 0 of them in use; each instance of "
        "the new revision asks for at least 500m: Kubernetes would refuse every instance of it."]
    room = _quota("room", {"requests.cpu": "2"}, {"requests.cpu": "1500m"})
    assert quota_warnings(Template(cpu_request="200m"), [room], [], KNATIVE_DEFAULTS) == []
    assert quota_warnings(Template(cpu_request="200m", scaling=Scaling(min_scale="3")), [room], [],
                          KNATIVE_DEFAULTS) == [
        # One unit in a sentence (found by a walkthrough: "allows 2 of CPU requests … asks for 225m").
        "The namespace's ResourceQuota room allows 2000m of CPU requests in all, 1500m of them in use; each instance of "
        "the new revision asks for 225m (200m for its container, the rest for queue-proxy): Kubernetes would refuse "
        "all but 2 of the 3 instances its min-scale asks for."]
    pods = _quota("few", {"pods": "3"}, {"pods": "3"})
    assert quota_warnings(Template(), [pods], [], None) == [
        "The namespace's ResourceQuota few allows 3 pods in all, 3 of them in use: Kubernetes would refuse every "
        "instance of it."]
    # Not counted yet (no status), or scoped (which pods it counts is not checked): nothing said.
    assert quota_warnings(Template(), [_quota("new", {"pods": "0"})], [], None) == []
    assert quota_warnings(Template(), [_quota("scoped", {"pods": "0"}, {"pods": "0"}, scopes=["BestEffort"])], [],
                          None) == []


def test_a_quota_that_counts_what_a_container_does_not_state() -> None:
    """pods.go Constraints: every container must state what the quota counts; a limit typed gives the request
    (SetDefaults_Pod), a LimitRange's defaults give the rest; queue-proxy takes its own from config-deployment."""
    limits = _quota("limits", {"limits.cpu": "4"}, {"limits.cpu": "0"})
    assert quota_warnings(Template(), [limits], [], KNATIVE_DEFAULTS) == [
        "The namespace's ResourceQuota limits counts CPU limits, so every container must state them, and neither "
        "this one nor queue-proxy does (queue-proxy, the container Knative adds to each instance, takes its own from "
        "queue-sidecar-cpu-limit in the ConfigMap knative-serving/config-deployment, where none is set): Kubernetes "
        "would refuse every instance of the new revision. Ask a cluster admin to set queue-sidecar-cpu-limit there, "
        "or for a LimitRange whose defaults give them to every container."]
    assert quota_warnings(Template(cpu_limit="1"), [limits], [], KNATIVE_DEFAULTS) == [
        "The namespace's ResourceQuota limits counts CPU limits, so every container must state them, and queue-proxy, "
        "the container Knative adds to each instance, does not (it takes its own from queue-sidecar-cpu-limit in the "
        "ConfigMap knative-serving/config-deployment, where none is set): Kubernetes would refuse every instance of "
        "the new revision. Ask a cluster admin to set queue-sidecar-cpu-limit there, or for a LimitRange whose defaults "
        "give them to every container."]
    assert quota_warnings(Template(), [limits], [], None) == [
        "The namespace's ResourceQuota limits counts CPU limits, so every container must state them, and this one "
        "does not: Kubernetes would refuse every instance of the new revision."]
    sidecar = queue_proxy_amounts({"queue-sidecar-cpu-limit": "1"})
    assert quota_warnings(Template(cpu_limit="1"), [limits], [], sidecar) == []
    assert quota_warnings(Template(cpu_limit="1"), [limits], [], queue_proxy_amounts({"queueSidecarCPULimit": "1"})) \
        == []
    defaults = {"metadata": {"name": "d"}, "spec": {"limits": [{"type": "Container", "default": {"cpu": "300m"}}]}}
    assert quota_warnings(Template(), [limits], [defaults], KNATIVE_DEFAULTS) == []
    # A limit typed is also the request; a request typed is not a limit.
    requests = _quota("requests", {"requests.memory": "1Gi"}, {"requests.memory": "0"})
    assert quota_warnings(Template(memory_limit="128Mi"), [requests], [], None) == []
    assert quota_warnings(Template(cpu_request="1"), [limits], [], None)[0].startswith(
        "The namespace's ResourceQuota limits counts CPU limits, so every container must state them, and this one does "
        "not")


def test_queue_proxy_s_amounts() -> None:
    assert KNATIVE_DEFAULTS == {"requests": {"cpu": Decimal("0.025")}, "limits": {}}
    assert queue_proxy_amounts({"queueSidecarCPURequest": "50m", "queue-sidecar-cpu-request": "100m",
                                "queue-sidecar-memory-limit": "1Gi"}) == {
        "requests": {"cpu": Decimal("0.1")}, "limits": {"memory": Decimal(2**30)}}
    assert queue_proxy_amounts({"queue-sidecar-cpu-limit": "lots"}) is None  # Knative keeps what it had: unknown
    assert queue_proxy_amounts(None) == KNATIVE_DEFAULTS


_AMOUNT = st.one_of(st.sampled_from(["0", "1", "100m", "1Gi", "-1", "", "x"]), st.text(max_size=5), st.integers())


@example([{"metadata": None, "status": {"hard": {}, "used": {}}, "spec": {"hard": {"pods": 10**28}}}], "", "", "", None)
@example([{"metadata": None, "status": {"hard": {}, "used": {}}, "spec": {"hard": {"pods": -10**28}}}], "", "", "", None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=4), st.fixed_dictionaries({}, optional={
    "metadata": st.one_of(st.none(), st.fixed_dictionaries({"name": st.text(max_size=6)})),
    "spec": st.one_of(st.none(), st.fixed_dictionaries({}, optional={
        "hard": st.one_of(st.none(), st.dictionaries(st.sampled_from(
            ["pods", "count/pods", "cpu", "requests.cpu", "limits.cpu", "memory", "limits.memory", "services"]),
            _AMOUNT)),
        "scopes": st.lists(st.text(max_size=4), max_size=1)})),
    "status": st.one_of(st.none(), st.fixed_dictionaries({}, optional={
        "hard": st.dictionaries(st.sampled_from(["pods", "requests.cpu", "limits.memory"]), _AMOUNT),
        "used": st.one_of(st.none(), st.dictionaries(st.sampled_from(["pods", "requests.cpu", "limits.memory"]),
                                                     _AMOUNT))}))})), max_size=3),
       st.text(max_size=6), st.text(max_size=6), st.text(max_size=4),
       st.one_of(st.none(), st.dictionaries(st.sampled_from(["queue-sidecar-cpu-limit", "queueSidecarMemoryRequest"]),
                                            _AMOUNT)))
def test_any_quota_is_read_without_failing(quotas: list[Any], request: str, limit: str, min_scale: str,
                                           config: Any) -> None:
    template = Template(cpu_request=request, memory_limit=limit, scaling=Scaling(min_scale=min_scale))
    queue = queue_proxy_amounts(config) if config is not None else None
    assert counts_compute(quotas) in (True, False)
    for warning in quota_warnings(template, quotas, [], queue):
        assert warning.startswith("The namespace's ResourceQuota ") and warning.endswith(".")


def test_a_container_that_states_too_much_is_said_too_when_another_states_nothing() -> None:
    """Kubernetes refuses the unstated first, but the user is told both (found by a walkthrough: a 5Gi limit against
    a 4Gi quota went unsaid behind queue-proxy's missing limit)."""
    limits = _quota("limits", {"limits.memory": "4Gi"}, {"limits.memory": "0"})
    said = quota_warnings(Template(memory_limit="5Gi"), [limits], [], KNATIVE_DEFAULTS)
    assert len(said) == 2 and said[0].startswith("The namespace's ResourceQuota limits counts memory limits")
    assert said[1] == ("The namespace's ResourceQuota limits allows 4Gi of memory limits in all, 0 of them in use; "
                       "each instance of the new revision asks for 5Gi: Kubernetes would refuse every instance of it.")
    defaults = {"metadata": {"name": "d"}, "spec": {"limits": [{"type": "Container", "default": {"memory": "128Mi"}}]}}
    assert quota_warnings(Template(memory_limit="5Gi"), [limits], [defaults], KNATIVE_DEFAULTS) == [
        "The namespace's ResourceQuota limits allows 4096Mi of memory limits in all, 0 of them in use; each instance "
        "of the new revision asks for 5248Mi (5120Mi for its container, the rest for queue-proxy): Kubernetes would "
        "refuse every instance of it."]
