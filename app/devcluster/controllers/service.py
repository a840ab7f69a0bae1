"""Service → one Configuration and one Route with the Service's name; status mirrors both."""

from __future__ import annotations

import copy
from typing import Any

from app.devcluster.controllers import conditions
from app.devcluster.controllers.context import Context, controlled_by, controller_reference
from app.devcluster.controllers.labels import (
    ANNOTATION_ROLLOUT,
    ANNOTATION_ROUTES,
    LABEL_SERVICE,
    LABEL_SERVICE_UID,
    LAST_APPLIED,
)
from app.devcluster.crds.resources import CONFIGURATION, ROUTE, SERVICE

OUT_OF_DATE = "OutOfDate"
_ABSENT = object()


def desired_configuration(service: dict[str, Any]) -> dict[str, Any]:
    meta = service["metadata"]
    labels = dict(meta.get("labels") or {})
    labels[LABEL_SERVICE] = meta["name"]
    labels[LABEL_SERVICE_UID] = meta["uid"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != LAST_APPLIED and k not in ANNOTATION_ROLLOUT}
    annotations[ANNOTATION_ROUTES] = meta["name"]
    return {
        "apiVersion": CONFIGURATION.api_version,
        "kind": CONFIGURATION.kind,
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "labels": labels, "annotations": annotations,
            "ownerReferences": [controller_reference(service)],
        },
        "spec": {"template": copy.deepcopy((service.get("spec") or {}).get("template") or {})},
    }


def desired_route(service: dict[str, Any]) -> dict[str, Any]:
    meta = service["metadata"]
    labels = dict(meta.get("labels") or {})
    labels[LABEL_SERVICE] = meta["name"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    traffic = []
    for target in (service.get("spec") or {}).get("traffic") or []:
        entry = copy.deepcopy(target)
        if not entry.get("revisionName"):
            entry["configurationName"] = meta["name"]
        traffic.append(entry)
    return {
        "apiVersion": ROUTE.api_version,
        "kind": ROUTE.kind,
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "labels": labels, "annotations": annotations,
            "ownerReferences": [controller_reference(service)],
        },
        "spec": {"traffic": traffic},
    }


def _sync_child(ctx: Context, service: dict[str, Any], desired: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """Create or update one child; (child, owned) where owned is False for a stranger's object."""
    resource = CONFIGURATION if desired["kind"] == "Configuration" else ROUTE
    meta = service["metadata"]
    existing = ctx.get(resource, meta["namespace"], meta["name"])
    if existing is None:
        created = ctx.write(resource, desired, None)
        if created is not None:
            ctx.record(service, "Created", f'Created {resource.kind} "{meta["name"]}"')
        return created, True
    if not controlled_by(existing, service):
        return existing, False
    if existing["metadata"].get("deletionTimestamp"):
        return existing, True
    wanted = (desired["metadata"]["labels"], desired["metadata"]["annotations"], desired["spec"])
    if (existing["metadata"].get("labels", _ABSENT), existing["metadata"].get("annotations", _ABSENT),
            existing.get("spec", _ABSENT)) == wanted:
        return existing, True  # compared before copying: most reconciles change nothing
    updated = copy.deepcopy(existing)
    updated["metadata"]["labels"], updated["metadata"]["annotations"], updated["spec"] = wanted
    written = ctx.write(resource, updated, existing)
    return written or existing, True


def reconcile(ctx: Context, namespace: str, name: str) -> None:
    service = ctx.get(SERVICE, namespace, name)
    if service is None or service["metadata"].get("deletionTimestamp"):
        return
    configuration, config_owned = _sync_child(ctx, service, desired_configuration(service))
    route, route_owned = _sync_child(ctx, service, desired_route(service))
    # Re-read: the children's writes above gave the Service a newer resourceVersion's worth of context.
    service = ctx.get(SERVICE, namespace, name)
    if service is None:
        return
    status: dict[str, Any] = {"observedGeneration": service["metadata"].get("generation", 1)}
    previous = (service.get("status") or {}).get("conditions")
    conds = conditions.ConditionSet(previous, ctx.now(), "Ready", ("ConfigurationsReady", "RoutesReady"))
    _configuration_status(conds, status, configuration, config_owned, name)
    _route_status(conds, status, route, route_owned, name)
    byo = (((service.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("name")
    config_ready = conds.conditions.get("ConfigurationsReady", {})
    if byo and config_ready.get("reason") == "RevisionFailed" and "already exists" in config_ready.get("message", ""):
        conds.set("RoutesReady", "False", "RevisionNameTaken",
                  f'The revision name "{byo}" is taken by a conflicting Revision, so traffic will not be migrated')
    status["conditions"] = conds.result()
    ordered = {k: status[k] for k in sorted(status)}
    ctx.write_status(SERVICE, service, ordered)


def _configuration_status(
    conds: conditions.ConditionSet, status: dict[str, Any], configuration: dict[str, Any] | None, owned: bool,
    name: str,
) -> None:
    if configuration is None:
        conds.set("ConfigurationsReady", "Unknown", OUT_OF_DATE,
                  "The Configuration is still working to reflect the latest desired specification.")
        return
    if not owned:
        conds.set("ConfigurationsReady", "False", "NotOwned",
                  f'There is an existing Configuration "{name}" that we do not own.')
        return
    cfg_status = configuration.get("status") or {}
    for key in ("latestCreatedRevisionName", "latestReadyRevisionName"):
        if cfg_status.get(key):
            status[key] = cfg_status[key]
    if cfg_status.get("observedGeneration") != configuration["metadata"].get("generation"):
        conds.set("ConfigurationsReady", "Unknown", OUT_OF_DATE,
                  "The Configuration is still working to reflect the latest desired specification.")
        return
    ready = conditions.get(cfg_status.get("conditions") or [], "Ready") or {"status": "Unknown"}
    conds.set("ConfigurationsReady", ready["status"], ready.get("reason", ""), ready.get("message", ""))


def _route_status(
    conds: conditions.ConditionSet, status: dict[str, Any], route: dict[str, Any] | None, owned: bool, name: str,
) -> None:
    if route is None:
        conds.set("RoutesReady", "Unknown", OUT_OF_DATE,
                  "The Route is still working to reflect the latest desired specification.")
        return
    if not owned:
        conds.set("RoutesReady", "False", "NotOwned", f'There is an existing Route "{name}" that we do not own.')
        return
    rt_status = route.get("status") or {}
    for key in ("url", "address", "traffic"):
        if key in rt_status:
            status[key] = copy.deepcopy(rt_status[key])
    if rt_status.get("observedGeneration") != route["metadata"].get("generation"):
        conds.set("RoutesReady", "Unknown", OUT_OF_DATE,
                  "The Route is still working to reflect the latest desired specification.")
        return
    ready = conditions.get(rt_status.get("conditions") or [], "Ready") or {"status": "Unknown"}
    if ready["status"] == "True":
        latest_ready = status.get("latestReadyRevisionName")
        for target in rt_status.get("traffic") or []:
            if target.get("latestRevision") and latest_ready and target.get("revisionName") != latest_ready:
                conds.set("RoutesReady", "Unknown", "TrafficNotMigrated",
                          "Traffic is not yet migrated to the latest revision.")
                return
    conds.set("RoutesReady", ready["status"], ready.get("reason", ""), ready.get("message", ""))
