"""The revision spec: Knative's restricted PodSpec plus its own four fields.

As knative/serving `pkg/apis/serving/k8s_validation.go` (`ValidatePodSpec`, volumes,
container ports, the securityContext warnings) and `revision_validation.go` (timeout and
concurrency bounds), with the stock `config-defaults` and `config-features`. Errors are
relative to the revision spec.
"""

from __future__ import annotations

from typing import Any

from .fielderror import (
    CURRENT_FIELD,
    WARNING,
    FieldError,
    generic,
    go_quote,
    invalid_value,
    missing_field,
    missing_one_of,
    multiple_one_of,
    out_of_bounds,
)
from .names import dns1123_label, dns1123_subdomain
from .validation_container import disallowed_keys, sidecar_container, user_container

MAX_REVISION_TIMEOUT_SECONDS = 600
CONTAINER_CONCURRENCY_MAX = 1000

POD_FIELDS = {
    "serviceAccountName", "containers", "volumes", "imagePullSecrets", "enableServiceLinks",
    "automountServiceAccountToken",
}  # fmt: skip
REVISION_FIELDS = {"containerConcurrency", "timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds"}
VOLUME_SOURCES = ("secret", "configMap", "projected", "emptyDir")

_INSECURE = "Kubernetes default value is insecure, Knative may default this to secure in a future release"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dicts(value: object) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def validate_revision_spec(spec: dict) -> FieldError:
    errs = pod_spec(spec)
    timeout = _int(spec.get("timeoutSeconds"))
    if timeout and not 0 <= timeout <= MAX_REVISION_TIMEOUT_SECONDS:
        errs = errs.also(out_of_bounds(timeout, 0, MAX_REVISION_TIMEOUT_SECONDS, "timeoutSeconds"))
    concurrency = _int(spec.get("containerConcurrency"))
    if concurrency is not None and not 0 <= concurrency <= CONTAINER_CONCURRENCY_MAX:
        bounds = out_of_bounds(concurrency, 0, CONTAINER_CONCURRENCY_MAX, CURRENT_FIELD)
        errs = errs.also(bounds.via_field("containerConcurrency"))
    return errs


def pod_spec(spec: dict) -> FieldError:
    errs = disallowed_keys(spec, POD_FIELDS | REVISION_FIELDS)
    containers = _dicts(spec.get("containers"))
    pod_context: dict[str, Any] = spec["securityContext"] if isinstance(spec.get("securityContext"), dict) else {}
    for i, container in enumerate(containers):
        warnings = _security_context_warnings(pod_context, container.get("securityContext"))
        errs = errs.also(warnings.via_field("securityContext").via_field_index("containers", i))
    mounted = {m.get("name") for c in containers for m in _dicts(c.get("volumeMounts"))}
    volumes, err = _volumes(_dicts(spec.get("volumes")), mounted)
    errs = errs.also(err.via_field("volumes"))
    if init_containers := spec.get("initContainers"):
        count = len(init_containers) if isinstance(init_containers, list) else 1
        errs = errs.also(generic(f"pod spec support for init-containers is off, but found {count} init containers"))
    port_name, err = _containers_ports(containers)
    errs = errs.also(err.via_field("containers[*]"))
    if not containers:
        errs = errs.also(missing_field("containers"))
    elif len(containers) == 1:
        errs = errs.also(user_container(containers[0], volumes, port_name).via_field_index("containers", 0))
    else:
        errs = errs.also(_multiple_containers(containers, volumes, port_name))
    account = spec.get("serviceAccountName")
    if isinstance(account, str) and account:
        for message in dns1123_subdomain(account):
            errs = errs.also(invalid_value(account, "serviceAccountName", message))
    return errs


def _containers_ports(containers: list[dict]) -> tuple[str, FieldError]:
    """The serving port's name (`http` when unnamed) and the one-port-across-containers rule."""
    count = 0
    name = ""
    for container in containers:
        ports = container.get("ports")
        if isinstance(ports, list) and ports:
            count += len(ports)
            name = (ports[0].get("name") or "") if isinstance(ports[0], dict) else ""
    name = name or "http"
    if count == 0 and len(containers) > 1:
        return name, missing_field("ports")
    if count > 1:
        return name, FieldError(
            "more than one container port is set", ("ports",), "Only a single port is allowed across all containers"
        )
    return name, FieldError()


