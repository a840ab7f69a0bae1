"""Knative Serving's four kinds as its CustomResourceDefinitions declare them: names, scope, printer columns."""

from __future__ import annotations

from app.devcluster.apiserver.resources import Column, ResourceDef

KNATIVE_GROUP = "serving.knative.dev"


def _ready_columns() -> tuple[Column, ...]:
    return (
        Column("Ready", "string", ".status.conditions[?(@.type=='Ready')].status"),
        Column("Reason", "string", ".status.conditions[?(@.type=='Ready')].reason"),
    )


def _knative(plural: str, singular: str, kind: str, short_names: tuple[str, ...], *columns: Column) -> ResourceDef:
    return ResourceDef(
        group=KNATIVE_GROUP, version="v1", plural=plural, singular=singular, kind=kind, namespaced=True,
        short_names=short_names, categories=("all", "knative", "serving"), subresources=("status",),
        columns=columns, custom=True,
    )


SERVICE = _knative(
    "services", "service", "Service", ("kservice", "ksvc"),
    Column("URL", "string", ".status.url"),
    Column("LatestCreated", "string", ".status.latestCreatedRevisionName"),
    Column("LatestReady", "string", ".status.latestReadyRevisionName"),
    *_ready_columns(),
)
CONFIGURATION = _knative(
    "configurations", "configuration", "Configuration", ("config", "cfg"),
    Column("LatestCreated", "string", ".status.latestCreatedRevisionName"),
    Column("LatestReady", "string", ".status.latestReadyRevisionName"),
    *_ready_columns(),
)
REVISION = _knative(
    "revisions", "revision", "Revision", ("rev",),
    Column("Config Name", "string", ".metadata.labels['serving\\.knative\\.dev/configuration']"),
    Column("Generation", "string", ".metadata.labels['serving\\.knative\\.dev/configurationGeneration']"),
    *_ready_columns(),
    Column("Actual Replicas", "integer", ".status.actualReplicas"),
    Column("Desired Replicas", "integer", ".status.desiredReplicas"),
)
ROUTE = _knative("routes", "route", "Route", ("rt",), Column("URL", "string", ".status.url"), *_ready_columns())

# Knative's internal networking kind: a Route's ingress, which Kourier programs (and where a rollout's state lives).
NETWORKING_GROUP = "networking.internal.knative.dev"
INGRESS = ResourceDef(
    group=NETWORKING_GROUP, version="v1alpha1", plural="ingresses", singular="ingress", kind="Ingress",
    namespaced=True, short_names=("kingress", "king"), categories=("knative-internal", "networking"),
    subresources=("status",), columns=_ready_columns(), custom=True,
)

KNATIVE_RESOURCES = (SERVICE, CONFIGURATION, REVISION, ROUTE, INGRESS)
