"""Clean YAML (app.knative.yaml_view): what the cluster adds is left out (status, server metadata, the annotations
and labels Knative, kubectl and the console write, values equal to Knative's defaults), what a user wrote stays,
including values that differ from a default; everything is kept on request."""

from __future__ import annotations

import yaml

from app.knative.yaml_view import clean, document, to_yaml

SERVICE = {
    "apiVersion": "serving.knative.dev/v1", "kind": "Service",
    "metadata": {"name": "hw", "namespace": "ns", "uid": "u", "resourceVersion": "7", "generation": 3,
                 "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{"manager": "x"}],
                 "labels": {"team": "a"},
                 "annotations": {"serving.knative.dev/creator": "alice", "serving.knative.dev/lastModifier": "bob",
                                 "knative-console/history": "[]", "knative-console/create-id": "x",
                                 "kubectl.kubernetes.io/last-applied-configuration": "{}", "owner": "team-a"}},
    "spec": {
        "template": {"metadata": {"annotations": {"client.knative.dev/updateTimestamp": "t",
                                                  "autoscaling.knative.dev/max-scale": "5"}},
                     "spec": {"containerConcurrency": 0, "timeoutSeconds": 300, "enableServiceLinks": False,
                              "containers": [{"name": "user-container", "image": "img:v1", "resources": {},
                                              "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                              "readinessProbe": {"successThreshold": 1, "tcpSocket": {"port": 0}}}]}},
        "traffic": [{"latestRevision": True, "percent": 100}],
    },
    "status": {"url": "http://hw.ns.example.com"},
}


def test_the_clean_form_has_what_a_user_writes() -> None:
    assert clean(SERVICE) == {
        "apiVersion": "serving.knative.dev/v1", "kind": "Service",
        "metadata": {"name": "hw", "namespace": "ns", "labels": {"team": "a"}, "annotations": {"owner": "team-a"}},
        "spec": {"template": {"metadata": {"annotations": {"autoscaling.knative.dev/max-scale": "5"}},
                              "spec": {"containers": [{"image": "img:v1", "ports": [{"containerPort": 8080}]}]}}},
    }
    assert SERVICE["status"]  # the object given is not changed


def test_values_that_differ_from_a_default_stay() -> None:
    obj = yaml.safe_load(to_yaml(SERVICE))
    spec = obj["spec"]["template"]["spec"]
    spec.update(containerConcurrency=10, timeoutSeconds=60, enableServiceLinks=True)
    spec["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 0}, "successThreshold": 1}
    spec["containers"].append({"name": "sidecar", "image": "side:1"})
    obj["spec"]["traffic"] = [{"revisionName": "hw-00001", "latestRevision": False, "percent": 100, "tag": "a"},
                              {"latestRevision": True, "percent": 0}]
    cleaned = clean(obj)
    kept = cleaned["spec"]["template"]["spec"]
    assert (kept["containerConcurrency"], kept["timeoutSeconds"], kept["enableServiceLinks"]) == (10, 60, True)
    assert kept["containers"][0]["name"] == "user-container"  # with two containers the name tells them apart
    assert kept["containers"][0]["readinessProbe"] == {"httpGet": {"path": "/ready", "port": 0}, "successThreshold": 1}
    assert cleaned["spec"]["traffic"] == [{"revisionName": "hw-00001", "percent": 100, "tag": "a"},
                                          {"latestRevision": True, "percent": 0}]


def test_a_revision_loses_its_controller_labels_and_keeps_its_spec() -> None:
    revision = {"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
                "metadata": {"name": "hw-00001", "namespace": "ns", "ownerReferences": [{"kind": "Configuration"}],
                             "labels": {"serving.knative.dev/service": "hw", "serving.knative.dev/configuration": "hw",
                                        "serving.knative.dev/routingState": "active", "app": "hw"},
                             "annotations": {"serving.knative.dev/routingStateModified": "t"}},
                "spec": {"containerConcurrency": 0, "timeoutSeconds": 300, "containers": [{"image": "img"}]},
                "status": {"conditions": []}}
    assert clean(revision) == {"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
                               "metadata": {"name": "hw-00001", "namespace": "ns", "labels": {"app": "hw"}},
                               "spec": {"containers": [{"image": "img"}]}}


def test_everything_is_the_object_as_given_and_yaml_reads_back() -> None:
    assert yaml.safe_load(document(SERVICE, everything=True)) == SERVICE
    assert yaml.safe_load(document(SERVICE)) == clean(SERVICE)
    text = to_yaml({"a": "line one\nline two\n", "b": 1})
    assert "a: |\n  line one\n  line two\n" in text and yaml.safe_load(text)["a"] == "line one\nline two\n"
    assert to_yaml({"z": 1, "a": 2}).startswith("z: 1")  # the API's order, not sorted
