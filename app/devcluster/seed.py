"""The objects a cluster with Knative Serving and Kourier has before anyone uses it."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from app.devcluster.resources import CONFIGMAP, CORE_SERVICE, NAMESPACE, ResourceDef
from app.devcluster.rest import Rest

MANAGER = "devcluster-seed"
NAMESPACES = ("default", "knative-serving", "kourier-system")
INGRESS_CLASS = "kourier.ingress.networking.knative.dev"


def _ensure(rest: Rest, resource: ResourceDef, obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj["metadata"]
    existing = rest.store.get(resource.key, metadata.get("namespace", ""), metadata["name"])
    if existing is not None:
        return existing
    return rest.system_write(resource, obj, None, MANAGER)


def seed(rest: Rest, domain: str, host: str, gateway_port: int, knative: bool = True) -> None:
    """Create what is missing; keep what users changed, except the gateway's own address."""
    for name in NAMESPACES if knative else NAMESPACES[:1]:
        _ensure(rest, NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    if not knative:
        return
    _ensure(rest, CONFIGMAP, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "config-domain", "namespace": "knative-serving",
                     "labels": {"app.kubernetes.io/name": "knative-serving"}},
        "data": {domain: ""},
    })
    _ensure(rest, CONFIGMAP, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "config-network", "namespace": "knative-serving",
                     "labels": {"app.kubernetes.io/name": "knative-serving"}},
        "data": {"ingress-class": INGRESS_CLASS},
    })
    kourier = _ensure(rest, CORE_SERVICE, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kourier", "namespace": "kourier-system",
                     "labels": {"networking.knative.dev/ingress-provider": "kourier", "app.kubernetes.io/component":
                                "net-kourier"}},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "3scale-kourier-gateway"},
            "ports": [{"name": "http2", "port": gateway_port, "protocol": "TCP", "targetPort": 8080}],
        },
    })
    # The dev gateway's address may differ between runs: the Service always advertises the live one.
    spec = copy.deepcopy(kourier)
    spec["spec"]["ports"] = [{"name": "http2", "port": gateway_port, "protocol": "TCP", "targetPort": 8080}]
    kourier = rest.system_write(CORE_SERVICE, spec, kourier, MANAGER)
    status = copy.deepcopy(kourier)
    try:
        ingress = {"ip": str(ipaddress.ip_address(host))}
    except ValueError:
        ingress = {"hostname": host}
    status["status"] = {"loadBalancer": {"ingress": [ingress]}}
    rest.system_write(CORE_SERVICE, status, kourier, MANAGER, subresource="status")
