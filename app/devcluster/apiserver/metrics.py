"""The API server's `/metrics`, in Prometheus' text format and under kube-apiserver's metric names: requests by
verb, group, version, resource, subresource, scope and code with their latency, open watches, and the objects and
bytes stored. Its own registry, so that two servers in one process never mix their counts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.devcluster.apiserver.rbac import Attributes
from app.devcluster.apiserver.resources import Registry
from app.devcluster.apiserver.store import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component")
# kube-apiserver's buckets for apiserver_request_duration_seconds
_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60)


def metric_verb(attrs: Attributes, method: str, patch_type: str = "") -> str:
    """The `verb` label as kube-apiserver's metrics.CleanVerb reports it: LIST, WATCH, GET, POST, APPLY, …"""
    if not attrs.resource_request:
        return method.upper()
    if attrs.verb in ("list", "watch"):
        return attrs.verb.upper()
    if method == "PATCH" and patch_type == "apply":
        return "APPLY"
    return method.upper()


def _scope(attrs: Attributes) -> str:
    """metrics.CleanScope."""
    if attrs.name or attrs.verb == "create":
        return "resource"
    if attrs.namespace:
        return "namespace"
    return "cluster" if attrs.resource_request else ""


class _Stored(Collector):
    """apiserver_storage_objects and apiserver_storage_size_bytes, read from the store when scraped."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    def collect(self) -> Iterator[GaugeMetricFamily]:
        objects = GaugeMetricFamily("apiserver_storage_objects",
                                    "Number of stored objects at the time of last check split by kind.",
                                    labels=["resource"])
        for resource in {r.key: r for r in self.registry.resources if not r.virtual}.values():
            objects.add_metric([resource.qualified], self.store.count(resource.key))
        yield objects
        size = GaugeMetricFamily("apiserver_storage_size_bytes",
                                 "Size of the storage database file physically allocated in bytes.",
                                 labels=["storage_cluster_id"])
        size.add_metric(["devcluster"], self.store.size_bytes())
        yield size


class ApiMetrics:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "apiserver_request", "Counter of apiserver requests broken out for each verb, dry run value, group, "
            "version, resource, scope, component, and HTTP response code.", [*_LABELS, "code"],
            registry=self.registry)
        self.duration = Histogram(
            "apiserver_request_duration_seconds", "Response latency distribution in seconds for each verb, dry run "
            "value, group, version, resource, subresource, scope and component.", _LABELS, buckets=_BUCKETS,
            registry=self.registry)
        self.watches = Gauge(
            "apiserver_longrunning_requests", "Gauge of all active long-running apiserver requests broken out by "
            "verb, group, version, resource, scope and component.", _LABELS, registry=self.registry)
        self.registry.register(_Stored(store, registry))

    def labels(self, attrs: Attributes, verb: str, dry_run: bool) -> dict[str, Any]:
        return {"verb": verb, "dry_run": "All" if dry_run else "", "group": attrs.api_group,
                "version": attrs.api_version, "resource": attrs.resource, "subresource": attrs.subresource,
                "scope": _scope(attrs), "component": "apiserver"}

    def observe(self, labels: dict[str, Any], code: int, seconds: float) -> None:
        self.requests.labels(**labels, code=str(code)).inc()
        if labels["verb"] != "WATCH":
            self.duration.labels(**labels).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
