"""A revision's instances as read from their pods: what the namespace's LimitRange gave the revision's container."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.knative.instances import amount_words, instance_from, limit_range_defaults, pod_asks
from app.knative.quantity import parse_quantity


def test_what_the_limit_ranger_gave_the_revision_container_is_read_from_its_note_and_the_pod() -> None:
    pod = {"metadata": {"annotations": {
        "kubernetes.io/limit-ranger": "LimitRanger plugin set: cpu, memory request for container app; cpu limit for "
                                      "container app; cpu request for container queue-proxy"}},
        "spec": {"containers": [
            {"name": "app", "ports": [{"name": "user-port"}],
             "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1"}}},
            {"name": "queue-proxy", "resources": {"requests": {"cpu": "25m"}}}]}}
    assert instance_from(pod).limit_range == (("cpu request", "500m"), ("memory request", "1Gi"), ("cpu limit", "1"))
    assert limit_range_defaults(pod, "queue-proxy") == (("cpu request", "25m"),)
    for note in ("", "something else", "LimitRanger plugin set: ", 17):
        odd = {**pod, "metadata": {"annotations": {"kubernetes.io/limit-ranger": note}}}
        assert instance_from(odd).limit_range == ()
    assert instance_from({"spec": pod["spec"]}).limit_range == ()


def test_what_a_pod_asks_the_scheduler_for_is_the_sum_of_its_containers_requests() -> None:
    pod = {"spec": {"containers": [
        {"name": "app", "ports": [{"name": "user-port"}], "resources": {"requests": {"cpu": "4", "memory": "512Mi"}}},
        {"name": "queue-proxy", "resources": {"requests": {"cpu": "25m", "memory": "128Mi", "odd": "not a number"}}},
        {"name": "other"}, "not a container"]}}
    assert instance_from(pod).asks == (("cpu", "4025m", "4000m"), ("memory", "640Mi", "512Mi"))
    assert pod_asks(pod, "queue-proxy") == (("cpu", "4025m", "25m"), ("memory", "640Mi", "128Mi"))
    assert pod_asks({}, "app") == ()


@given(st.sampled_from(["cpu", "memory"]), st.decimals(min_value=0, max_value=10**15, places=3))
def test_an_amount_in_words_is_the_same_quantity(resource: str, value: Decimal) -> None:
    assert parse_quantity(amount_words(resource, value)) == value
