"""What the built-in types do on create and update (their registry strategies) and what their validation refuses
beyond object metadata: core v1 Namespaces, Services and Secrets, and the RBAC kinds."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Container
from fractions import Fraction
from typing import Any

from app.devcluster.apiserver import errors, gofmt, quota, rbac_objects
from app.devcluster.apiserver.quantity import quantity_value
from app.devcluster.apiserver.resources import (
    CORE_SERVICE,
    LIMIT_RANGE,
    NAMESPACE,
    POD,
    RBAC_GROUP,
    RESOURCE_QUOTA,
    SECRET,
    ResourceDef,
)
from app.devcluster.apiserver.tokens import SA_NAME_ANNOTATION, SERVICE_ACCOUNT_TOKEN

_SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")


_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def prepare_create(resource: ResourceDef, obj: dict[str, Any], taken_ips: Container[str] = frozenset(),
                   start: int = 0) -> None:
    """`taken_ips`: the ClusterIPs live Services hold; `start`: where in the range to look for a free one first."""
    if resource in (RESOURCE_QUOTA, LIMIT_RANGE, POD):
        quota.prepare(resource, obj)
    elif resource is SECRET:
        _secret(obj)
    elif resource.group == RBAC_GROUP:
        rbac_objects.set_defaults(obj)
    elif resource is NAMESPACE:
        _name_label(obj)
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
    elif resource is CORE_SERVICE:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        wanted = spec.get("clusterIP")
        if isinstance(wanted, str) and wanted not in ("", "None") and wanted in taken_ips:
            # kube-apiserver (1.20 on) refuses it in pkg/registry/core/service/storage/alloc.go: field.Invalid on
            # spec.clusterIPs, whose []string value field/errors.go prints with %#v, then "failed to allocate IP
            # <ip>: <ipallocator.ErrAllocated>". The allocator error's text is the classic allocator's; that the
            # ServiceCIDR (MultiCIDRServiceAllocator) allocator says the same is not confirmed.
            ips = spec.get("clusterIPs")
            ips = [str(ip) for ip in ips] if isinstance(ips, list) and ips else [wanted]
            raise errors.invalid("Service", "", str((obj.get("metadata") or {}).get("name", "")), [
                ("FieldValueInvalid", "spec.clusterIPs",
                 f"Invalid value: []string{{{', '.join(gofmt.quote(ip) for ip in ips)}}}: failed to allocate IP "
                 f"{wanted}: provided IP is already allocated"),
            ])
        if spec.get("type") != "ExternalName" and not wanted:
            spec["clusterIP"] = _free_ip(taken_ips, start)
        if spec.get("clusterIP") and spec.get("clusterIP") != "None":
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        obj["status"] = {"loadBalancer": {}}


def prepare_pod(obj: dict[str, Any]) -> None:
    """A new Pod's status, as pkg/registry/core/pod/strategy.go PrepareForCreate sets it after mutating admission:
    phase Pending and its QoS class, whatever the client sent."""
    obj["status"] = {"phase": "Pending", "qosClass": pod_qos(obj)}


def pod_qos(pod: dict[str, Any]) -> str:
    """pkg/apis/core/helper/qos ComputePodQOS over the containers and init containers (pod-level resources are not
    simulated): BestEffort without a cpu or memory request or limit above zero; Guaranteed when every container has
    both limits and each resource's requests add up to its limits (a request left out defaults to its limit, as
    SetDefaults_Pod does); Burstable otherwise."""
    spec = _mapping(pod.get("spec"))
    containers = [c for key in ("containers", "initContainers") if isinstance(spec.get(key), list)
                  for c in spec[key] if isinstance(c, dict)]
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for container in containers:
        resources = _mapping(container.get("resources"))
        asked_limits, asked_requests = _mapping(resources.get("limits")), _mapping(resources.get("requests"))
        own_limits = _positive(asked_limits)
        for name, value in _positive({**asked_limits, **asked_requests}).items():
            requests[name] = requests.get(name, Fraction(0)) + value
        for name, value in own_limits.items():
            limits[name] = limits.get(name, Fraction(0)) + value
        guaranteed = guaranteed and {"cpu", "memory"} <= own_limits.keys()
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed and requests == limits else "Burstable"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _positive(resources: dict[str, Any]) -> dict[str, Fraction]:
    """The cpu and memory quantities above zero in a requests or limits map."""
    values = {name: quantity_value(str(text)) for name, text in resources.items()  # JSON numbers are quantities too
              if name in ("cpu", "memory") and isinstance(text, (str, int, float)) and not isinstance(text, bool)}
    return {name: value for name, value in values.items() if value is not None and value > 0}


def prepare_update(resource: ResourceDef, obj: dict[str, Any], old: dict[str, Any]) -> None:
    if resource in (RESOURCE_QUOTA, LIMIT_RANGE, POD):
        quota.prepare(resource, obj)
    elif resource is SECRET:
        _secret(obj)
    elif resource.group == RBAC_GROUP:
        rbac_objects.set_defaults(obj)
    elif resource is NAMESPACE:
        _name_label(obj)  # kept whatever the client sends
    elif resource is CORE_SERVICE:
        spec, old_spec = obj.get("spec"), old.get("spec") or {}
        if isinstance(spec, dict) and not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = old_spec.get("clusterIPs", [old_spec["clusterIP"]])


def validate(resource: ResourceDef, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """422 Invalid for what the type's own validation refuses (object metadata is checked before)."""
    causes: list[tuple[str, str, str]] = []
    if resource.group == RBAC_GROUP:
        causes = rbac_objects.validate(resource, obj, old)
    elif resource is SECRET:
        causes = _secret_problems(obj, old)
    elif resource in (RESOURCE_QUOTA, LIMIT_RANGE):
        causes = quota.validate(resource, obj)
    if causes:
        raise errors.invalid(resource.kind, resource.group, str(obj["metadata"].get("name") or ""), causes)


