"""What installing Knative Serving and Kourier puts in a cluster: their namespaces, Knative's ConfigMaps, and the
kourier LoadBalancer Service, whose address is the dev gateway's."""

from __future__ import annotations

import copy
import ipaddress

from app.devcluster.apiserver.resources import CONFIGMAP, CORE_SERVICE, NAMESPACE
from app.devcluster.apiserver.rest import Rest
from app.devcluster.apiserver.seed import MANAGER, ensure
from app.devcluster.controllers import config

NAMESPACES = ("knative-serving", "kourier-system", config.DEVCLUSTER_NAMESPACE)
INGRESS_CLASS = "kourier.ingress.networking.knative.dev"


def install(rest: Rest, domain: str, host: str, gateway_port: int, internal_port: int = 8081) -> None:
    """Create what is missing; keep what users changed, except the gateways' own addresses."""
    for name in NAMESPACES:
        ensure(rest, NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    ensure(rest, CONFIGMAP, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "config-domain", "namespace": "knative-serving",
                     "labels": {"app.kubernetes.io/name": "knative-serving"}},
        "data": {domain: ""},
    })
    ensure(rest, CONFIGMAP, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "config-network", "namespace": "knative-serving",
                     "labels": {"app.kubernetes.io/name": "knative-serving"}},
        "data": {"ingress-class": INGRESS_CLASS},
    })
    ensure(rest, CONFIGMAP, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": config.AUTOSCALER, "namespace": "knative-serving",
                     "labels": {"app.kubernetes.io/name": "knative-serving"}},
        "data": dict(config.AUTOSCALER_SEED),
    })
    ensure(rest, CONFIGMAP, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": config.IMAGES, "namespace": config.DEVCLUSTER_NAMESPACE},
        "data": dict(config.IMAGES_SEED),
    })
    _gateway_service(rest, "kourier", "LoadBalancer", gateway_port, 8080, host)
    _gateway_service(rest, "kourier-internal", "ClusterIP", internal_port, 8081, "")


def _gateway_service(rest: Rest, name: str, kind: str, port: int, target: int, host: str) -> None:
    """A Kourier Service whose port is the dev gateway's live one (it may differ between runs)."""
    port_entry = {"name": "http2", "port": port, "protocol": "TCP", "targetPort": target}
    kourier = ensure(rest, CORE_SERVICE, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "kourier-system",
                     "labels": {"networking.knative.dev/ingress-provider": "kourier", "app.kubernetes.io/component":
                                "net-kourier"}},
        "spec": {"type": kind, "selector": {"app": "3scale-kourier-gateway"}, "ports": [port_entry]},
    })
    spec = copy.deepcopy(kourier)
    spec["spec"]["ports"] = [port_entry]
    kourier = rest.system_write(CORE_SERVICE, spec, kourier, MANAGER)
    if not host:
        return
    status = copy.deepcopy(kourier)
    try:
        ingress = {"ip": str(ipaddress.ip_address(host))}
    except ValueError:
        ingress = {"hostname": host}
    status["status"] = {"loadBalancer": {"ingress": [ingress]}}
    rest.system_write(CORE_SERVICE, status, kourier, MANAGER, subresource="status")
