"""What a DELETE does to an object: preconditions, propagation policy and finalizers, as kube-apiserver decides."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from app.devcluster.apiserver import errors
from app.devcluster.apiserver.resources import NAMESPACE, ResourceDef

IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")


@dataclass(frozen=True)
class Deletion:
    """The change to commit (`MODIFIED` while finalizers are pending, `DELETED` otherwise, or none) and the answer."""

    change: str  # "MODIFIED", "DELETED" or "" for nothing to write
    obj: dict[str, Any]  # the object to commit
    code: int
    body: dict[str, Any]  # what the client gets


def plan(resource: ResourceDef, old: dict[str, Any], options: dict[str, Any], now: str) -> Deletion:
    name = old["metadata"]["name"]
    _check_preconditions(resource, old, options)
    if resource is NAMESPACE and name in IMMORTAL_NAMESPACES:
        raise errors.forbidden("namespaces", "", name, "this namespace may not be deleted")
    policy = _policy(options)
    new = copy.deepcopy(old)
    metadata = new["metadata"]
    finalizers = list(metadata.get("finalizers") or [])
    if policy == "Orphan" and "orphan" not in finalizers:
        finalizers.append("orphan")
    if policy == "Foreground" and "foregroundDeletion" not in finalizers:
        finalizers.append("foregroundDeletion")
    if resource is NAMESPACE:
        new.setdefault("status", {})["phase"] = "Terminating"
    pending = finalizers or (resource is NAMESPACE and (new.get("spec") or {}).get("finalizers"))
    if not pending:
        details: dict[str, Any] = {"name": name}
        if resource.group:
            details["group"] = resource.group
        details["kind"] = resource.plural
        details["uid"] = old["metadata"]["uid"]
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
        return Deletion("DELETED", new, 200, status)
    if old["metadata"].get("deletionTimestamp") and finalizers == list(old["metadata"].get("finalizers") or []):
        return Deletion("", old, 200, old)
    metadata["finalizers"] = finalizers
    if not finalizers:
        metadata.pop("finalizers")
    metadata.setdefault("deletionTimestamp", now)
    metadata.setdefault("deletionGracePeriodSeconds", 0)
    if resource.has_generation:
        metadata["generation"] = int(metadata.get("generation", 0)) + 1
    code = 202 if options.get("orphanDependents") is False else 200
    return Deletion("MODIFIED", new, code, new)


def _check_preconditions(resource: ResourceDef, old: dict[str, Any], options: dict[str, Any]) -> None:
    preconditions = options.get("preconditions") or {}
    if not isinstance(preconditions, dict):
        raise errors.bad_request("preconditions must be an object")
    for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        wanted = preconditions.get(key)
        if wanted and wanted != old["metadata"].get(key):
            raise errors.conflict(
                resource.plural, resource.group, old["metadata"]["name"],
                f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: "
                f"{old['metadata'].get(key)}",
            )


def _policy(options: dict[str, Any]) -> str | None:
    policy = options.get("propagationPolicy")
    if policy is None and options.get("orphanDependents") is True:
        policy = "Orphan"
    if policy not in (None, "Background", "Foreground", "Orphan"):
        raise errors.invalid(
            "DeleteOptions", "meta.k8s.io", "",
            [("FieldValueNotSupported", "propagationPolicy",
              f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", "nil"')],
        )
    return policy
