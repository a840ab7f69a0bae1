"""What the built-in core v1 types do on create and update (their registry strategies)."""

from __future__ import annotations

import ipaddress
from collections.abc import Container
from typing import Any

from app.devcluster.apiserver import errors
from app.devcluster.apiserver.resources import CORE_SERVICE, NAMESPACE, ResourceDef

_SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")


def prepare_create(resource: ResourceDef, obj: dict[str, Any], taken_ips: Container[str] = frozenset(),
                   start: int = 0) -> None:
    """`taken_ips`: the ClusterIPs live Services hold; `start`: where in the range to look for a free one first."""
    if resource is NAMESPACE:
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
            # kube-apiserver's answer, as quoted in kubeadm's cmd/kubeadm/app/phases/addons/dns/dns.go
            raise errors.invalid("Service", "", str((obj.get("metadata") or {}).get("name", "")), [
                ("FieldValueInvalid", "spec.clusterIP", f'Invalid value: "{wanted}": provided IP is already allocated'),
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


def prepare_update(resource: ResourceDef, obj: dict[str, Any], old: dict[str, Any]) -> None:
    if resource is NAMESPACE:
        _name_label(obj)  # kept whatever the client sends
    elif resource is CORE_SERVICE:
        spec, old_spec = obj.get("spec"), old.get("spec") or {}
        if isinstance(spec, dict) and not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = old_spec.get("clusterIPs", [old_spec["clusterIP"]])


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
