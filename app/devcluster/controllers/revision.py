"""Revision status: Deploying for a configurable start-up delay, then Ready, with digests and replicas.

The dev cluster runs no containers. A revision "starts" after `--revision-start-delay` seconds
so that the in-between states are visible, and reports one replica while it gets traffic and
none (scaled to zero, still Ready) when it gets none, as Knative's autoscaler would.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from app.devcluster.controllers import conditions
from app.devcluster.controllers.context import Context
from app.devcluster.controllers.indexes import STATUS_TRAFFIC
from app.devcluster.controllers.labels import ANNOTATION_ROUTES, ANNOTATION_ROUTING_MODIFIED, LABEL_ROUTING_STATE
from app.devcluster.crds.resources import REVISION, ROUTE

DEPLOYING = "Deploying"


def image_digest(image: str) -> str:
    """A stable fake digest: the repository with the SHA-256 of the whole image string."""
    if "@" in image:
        return image
    repository = image
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repository = image[: len(image) - len(last)] + last.split(":", 1)[0]
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def routing(ctx: Context, revision: dict[str, Any]) -> tuple[list[str], int]:
    """Routes whose status sends this revision traffic (at any percent), and the total percent."""
    name = revision["metadata"]["name"]
    routes, percent = [], 0
    for route in ctx.indexed(ROUTE, STATUS_TRAFFIC, name, revision["metadata"]["namespace"]):
        hits = [t for t in (route.get("status") or {}).get("traffic") or [] if t.get("revisionName") == name]
        if hits:
            routes.append(route["metadata"]["name"])
            percent += sum(int(t.get("percent") or 0) for t in hits)
    return sorted(routes), percent


def reconcile(ctx: Context, namespace: str, name: str) -> None:
    revision = ctx.get(REVISION, namespace, name)
    if revision is None or revision["metadata"].get("deletionTimestamp"):
        return
    revision = _sync_routing_labels(ctx, revision)
    previous = revision.get("status") or {}
    was_ready = conditions.status_of(revision) == "True"
    now = ctx.clock()
    started = ctx.first_seen.setdefault(revision["metadata"]["uid"], now)
    ready = was_ready or now - started >= ctx.start_delay
    if not ready:
        ctx.schedule((REVISION.key, namespace, name), started + ctx.start_delay - now)
    _, percent = routing(ctx, revision)
    conds = conditions.ConditionSet(
        previous.get("conditions"), ctx.now(), "Ready", ("ContainerHealthy", "ResourcesAvailable")
    )
    if ready:
        conds.set("ContainerHealthy", "True")
        conds.set("ResourcesAvailable", "True")
        if percent > 0:
            conds.set("Active", "True", severity=conditions.SEVERITY_INFO)
        else:
            conds.set("Active", "False", "NoTraffic", "The target is not receiving traffic.",
                      severity=conditions.SEVERITY_INFO)
        replicas = 1 if percent > 0 else 0
    else:
        conds.set("ContainerHealthy", "Unknown", DEPLOYING)
        conds.set("ResourcesAvailable", "Unknown", DEPLOYING)
        conds.set("Active", "Unknown", DEPLOYING, severity=conditions.SEVERITY_INFO)
        replicas = 0
    containers = (revision.get("spec") or {}).get("containers") or []
    status: dict[str, Any] = {
        "actualReplicas": replicas,
        "conditions": conds.result(),
        "containerStatuses": [
            {"name": c.get("name", ""), "imageDigest": image_digest(str(c.get("image", "")))}
            for c in containers if isinstance(c, dict)
        ],
        "desiredReplicas": 1 if not ready or percent > 0 else 0,
        "observedGeneration": revision["metadata"].get("generation", 1),
    }
    ctx.write_status(REVISION, revision, status)


def _sync_routing_labels(ctx: Context, revision: dict[str, Any]) -> dict[str, Any]:
    routes, _ = routing(ctx, revision)
    labels = revision["metadata"].get("labels") or {}
    state = labels.get(LABEL_ROUTING_STATE, "pending")
    if routes:
        wanted = "active"
    elif state == "pending" and conditions.status_of(revision) != "True":
        wanted = "pending"
    else:
        wanted = "reserve"
    annotations = revision["metadata"].get("annotations") or {}
    # A pending revision keeps the routes it was created for; a reserve one, like Knative's
    # labeler leaves it, names no route.
    wanted_routes = annotations.get(ANNOTATION_ROUTES, "") if wanted == "pending" else ",".join(routes)
    if wanted == state and annotations.get(ANNOTATION_ROUTES, "") == wanted_routes:
        return revision
    new = copy.deepcopy(revision)
    new["metadata"].setdefault("labels", {})[LABEL_ROUTING_STATE] = wanted
    new_annotations = new["metadata"].setdefault("annotations", {})
    if wanted_routes:
        new_annotations[ANNOTATION_ROUTES] = wanted_routes
    else:
        new_annotations.pop(ANNOTATION_ROUTES, None)
    if wanted != state:
        new_annotations[ANNOTATION_ROUTING_MODIFIED] = ctx.now()
    return ctx.write(REVISION, new, revision) or revision
