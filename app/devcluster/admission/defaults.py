"""Knative's defaulting webhook (`webhook.serving.knative.dev`) over plain JSON objects.

Mirrors `pkg/apis/serving/v1/*_defaults.go` with the stock `config-defaults`: container names,
`timeoutSeconds`, `containerConcurrency`, `enableServiceLinks`, the default readiness probe,
`resources: {}`, traffic entries, and the creator/lastModifier annotations. The CRD schema's own
defaults (`protocol: TCP` on ports) and Go's serialization of probe ports are applied too,
because the apiserver applies them to every stored object.
"""

from __future__ import annotations

from typing import Any

from .diff import normalized
from .names import child_name

CREATOR = "serving.knative.dev/creator"
LAST_MODIFIER = "serving.knative.dev/lastModifier"

USER_CONTAINER_NAME = "user-container"
REVISION_TIMEOUT_SECONDS = 300
CONTAINER_CONCURRENCY = 0

_PROBES = ("readinessProbe", "livenessProbe", "startupProbe")


def default_object(kind: str, operation: str, obj: dict, old: dict | None, user: str) -> None:
    creating = operation == "CREATE"
    # The apiserver applies its schema defaults before any webhook sees the object.
    apply_schema_defaults(kind, obj)
    spec = _child(obj, "spec")
    old_spec = (old or {}).get("spec") if not creating else None
    if kind == "Revision":
        # The Revision spec is immutable; Knative skips defaulting on update for that reason.
        if creating:
            default_revision_spec(spec, creating)
    elif kind == "Service":
        _default_configuration_spec(spec, old_spec, creating)
        default_traffic(spec, in_service=True)
        _set_user_info(obj, old_spec, spec, creating, user)
    elif kind == "Configuration":
        _default_configuration_spec(spec, old_spec, creating)
        if not owned_by_service(obj):
            _set_user_info(obj, old_spec, spec, creating, user)
    elif kind == "Route":
        default_traffic(spec, in_service=False)
        if not owned_by_service(obj):
            _set_user_info(obj, old_spec, spec, creating, user)


def owned_by_service(obj: dict) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(isinstance(r, dict) and r.get("kind") == "Service" and r.get("controller") for r in refs)


def _child(parent: dict, key: str) -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def _default_configuration_spec(spec: dict, old_spec: dict | None, creating: bool) -> None:
    template = _child(spec, "template")
    # Go always serializes the template's ObjectMeta, so a stored template shows `metadata: {}`.
    _child(template, "metadata")
    if old_spec is not None:
        new_name = (template.get("metadata") or {}).get("name") or ""
        old_name = ((old_spec.get("template") or {}).get("metadata") or {}).get("name") or ""
        if new_name and new_name == old_name:
            # Defaulting would change a template whose BYO name stays, which the
            # validating webhook then refuses; Knative leaves it alone instead.
            return
    default_revision_spec(_child(template, "spec"), creating)


def default_revision_spec(spec: dict, creating: bool) -> None:
    if not spec.get("timeoutSeconds"):
        spec["timeoutSeconds"] = REVISION_TIMEOUT_SECONDS
    if spec.get("containerConcurrency") is None:
        spec["containerConcurrency"] = CONTAINER_CONCURRENCY
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    _default_container_names(containers, spec.get("initContainers") or [])
    emptydir_volumes = {
        v.get("name")
        for v in spec.get("volumes") or []
        if isinstance(v, dict) and (v.get("emptyDir") is not None or v.get("persistentVolumeClaim") is not None)
    }
    for container in containers:
        if not isinstance(container.get("resources"), dict):
            container["resources"] = {}
        # Only the serving container gets the default probe when there are several.
        if len(containers) == 1 or container.get("ports"):
            _default_readiness_probe(container)
        if spec.get("enableServiceLinks") is None and creating:
            spec["enableServiceLinks"] = False
        for mount in container.get("volumeMounts") or []:
            if isinstance(mount, dict) and mount.get("name") not in emptydir_volumes:
                mount["readOnly"] = True


def _default_container_names(containers: list[dict], init_containers: list) -> None:
    taken = {c.get("name") for c in containers} | {c.get("name") for c in init_containers if isinstance(c, dict)}
    suffix = 0
    for container in containers:
        if container.get("name"):
            continue
        name = USER_CONTAINER_NAME
        if len(containers) > 1 or name in taken:
            while True:
                name = child_name(USER_CONTAINER_NAME, f"-{suffix}")
                suffix += 1
                if name not in taken:
                    break
        container["name"] = name


def _default_readiness_probe(container: dict) -> None:
    probe = container.get("readinessProbe")
    if not isinstance(probe, dict):
        probe = container["readinessProbe"] = {}
    if not any(probe.get(h) is not None for h in ("tcpSocket", "httpGet", "exec", "grpc")):
        probe["tcpSocket"] = {"port": 0}
    if not probe.get("successThreshold"):
        probe["successThreshold"] = 1
    if probe.get("periodSeconds"):
        # Kubernetes' own defaults, which Knative copies once periodSeconds is set.
        if not probe.get("failureThreshold"):
            probe["failureThreshold"] = 3
        if not probe.get("timeoutSeconds"):
            probe["timeoutSeconds"] = 1


def default_traffic(spec: dict, in_service: bool) -> None:
    traffic = spec.get("traffic")
    if not traffic:
        if not in_service:
            return
        traffic = spec["traffic"] = [{"latestRevision": True, "percent": 100}]
    for target in traffic:
        if not isinstance(target, dict):
            continue
        if target.get("latestRevision") is None:
            target["latestRevision"] = not target.get("revisionName")
        if target.get("percent") is None:
            target["percent"] = 0


def _set_user_info(obj: dict, old_spec: dict | None, spec: dict, creating: bool, user: str) -> None:
    metadata = _child(obj, "metadata")
    if not creating and normalized(old_spec) == normalized(spec):
        return
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict):
        annotations = metadata["annotations"] = {}
    if creating:
        annotations[CREATOR] = user
    annotations[LAST_MODIFIER] = user


def apply_schema_defaults(kind: str, obj: dict) -> None:
    """What the apiserver itself adds: `protocol: TCP` and the serialized `port: 0` of probes."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if kind in ("Service", "Configuration"):
        template = spec.get("template")
        spec = template.get("spec") if isinstance(template, dict) else None
    if kind == "Route" or not isinstance(spec, dict):
        return
    for container in spec.get("containers") or []:
        if not isinstance(container, dict):
            continue
        for port in container.get("ports") or []:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"
        for probe_name in _PROBES:
            _serialize_probe_port(container.get(probe_name))


def _serialize_probe_port(probe: Any) -> None:
    # IntOrString has no omitempty in Go, so a stored handler always carries `port`.
    if not isinstance(probe, dict):
        return
    for handler in ("tcpSocket", "httpGet"):
        action = probe.get(handler)
        if isinstance(action, dict) and "port" not in action:
            action["port"] = 0
