"""The objects a new cluster has before anyone uses it, and the helper installers use to add theirs."""

from __future__ import annotations

from typing import Any

from app.devcluster.apiserver.resources import NAMESPACE, ResourceDef
from app.devcluster.apiserver.rest import Rest

MANAGER = "devcluster-seed"


def ensure(rest: Rest, resource: ResourceDef, obj: dict[str, Any], manager: str = MANAGER) -> dict[str, Any]:
    """The stored object of that name, created from `obj` when missing; an existing one is kept as users left it."""
    metadata = obj["metadata"]
    existing = rest.store.get(resource.key, metadata.get("namespace", ""), metadata["name"])
    if existing is not None:
        return existing
    return rest.system_write(resource, obj, None, manager)


def seed(rest: Rest) -> None:
    ensure(rest, NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
