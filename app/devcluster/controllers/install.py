"""What installing Knative Serving and Kourier puts in a cluster: their namespaces, Knative's ConfigMaps, and the
kourier LoadBalancer Service, whose address is the dev gateway's."""

from __future__ import annotations

import copy
import ipaddress

from app.devcluster.apiserver.resources import CONFIGMAP, CORE_SERVICE, NAMESPACE
from app.devcluster.apiserver.rest import Rest
from app.devcluster.apiserver.seed import MANAGER, ensure

NAMESPACES = ("knative-serving", "kourier-system")
INGRESS_CLASS = "kourier.ingress.networking.knative.dev"


def install(rest: Rest, domain: str, host: str, gateway_port: int) -> None:
    """Create what is missing; keep what users changed, except the gateway's own address."""
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
    kourier = ensure(rest, CORE_SERVICE, {
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
