"""What the built-in core v1 types do on create and update (their registry strategies)."""

from __future__ import annotations

import ipaddress
from typing import Any

from app.devcluster.apiserver.resources import CORE_SERVICE, NAMESPACE, ResourceDef

_SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")


def prepare_create(resource: ResourceDef, obj: dict[str, Any], taken_ips: set[str]) -> None:
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
        if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
            spec["clusterIP"] = _free_ip(taken_ips)
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


def _free_ip(taken: set[str]) -> str:
    for host in _SERVICE_CIDR.hosts():
        candidate = str(host)
        if candidate not in taken and not candidate.endswith(".0") and candidate != "10.96.0.1":
            return candidate
    raise RuntimeError("service IP range exhausted")
