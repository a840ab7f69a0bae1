"""Manifests and merge patches for the console's writes. Every patch names the resourceVersion the user saw."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from app.knative.forms import ServiceDraft
from app.knative.history import HISTORY
from app.knative.models import (
    ANNOTATION_MAX_SCALE,
    ANNOTATION_MIN_SCALE,
    ANNOTATION_ROLLOUT,
    ANNOTATION_TARGET,
    LABEL_VISIBILITY,
    ROLLOUT_ALIASES,
    SCALING_ALIASES,
    Template,
    TrafficTarget,
)

API_VERSION = "serving.knative.dev/v1"
UPDATE_TIMESTAMP = "client.knative.dev/updateTimestamp"
# Names one Create Service form: a create retried after a timeout recognises the Service it made itself.
CREATE_ID = "knative-console/create-id"
_SCALING_KEYS = (ANNOTATION_MIN_SCALE, ANNOTATION_MAX_SCALE, ANNOTATION_TARGET, *SCALING_ALIASES.values())


def _container(template: Template, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    container = copy.deepcopy(existing) if existing else {}
    container["image"] = template.image
    if template.protocol == "grpc":
        container["ports"] = [{"containerPort": template.port or 8080, "name": "h2c"}]
    elif template.port:
        container["ports"] = [{"containerPort": template.port}]
    else:
        container.pop("ports", None)
    kept = [e for e in container.get("env") or [] if isinstance(e, dict) and "valueFrom" in e
            and e.get("name") not in {v.name for v in template.env}]
    env = [{"name": v.name, "value": v.value} for v in template.env] + kept
    if env:
        container["env"] = env
    else:
        container.pop("env", None)
    resources = copy.deepcopy(container.get("resources") or {})
    for kind, name, value in (("requests", "cpu", template.cpu_request), ("limits", "cpu", template.cpu_limit),
                              ("requests", "memory", template.memory_request),
                              ("limits", "memory", template.memory_limit)):
        section = resources.setdefault(kind, {})
        if value:
            section[name] = value
        else:
            section.pop(name, None)
        if not section:
            del resources[kind]
    if resources:
        container["resources"] = resources
    else:
        container.pop("resources", None)
    return container


def _annotations(template: Template, existing: dict[str, Any]) -> dict[str, str]:
    annotations = {k: v for k, v in existing.items() if k not in _SCALING_KEYS}
    scaling = template.scaling
    for key, value in ((ANNOTATION_MIN_SCALE, scaling.min_scale), (ANNOTATION_MAX_SCALE, scaling.max_scale),
                       (ANNOTATION_TARGET, scaling.target)):
        if value:
            annotations[key] = value
    return annotations


def _with_history(metadata: dict[str, Any], history: str) -> dict[str, Any]:
    if history:
        metadata.setdefault("annotations", {})[HISTORY] = history
    return metadata


def service_manifest(draft: ServiceDraft, create_id: str = "", history: str = "") -> dict[str, Any]:
    """A new Service: one container, traffic left to Knative's default (100% to the latest revision); `history` is
    the console's record of this change (app.knative.history)."""
    metadata: dict[str, Any] = {"name": draft.name, "namespace": draft.namespace}
    if create_id:
        metadata["annotations"] = {CREATE_ID: create_id}
    _with_history(metadata, history)
    if draft.cluster_local:
        metadata["labels"] = {LABEL_VISIBILITY: "cluster-local"}
    template: dict[str, Any] = {"spec": {"containers": [_container(draft.template)]}}
    annotations = _annotations(draft.template, {})
    if annotations:
        template["metadata"] = {"annotations": annotations}
    return {"apiVersion": API_VERSION, "kind": "Service", "metadata": metadata, "spec": {"template": template}}


def desired_template(existing: dict[str, Any], template: Template, now: str) -> dict[str, Any]:
    """The stored template with the form's values: other containers and fields are kept as they were."""
    result = copy.deepcopy(existing) if isinstance(existing, dict) else {}
    metadata = result.setdefault("metadata", {})
    metadata.pop("name", None)  # a kept BYO name would make Knative refuse the change
    annotations = _annotations(template, metadata.get("annotations") or {})
    # Like kn: a new revision even when nothing else changed.
    annotations[UPDATE_TIMESTAMP] = now
    metadata["annotations"] = annotations
    spec = result.setdefault("spec", {})
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    serving = next((i for i, c in enumerate(containers) if c.get("ports")), 0)
    if containers:
        containers[serving] = _container(template, containers[serving])
    else:
        containers = [_container(template)]
    spec["containers"] = containers
    return result


def merge_diff(old: Any, new: Any) -> Any:
    """The RFC 7386 merge patch that turns `old` into `new` (lists are replaced whole)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return copy.deepcopy(new)
    patch: dict[str, Any] = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = copy.deepcopy(value)
        elif old[key] != value:
            patch[key] = merge_diff(old[key], value)
    return patch


def new_revision_patch(
    service: dict[str, Any], template: Template, targets: Sequence[TrafficTarget], now: str, name: str = "",
    rollout: int | None = None, history: str = "",
) -> dict[str, Any]:
    """One merge patch for `spec.template` and `spec.traffic` together, guarded by the resourceVersion.

    `name`, when given, becomes the new revision's name (`spec.template.metadata.name`, Knative's "bring your
    own" name) so that `spec.traffic` can pin the new revision by name in the same write. `rollout`, in seconds,
    sets the Service's serving.knative.dev/rollout-duration (Knative then moves the floating share to the new
    revision step by step); None removes one the Service has. `history`, the console's record with this change
    added, goes in the same write.
    """
    existing = ((service.get("spec") or {}).get("template")) or {}
    desired = desired_template(existing, template, now)
    if name:
        desired["metadata"]["name"] = name
    metadata: dict[str, Any] = {"resourceVersion": service["metadata"]["resourceVersion"]}
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    if rollout is not None:
        metadata["annotations"] = {ANNOTATION_ROLLOUT: f"{rollout}s"}
    elif any(key in annotations for key in ROLLOUT_ALIASES):
        metadata["annotations"] = {key: None for key in ROLLOUT_ALIASES if key in annotations}
    return {
        "metadata": _with_history(metadata, history),
        "spec": {
            "template": merge_diff(existing, desired),
            "traffic": [t.to_spec() for t in targets],
        },
    }


def traffic_patch(resource_version: str, targets: Sequence[TrafficTarget], history: str = "") -> dict[str, Any]:
    return {"metadata": _with_history({"resourceVersion": resource_version}, history),
            "spec": {"traffic": [t.to_spec() for t in targets]}}


def delete_options(resource_version: str) -> dict[str, Any]:
    """What a delete sends: the children go in the background, and only if the Service is still the one shown."""
    options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
    if resource_version:
        options["preconditions"] = {"resourceVersion": resource_version}
    return options
