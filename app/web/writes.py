"""Writes to a Service that report a conflict only when someone else changed what the user is editing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import Conflict
from app.knative.basis import Basis

ATTEMPTS = 3


class SpecChanged(Exception):
    """The Service's spec is no longer what the form was built from; `fresh` is the object as it is now."""

    def __init__(self, fresh: dict[str, Any]) -> None:
        super().__init__("the Service changed")
        self.fresh = fresh


def resource_version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


async def patch_service(
    cluster: Cluster, namespace: str, name: str, basis: Basis, obj: dict[str, Any],
    patch_for: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """Apply `patch_for(obj)` (a merge patch carrying obj's resourceVersion) while `basis` holds for obj.

    Each attempt is one conditional write. A Conflict means the object moved after it was read: read it
    again and go on only if its spec is still the form's (a controller's status update, a label).
    """
    for _ in range(ATTEMPTS):
        if not basis.holds_for(obj):
            raise SpecChanged(obj)
        try:
            return await cluster.patch(r.SERVICE, name, patch_for(obj), namespace)
        except Conflict:
            obj = await cluster.get(r.SERVICE, name, namespace)
    raise SpecChanged(obj)


async def patch_first(
    cluster: Cluster, namespace: str, name: str, basis: Basis, patch_for: Callable[[Basis], dict[str, Any]],
) -> dict[str, Any]:
    """Write first, read only when needed: `patch_for(basis)` with what the form carried (its resourceVersion, and
    the history annotation it was vouched for with).

    If nothing moved since the form was rendered, that one conditional PATCH is all. A Conflict means something
    moved (a status update or someone else's change): read the Service and go on as `patch_service` does, with
    what the Service has now.
    """
    try:
        return await cluster.patch(r.SERVICE, name, patch_for(basis), namespace)
    except Conflict:
        obj = await cluster.get(r.SERVICE, name, namespace)
    return await patch_service(cluster, namespace, name, basis, obj, lambda fresh: patch_for(Basis.of(fresh)))