def _secret(secret: dict[str, Any]) -> None:
    """stringData merged into data (it is write-only), the data decoded as Go decodes []byte, type defaulted."""
    data = secret.get("data")
    if data is not None and not isinstance(data, dict):
        return  # the schema check refuses it
    data = dict(data or {})
    for value in data.values():
        if isinstance(value, str):
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error:
                at = next((i for i, c in enumerate(value) if not (c.isascii() and (c.isalnum() or c in "+/="))),
                          len(value) - len(value) % 4)
                raise errors.bad_request('Secret in version "v1" cannot be handled as a Secret: illegal base64 data '
                                         f"at input byte {at}") from None
    plain = secret.pop("stringData", None)
    if isinstance(plain, dict):
        for key, value in plain.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    if data or "data" in secret:
        secret["data"] = data
    secret.setdefault("type", "Opaque")


def _secret_problems(secret: dict[str, Any], old: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    causes = [
        ("FieldValueInvalid", f"data[{key}]", f'Invalid value: "{key}": a valid config key must consist of '
         "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
         "validation is '[-._a-zA-Z0-9]+')")
        for key in (secret.get("data") or {}) if not _CONFIG_KEY.match(key)
    ]
    annotations = secret["metadata"].get("annotations") or {}
    if secret.get("type") == SERVICE_ACCOUNT_TOKEN and not annotations.get(SA_NAME_ANNOTATION):
        causes.append(("FieldValueRequired", f"metadata.annotations[{SA_NAME_ANNOTATION}]", "Required value"))
    if old is not None and old.get("type") != secret.get("type"):
        causes.append(("FieldValueInvalid", "type", f'Invalid value: "{secret.get("type")}": field is immutable'))
    if old is not None and old.get("immutable") and old.get("data") != secret.get("data"):
        causes.append(("FieldValueForbidden", "data", "Forbidden: field is immutable when `immutable` is set"))
    return causes


def _name_label(namespace: dict[str, Any]) -> None:
    """The label every namespace carries with its own name (null labels become a map, as Go's nil map does)."""
    metadata = namespace.setdefault("metadata", {})
    if not isinstance(metadata.get("labels"), dict):
        metadata["labels"] = {}
    metadata["labels"]["kubernetes.io/metadata.name"] = metadata.get("name", "")


def _free_ip(taken: Container[str], start: int) -> str:
    """A free address of the range, looked for from `start` on (the number of Services: addresses are handed out in
    order, so it is about where the taken ones end) and around: a step or two, not a walk over every Service."""
    base, size = int(_SERVICE_CIDR.network_address), _SERVICE_CIDR.num_addresses
    for step in range(size):
        offset = (start + step) % size
        candidate = str(ipaddress.IPv4Address(base + offset))
        if 0 < offset < size - 1 and candidate not in taken and not candidate.endswith(".0") and \
                candidate != "10.96.0.1":
            return candidate
    raise RuntimeError("service IP range exhausted")
