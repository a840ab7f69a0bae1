"""One container of a revision: fields, name, env, envFrom, image, ports, probes, mounts.

As knative/serving `pkg/apis/serving/k8s_validation.go` (`ValidateContainer`,
`validateSidecarContainer`) with the default `config-features`. Errors are relative to the
container; the pod-level validator adds `containers[i]`. Where Knative prefixes already
collected errors a second time (probe handlers, `envFrom`), that is kept, since it shows in
the text the webhook sends.
"""

from __future__ import annotations

from .fielderror import (
    CURRENT_FIELD,
    FieldError,
    disallowed_fields,
    go_quote,
    invalid_value,
    missing_field,
    missing_one_of,
    multiple_one_of,
    out_of_bounds,
)
from .goparse import clean_path
from .imageref import parse_error

MAX_INT32 = 2147483647
RESERVED_CONTAINER_NAMES = {"queue-proxy"}
RESERVED_ENV = {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"}
RESERVED_PORTS = {8012, 8013, 8022, 9090, 9091, 8008}
PORT_NAMES = {"", "h2c", "http1"}
RESERVED_PATHS = {"/", "/dev", "/dev/log"}

CONTAINER_FIELDS = {
    "name", "image", "command", "args", "env", "envFrom", "workingDir", "ports", "resources",
    "readinessProbe", "livenessProbe", "startupProbe", "securityContext", "volumeMounts",
    "imagePullPolicy", "terminationMessagePath", "terminationMessagePolicy",
}  # fmt: skip
_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")
_PROBE_FIELDS = {"initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"}
_HANDLER_FIELDS = {
    "httpGet": {"host", "path", "scheme", "httpHeaders", "port"},
    "tcpSocket": {"host", "port"},
    "exec": {"command"},
    "grpc": {"port", "service"},
}
_SECURITY_CONTEXT_FIELDS = {
    "capabilities", "readOnlyRootFilesystem", "runAsGroup", "runAsNonRoot", "runAsUser",
    "allowPrivilegeEscalation", "seccompProfile",
}  # fmt: skip


def disallowed_keys(value: object, allowed: set[str] | dict) -> FieldError:
    """CheckDisallowedFields over a JSON object: every key outside the mask, sorted."""
    if not isinstance(value, dict):
        return FieldError()
    extra = sorted(k for k, v in value.items() if k not in allowed and v is not None)
    return disallowed_fields(*extra) if extra else FieldError()


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def user_container(container: dict, volumes: dict, port_name: str) -> FieldError:
    errs = _probe(container.get("livenessProbe"), port_name).via_field("livenessProbe")
    errs = errs.also(_readiness_probe(container.get("readinessProbe"), port_name).via_field("readinessProbe"))
    errs = errs.also(_probe(container.get("startupProbe"), port_name).via_field("startupProbe"))
    return errs.also(_container(container, volumes, sidecar=False))


def sidecar_container(container: dict, volumes: dict) -> FieldError:
    errs = FieldError()
    for name in ("livenessProbe", "readinessProbe"):
        probe = container.get(name)
        if isinstance(probe, dict):
            # Every probe field is refused; the inlined handler has no JSON name of its own.
            fields = sorted({"" if k in _HANDLERS else k for k, v in probe.items() if v is not None})
            if fields:
                errs = errs.also(disallowed_fields(*fields).via_field(name))
    return errs.also(_container(container, volumes, sidecar=True))


def _container(container: dict, volumes: dict, sidecar: bool) -> FieldError:
    if not any(v is not None for v in container.values()):
        return missing_field(CURRENT_FIELD)
    errs = disallowed_keys(container, CONTAINER_FIELDS)
    name = container.get("name") or ""
    if name in RESERVED_CONTAINER_NAMES:
        errs = errs.also(FieldError(f"{go_quote(name)} is a reserved container name", ("name",)))
    errs = errs.also(_env(container.get("env") or [], sidecar).via_field("env"))
    errs = errs.also(_env_from(container.get("envFrom") or []).via_field("envFrom"))
    image = container.get("image") or ""
    if not image:
        errs = errs.also(missing_field("image"))
    elif reason := parse_error(image):
        details = f"image: {go_quote(image)}, error: {reason}"
        errs = errs.also(FieldError("Failed to parse image reference", ("image",), details))
    errs = errs.also(_ports(container.get("ports") or []).via_field("ports"))
    errs = errs.also(disallowed_keys(container.get("resources"), {"limits", "requests"}).via_field("resources"))
    errs = errs.also(_security_context(container.get("securityContext")).via_field("securityContext"))
    policy = container.get("terminationMessagePolicy") or ""
    if policy not in ("", "File", "FallbackToLogsOnError"):
        errs = errs.also(invalid_value(policy, "terminationMessagePolicy"))
    return errs.also(_volume_mounts(container.get("volumeMounts") or [], volumes).via_field("volumeMounts"))


def _env(env: list, sidecar: bool) -> FieldError:
    # Sidecars may read PORT; only the serving container has it set by Knative.
    reserved = RESERVED_ENV - {"PORT"} if sidecar else RESERVED_ENV
    errs = FieldError()
    for i, var in enumerate(env):
        if not isinstance(var, dict):
            continue
        err = disallowed_keys(var, {"name", "value", "valueFrom"})
        name = var.get("name") or ""
        if not name:
            err = err.also(missing_field("name"))
        elif name in reserved:
            err = err.also(FieldError(f"{go_quote(name)} is a reserved environment variable", ("name",)))
        source = disallowed_keys(var.get("valueFrom"), {"configMapKeyRef", "secretKeyRef"})
        errs = errs.also(err.also(source.via_field("valueFrom")).via_index(i))
    return errs


def _env_from(sources: list) -> FieldError:
    errs = FieldError()
    for i, source in enumerate(sources):
        if not isinstance(source, dict):
            continue
        errs = errs.also(disallowed_keys(source, {"prefix", "configMapRef", "secretRef"}).via_index(i))
        config_map, secret = source.get("configMapRef"), source.get("secretRef")
        if secret is not None:
            errs = errs.also(disallowed_keys(secret, {"name", "optional"}).via_index(i))
            errs = errs.via_index(i).via_field("secretRef")
        if config_map is not None:
            errs = errs.also(disallowed_keys(config_map, {"name", "optional"}).via_index(i))
            errs = errs.via_index(i).via_field("configMapRef")
        if config_map is not None and secret is not None:
            errs = errs.also(multiple_one_of("configMapRef", "secretRef"))
        elif config_map is None and secret is None:
            errs = errs.also(missing_one_of("configMapRef", "secretRef"))
    return errs


def _ports(ports: list) -> FieldError:
    # Only the first port is the serving port; counting ports happens at the pod level.
    if not ports or not isinstance(ports[0], dict):
        return FieldError()
    port = ports[0]
    errs = disallowed_keys(port, {"containerPort", "name", "protocol"})
    number = _int(port.get("containerPort"))
    if number in RESERVED_PORTS:
        errs = errs.also(
            invalid_value(
                f"{number} is a reserved port",
                "containerPort",
                f"{number} is a reserved port, please use a different value",
            )
        )
    if number is not None and not 0 <= number <= 65535:
        errs = errs.also(out_of_bounds(number, 0, 65535, "containerPort"))
    protocol = port.get("protocol") or ""
    if protocol not in ("", "TCP"):
        errs = errs.also(invalid_value(protocol, "protocol"))
    name = port.get("name") or ""
    if name not in PORT_NAMES:
        errs = errs.also(
            FieldError(
                f"Port name {name} is not allowed", (CURRENT_FIELD,), "Name must be empty, or one of: 'h2c', 'http1'"
            )
        )
    return errs


def _security_context(context: object) -> FieldError:
    if not isinstance(context, dict):
        return FieldError()
    errs = disallowed_keys(context, _SECURITY_CONTEXT_FIELDS)
    errs = errs.also(disallowed_keys(context.get("capabilities"), {"add", "drop"}).via_field("capabilities"))
    for field in ("runAsUser", "runAsGroup"):
        value = _int(context.get(field))
        if value is not None and not 0 <= value <= MAX_INT32:
            errs = errs.also(out_of_bounds(value, 0, MAX_INT32, field))
    return errs


def _volume_mounts(mounts: list, volumes: dict) -> FieldError:
    errs = FieldError()
    seen_paths: set[str] = set()
    for i, mount in enumerate(mounts):
        if not isinstance(mount, dict):
            continue
        errs = errs.also(disallowed_keys(mount, {"name", "readOnly", "mountPath", "subPath"}).via_index(i))
        name = mount.get("name") or ""
        if name not in volumes:
            errs = errs.also(FieldError("volumeMount has no matching volume", ("name",)).via_index(i))
        mount_path = mount.get("mountPath") or ""
        cleaned = clean_path(mount_path)
        if not mount_path:
            errs = errs.also(missing_field("mountPath").via_index(i))
        elif cleaned in RESERVED_PATHS:
            errs = errs.also(
                FieldError(f"mountPath {go_quote(cleaned)} is a reserved path", ("mountPath",)).via_index(i)
            )
        elif not mount_path.startswith("/"):
            errs = errs.also(invalid_value(mount_path, "mountPath").via_index(i))
        elif cleaned in seen_paths:
            errs = errs.also(invalid_value(f"{go_quote(mount_path)} must be unique", "mountPath").via_index(i))
        seen_paths.add(cleaned)
        volume = volumes.get(name) or {}
        writable_kind = volume.get("emptyDir") is not None or volume.get("persistentVolumeClaim") is not None
        if not writable_kind and not mount.get("readOnly"):
            errs = errs.also(
                FieldError("volume mount should be readOnly for this type of volume", ("readOnly",)).via_index(i)
            )
    return errs


def _probe(probe: object, port_name: str) -> FieldError:
    if not isinstance(probe, dict):
        return FieldError()
    errs = disallowed_keys(probe, _PROBE_FIELDS | set(_HANDLERS))
    handlers = []
    for handler in _HANDLERS:
        action = probe.get(handler)
        if action is None:
            continue
        handlers.append("gRPC" if handler == "grpc" else handler)
        # Knative prefixes everything collected so far here, not only the handler's own errors.
        errs = errs.also(disallowed_keys(action, _HANDLER_FIELDS[handler])).via_field(handler)
        port = action.get("port") if isinstance(action, dict) else None
        if handler in ("httpGet", "tcpSocket") and isinstance(port, str) and port and port != port_name:
            errs = errs.also(invalid_value(port, f"{handler}.port", "Probe port must match container port"))
    if not handlers:
        errs = errs.also(missing_one_of(*_HANDLERS))
    elif len(handlers) > 1:
        errs = errs.also(multiple_one_of(*handlers))
    return errs


def _readiness_probe(probe: object, port_name: str) -> FieldError:
    if not isinstance(probe, dict):
        return FieldError()
    errs = _probe(probe, port_name)
    period = _int(probe.get("periodSeconds")) or 0
    delay = _int(probe.get("initialDelaySeconds")) or 0
    success = _int(probe.get("successThreshold")) or 0
    failure = _int(probe.get("failureThreshold")) or 0
    timeout = _int(probe.get("timeoutSeconds")) or 0
    if period < 0:
        errs = errs.also(out_of_bounds(period, 0, MAX_INT32, "periodSeconds"))
    if delay < 0:
        errs = errs.also(out_of_bounds(delay, 0, MAX_INT32, "initialDelaySeconds"))
    if success < 1:
        errs = errs.also(out_of_bounds(success, 1, MAX_INT32, "successThreshold"))
    if period == 0:
        # periodSeconds 0 selects Knative's aggressive probing, which has no thresholds.
        if failure:
            errs = errs.also(
                FieldError("failureThreshold is disallowed when periodSeconds is zero", ("failureThreshold",))
            )
        if timeout:
            errs = errs.also(FieldError("timeoutSeconds is disallowed when periodSeconds is zero", ("timeoutSeconds",)))
    else:
        if timeout < 1:
            errs = errs.also(out_of_bounds(timeout, 1, MAX_INT32, "timeoutSeconds"))
        if failure < 1:
            errs = errs.also(out_of_bounds(failure, 1, MAX_INT32, "failureThreshold"))
    return errs
