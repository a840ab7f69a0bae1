"""Manifests and patches (app.knative.manifests): a new Service, a new revision with its traffic in one
patch, a traffic-only patch, each carrying the resourceVersion the user saw; and what they keep untouched."""

from __future__ import annotations

from app.knative import manifests
from app.knative.forms import ServiceDraft
from app.knative.models import EnvVar, Scaling, Template, TrafficTarget

NOW = "2026-11-27T10:00:00Z"


def test_new_service_minimal() -> None:
    draft = ServiceDraft("helloworld-go", "default", Template(image="ghcr.io/knative/helloworld-go:latest",
                                                               port=8080))
    assert manifests.service_manifest(draft) == {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "helloworld-go", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [
            {"image": "ghcr.io/knative/helloworld-go:latest", "ports": [{"containerPort": 8080}]}
        ]}}},
    }


def test_new_service_with_everything() -> None:
    template = Template(image="img", port=9000, protocol="grpc", env=(EnvVar("TARGET", "x"),), cpu_request="100m",
                        memory_limit="1Gi", scaling=Scaling("1", "5", "50"))
    manifest = manifests.service_manifest(ServiceDraft("s", "ns", template, cluster_local=True))
    assert manifest["metadata"]["labels"] == {"networking.knative.dev/visibility": "cluster-local"}
    assert manifest["spec"]["template"] == {
        "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1", "autoscaling.knative.dev/max-scale": "5",
                                     "autoscaling.knative.dev/target": "50"}},
        "spec": {"containers": [{
            "image": "img", "ports": [{"containerPort": 9000, "name": "h2c"}], "env": [{"name": "TARGET", "value": "x"}],
            "resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}},
        }]},
    }


STORED = {
    "metadata": {"name": "hello", "namespace": "default", "resourceVersion": "41"},
    "spec": {
        "template": {
            "metadata": {"name": "hello-v1", "annotations": {"autoscaling.knative.dev/minScale": "2", "keep": "me"}},
            "spec": {
                "containerConcurrency": 0,
                "timeoutSeconds": 300,
                "containers": [
                    {"name": "user-container", "image": "old", "readinessProbe": {"tcpSocket": {"port": 0}},
                     "env": [{"name": "OLD", "value": "1"},
                             {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}],
                     "resources": {"limits": {"ephemeral-storage": "1Gi"}}},
                ],
            },
        },
        "traffic": [{"latestRevision": True, "percent": 100}],
    },
}


def test_new_revision_patch_changes_template_and_traffic_in_one_request() -> None:
    template = Template(image="new", port=8080, env=(EnvVar("TARGET", "Knative"),))
    targets = (TrafficTarget(0, latest_revision=True), TrafficTarget(100, "hello-v1"))
    patch = manifests.new_revision_patch(STORED, template, targets, NOW)
    assert patch["metadata"] == {"resourceVersion": "41"}
    assert patch["spec"]["traffic"] == [{"latestRevision": True, "percent": 0},
                                        {"latestRevision": False, "percent": 100, "revisionName": "hello-v1"}]
    template_patch = patch["spec"]["template"]
    # The BYO name is cleared (keeping it would be refused), scaling aliases the form replaces are removed,
    # unrelated annotations stay, and a timestamp guarantees a new revision.
    assert template_patch["metadata"] == {
        "name": None,
        "annotations": {"autoscaling.knative.dev/minScale": None, manifests.UPDATE_TIMESTAMP: NOW},
    }
    container = template_patch["spec"]["containers"][0]
    assert container["image"] == "new"
    assert container["readinessProbe"] == {"tcpSocket": {"port": 0}}
    assert container["env"] == [{"name": "TARGET", "value": "Knative"},
                                {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}]
    assert container["resources"] == {"limits": {"ephemeral-storage": "1Gi"}}
    assert "timeoutSeconds" not in template_patch["spec"]  # unchanged fields are not sent


def test_the_same_template_still_makes_a_new_revision() -> None:
    stored = {"metadata": {"resourceVersion": "7"}, "spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}
    patch = manifests.new_revision_patch(stored, Template(image="x"), (TrafficTarget(100, latest_revision=True),), NOW)
    assert patch["spec"]["template"] == {"metadata": {"annotations": {manifests.UPDATE_TIMESTAMP: NOW}}}


def test_traffic_patch_with_tags() -> None:
    targets = (TrafficTarget(90, "hello-00001", tag="stable"), TrafficTarget(10, latest_revision=True, tag="canary"))
    assert manifests.traffic_patch("12", targets) == {
        "metadata": {"resourceVersion": "12"},
        "spec": {"traffic": [
            {"latestRevision": False, "percent": 90, "revisionName": "hello-00001", "tag": "stable"},
            {"latestRevision": True, "percent": 10, "tag": "canary"},
        ]},
    }


def test_merge_diff_round_trips_through_a_merge_patch() -> None:
    old = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": None}
    new = {"a": 1, "b": {"c": [3]}, "f": {"g": 1}}
    patch = manifests.merge_diff(old, new)
    assert patch == {"e": None, "b": {"c": [3], "d": None}, "f": {"g": 1}}
