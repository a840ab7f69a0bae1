"""Reading Knative objects (app.knative.models): status labels, traffic, templates, and the gateway address
(app.knative.gateway) from config-network and the gateway Service."""

from __future__ import annotations

import pytest

from app.knative import gateway
from app.knative.models import FAILED, IN_PROGRESS, SUCCESS, revision_from, service_from


def _service(conditions: list[dict], generation: int = 2, observed: int | None = 2) -> dict:
    status: dict = {"conditions": conditions, "url": "http://hello.default.example.com"}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"name": "hello", "generation": generation}, "status": status}


@pytest.mark.parametrize(("obj", "label", "reason"), [
    (_service([{"type": "Ready", "status": "True"}]), SUCCESS, ""),
    (_service([{"type": "Ready", "status": "True"}], generation=3), IN_PROGRESS, ""),
    (_service([{"type": "Ready", "status": "Unknown", "reason": "RevisionMissing", "message": "waiting"}]),
     IN_PROGRESS, "RevisionMissing"),
    (_service([{"type": "Ready", "status": "False", "reason": "RevisionMissing",
                "message": 'Revision "x" referenced in traffic not found.'}]), FAILED, "RevisionMissing"),
    (_service([], observed=None), IN_PROGRESS, ""),
    ({"metadata": {"name": "odd"}, "status": "not a dict", "spec": ["nope"]}, IN_PROGRESS, ""),
])
def test_status(obj: dict, label: str, reason: str) -> None:
    status = service_from(obj).status
    assert (status.label, status.reason) == (label, reason)
    assert status.settled == (label != IN_PROGRESS)


def test_service_view() -> None:
    view = service_from({
        "metadata": {"name": "hello", "namespace": "default", "resourceVersion": "5", "generation": 1,
                     "annotations": {"serving.knative.dev/creator": "alice"},
                     "labels": {"networking.knative.dev/visibility": "cluster-local"}},
        "spec": {"template": {"metadata": {"annotations": {"autoscaling.knative.dev/maxScale": "4"}},
                              "spec": {"containers": [{"image": "img", "ports": [{"containerPort": 9000, "name": "h2c"}],
                                                       "env": [{"name": "A", "value": "1"}]}]}},
                 "traffic": [{"latestRevision": True, "percent": 100}]},
        "status": {"url": "http://hello.default.svc.cluster.local", "traffic": [
            {"revisionName": "hello-00001", "latestRevision": True, "percent": 60},
            {"revisionName": "hello-00001", "latestRevision": False, "percent": 40, "tag": "v1",
             "url": "http://v1-hello.default.svc.cluster.local"}]},
    })
    assert view.creator == "alice" and view.cluster_local
    assert view.default_domain == "hello.default.svc.cluster.local"
    assert view.template.port_protocol == "9000/gRPC (h2c)"
    assert view.template.scaling.max_scale == "4"
    assert [(t.percent, t.tag) for t in view.pinned_to("hello-00001")] == [(40, "v1")]
    assert [t.percent for t in view.floating_to("hello-00001")] == [60]  # apart: it moves with the next revision
    assert [t.tag for t in view.tagged] == ["v1"]


def test_revision_view() -> None:
    revision = revision_from({
        "metadata": {"name": "hello-00002", "labels": {"serving.knative.dev/configurationGeneration": "2"},
                     "annotations": {"autoscaling.knative.dev/min-scale": "1"}},
        "spec": {"containers": [{"image": "img", "env": [{"name": "TARGET", "value": "Knative"}]}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "actualReplicas": 1},
    })
    assert revision.generation == 2 and revision.status.label == SUCCESS
    assert revision.template.env[0].value == "Knative" and revision.template.scaling.describe() == "1–∞ instances"


@pytest.mark.parametrize(("service", "address"), [
    ({"metadata": {"namespace": "kourier-system", "name": "kourier"},
      "spec": {"ports": [{"name": "http2", "port": 8080}, {"name": "https", "port": 443}]},
      "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}}, "127.0.0.1:8080"),
    ({"metadata": {"namespace": "istio-system", "name": "istio-ingressgateway"},
      "spec": {"ports": [{"name": "status-port", "port": 15021}, {"name": "http2", "port": 80}]},
      "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}}, "lb.example.com"),
    ({"metadata": {"namespace": "x", "name": "y"}, "spec": {"ports": [{"port": 80}]},
      "status": {"loadBalancer": {}}}, ""),
])
def test_gateway_from_service(service: dict, address: str) -> None:
    found = gateway.from_service(service)
    assert found.address == address
    assert found.known == bool(address)
    if not address:
        assert "no load-balancer address" in found.hint


def test_gateway_lookup_and_curl() -> None:
    assert gateway.ingress_class({"data": {"ingress-class": "kourier.ingress.networking.knative.dev"}}) == \
        "kourier.ingress.networking.knative.dev"
    assert gateway.ingress_class({"data": {"ingress.class": "contour.ingress.networking.knative.dev"}}) == \
        "contour.ingress.networking.knative.dev"
    assert gateway.ingress_class(None) == "istio.ingress.networking.knative.dev"
    assert gateway.gateway_service("istio.ingress.networking.knative.dev") == ("istio-system", "istio-ingressgateway")
    assert gateway.gateway_service("made.up") is None
    assert gateway.from_override("http://10.0.0.5:80/").curl("hello.default.example.com") == \
        'curl -H "Host: hello.default.example.com" http://10.0.0.5:80'


@pytest.mark.parametrize(("traffic", "follows"), [
    (None, True),  # no traffic block: Knative's defaulting makes it 100% to the latest ready revision
    ([], True),
    ([{"latestRevision": True, "percent": 100}], True),
    ([{"percent": 100}], True),  # latestRevision unset and no revisionName: defaulted to true
    ([{"revisionName": "a", "percent": 100}], False),  # every entry pinned by name
    ([{"revisionName": "a", "percent": 100}, {"latestRevision": True, "percent": 0}], False),  # a 0% row, no URL
    ([{"revisionName": "a", "percent": 100}, {"latestRevision": True, "percent": 0, "tag": "next"}], True),  # its URL
    ([{"revisionName": "a", "percent": 60}, {"latestRevision": True, "percent": 40}], True),
])
def test_whether_some_traffic_follows_the_latest_revision(traffic: list[dict] | None, follows: bool) -> None:
    spec = {} if traffic is None else {"traffic": traffic}
    assert service_from({"metadata": {"name": "hello"}, "spec": spec}).follows_latest is follows