def _multiple_containers(containers: list[dict], volumes: dict, port_name: str) -> FieldError:
    errs = FieldError()
    names: set[str] = set()
    for i, container in enumerate(containers):
        name = container.get("name") or ""
        if name in names:
            duplicate = FieldError(f"duplicate container name {go_quote(name)}", ("name",))
            errs = errs.also(duplicate.via_field_index("containers", i))
        else:
            names.add(name)
        if container.get("ports"):
            errs = errs.also(user_container(container, volumes, port_name).via_field_index("containers", i))
        else:
            errs = errs.also(sidecar_container(container, volumes).via_field_index("containers", i))
    return errs


def _volumes(volumes: list[dict], mounted: set) -> tuple[dict, FieldError]:
    by_name: dict[str, dict] = {}
    errs = FieldError()
    for i, volume in enumerate(volumes):
        name = volume.get("name") or ""
        if name in by_name:
            duplicate = FieldError(f"duplicate volume name {go_quote(name)}", ("name",))
            errs = errs.also(duplicate.via_index(i))
        if name not in mounted:
            errs = errs.also(FieldError(f"volume with name {go_quote(name)} not mounted", ("name",)).via_index(i))
        errs = errs.also(_volume(volume).via_index(i))
        by_name[name] = volume
    return by_name, errs


def _volume(volume: dict) -> FieldError:
    name = volume.get("name") or ""
    # Knative replaces, rather than adds to, what it collected so far when the name is bad.
    if not name:
        errs = missing_field("name")
    elif dns1123_label(name):
        errs = invalid_value(name, "name")
    else:
        errs = FieldError()
    errs = errs.also(disallowed_keys(volume, {"name", *VOLUME_SOURCES}))
    specified = []
    for source in ("secret", "configMap"):
        if isinstance(volume.get(source), dict):
            specified.append(source)
            for j, item in enumerate(_dicts(volume[source].get("items"))):
                errs = errs.also(_key_to_path(item).via_field_index("items", j))
    if volume.get("projected") is not None:
        specified.append("projected")
    if isinstance(volume.get("emptyDir"), dict):
        specified.append("emptyDir")
        medium = volume["emptyDir"].get("medium") or ""
        if medium not in ("", "Memory"):
            errs = errs.also(invalid_value(medium, "medium").via_field("emptyDir"))
    if not specified:
        errs = errs.also(missing_one_of("secret", "configMap", "projected", "emptyDir"))
    elif len(specified) > 1:
        errs = errs.also(multiple_one_of(*specified))
    return errs


def _key_to_path(item: dict) -> FieldError:
    errs = disallowed_keys(item, {"key", "path", "mode"})
    if not item.get("key"):
        errs = errs.also(missing_field("key"))
    if not item.get("path"):
        errs = errs.also(missing_field("path"))
    return errs


def _security_context_warnings(pod: dict[str, Any], container: object) -> FieldError:
    """Warnings for Kubernetes defaults the `restricted` pod security profile forbids."""
    context = container if isinstance(container, dict) else {}
    errs = FieldError()
    if pod.get("runAsNonRoot") is None and context.get("runAsNonRoot") is None:
        errs = errs.also(generic(_INSECURE, "runAsNonRoot"))
    if context.get("allowPrivilegeEscalation") is None:
        errs = errs.also(generic(_INSECURE, "allowPrivilegeEscalation"))
    pod_seccomp, seccomp = pod.get("seccompProfile"), context.get("seccompProfile")
    if pod_seccomp is None and seccomp is None:
        errs = errs.also(generic(_INSECURE, "seccompProfile"))
    elif not (pod_seccomp or {}).get("type") and not (seccomp or {}).get("type"):
        errs = errs.also(generic(_INSECURE, "seccompProfile.type"))
    capabilities = context.get("capabilities")
    if capabilities is None:
        errs = errs.also(generic(_INSECURE, "capabilities"))
    elif isinstance(capabilities, dict):
        drop = capabilities.get("drop")
        if drop is None:
            errs = errs.also(generic(_INSECURE, "capabilities.drop"))
        elif isinstance(drop, list) and drop and drop[0] == "all":
            # "all" in lower case drops nothing, which is easy to miss.
            errs = errs.also(invalid_value("all", "capabilities.drop", "Must be spelled as 'ALL'"))
    return errs.at(WARNING)
