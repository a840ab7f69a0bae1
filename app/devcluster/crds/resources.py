"""Knative Serving's four kinds as its CustomResourceDefinitions declare them: names, scope, printer columns."""

from __future__ import annotations

from app.devcluster.apiserver.resources import Column, ResourceDef

KNATIVE_GROUP = "serving.knative.dev"


def _ready_columns() -> tuple[Column, ...]:
    return (
        Column("Ready", "string", ".status.conditions[?(@.type=='Ready')].status"),
        Column("Reason", "string", ".status.conditions[?(@.type=='Ready')].reason"),
    )


_KNATIVE = dict(group=KNATIVE_GROUP, version="v1", namespaced=True, categories=("all", "knative", "serving"),
                subresources=("status",), custom=True)

SERVICE = ResourceDef(
    plural="services", singular="service", kind="Service", short_names=("kservice", "ksvc"),
    columns=(
        Column("URL", "string", ".status.url"),
        Column("LatestCreated", "string", ".status.latestCreatedRevisionName"),
        Column("LatestReady", "string", ".status.latestReadyRevisionName"),
        *_ready_columns(),
    ),
    **_KNATIVE,
)
CONFIGURATION = ResourceDef(
    plural="configurations", singular="configuration", kind="Configuration", short_names=("config", "cfg"),
    columns=(
        Column("LatestCreated", "string", ".status.latestCreatedRevisionName"),
        Column("LatestReady", "string", ".status.latestReadyRevisionName"),
        *_ready_columns(),
    ),
    **_KNATIVE,
)
REVISION = ResourceDef(
    plural="revisions", singular="revision", kind="Revision", short_names=("rev",),
    columns=(
        Column("Config Name", "string", ".metadata.labels['serving\\.knative\\.dev/configuration']"),
        Column("Generation", "string", ".metadata.labels['serving\\.knative\\.dev/configurationGeneration']"),
        *_ready_columns(),
        Column("Actual Replicas", "integer", ".status.actualReplicas"),
        Column("Desired Replicas", "integer", ".status.desiredReplicas"),
    ),
    **_KNATIVE,
)
ROUTE = ResourceDef(
    plural="routes", singular="route", kind="Route", short_names=("rt",),
    columns=(Column("URL", "string", ".status.url"), *_ready_columns()),
    **_KNATIVE,
)

KNATIVE_RESOURCES = (SERVICE, CONFIGURATION, REVISION, ROUTE)
