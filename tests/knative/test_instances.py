"""A revision's instances as read from their pods: what the namespace's LimitRange gave the revision's container."""

from __future__ import annotations

from app.knative.instances import instance_from, limit_range_defaults


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
