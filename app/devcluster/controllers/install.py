"""What installing Knative Serving and Kourier puts in a cluster: their namespaces, Knative's ConfigMaps, the
kourier LoadBalancer Service, whose address is the dev gateway's, and Knative's ClusterRoles that give the
default admin, edit and view roles their serving.knative.dev rights (aggregated by label), as serving-core.yaml
installs them (knative/serving config/core/roles, v1.15.0)."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from app.devcluster.apiserver.resources import CLUSTER_ROLE, CONFIGMAP, CORE_SERVICE, NAMESPACE
from app.devcluster.apiserver.rest import Rest
from app.devcluster.apiserver.seed import MANAGER, ensure
from app.devcluster.controllers import config

NAMESPACES = ("knative-serving", "kourier-system", config.DEVCLUSTER_NAMESPACE)
INGRESS_CLASS = "kourier.ingress.networking.knative.dev"
SERVING_GROUP = "serving.knative.dev"
INTERNAL_GROUPS = ["networking.internal.knative.dev", "autoscaling.internal.knative.dev",
                   "caching.internal.knative.dev"]


def _role(name: str, labels: dict[str, str], rules: list[dict[str, Any]], aggregate: str = "") -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "knative-serving", **labels}},
        "rules": rules,
    }
    if aggregate:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {aggregate: "true"}}]}
    return role


CLUSTER_ROLES = [
    _role("knative-serving-namespaced-admin", {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}, [
        {"apiGroups": [SERVING_GROUP], "resources": ["*"], "verbs": ["*"]},
        {"apiGroups": INTERNAL_GROUPS, "resources": ["*"], "verbs": ["get", "list", "watch"]},
    ]),
    _role("knative-serving-namespaced-edit", {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}, [
        {"apiGroups": [SERVING_GROUP], "resources": ["*"], "verbs": ["create", "update", "patch", "delete"]},
        {"apiGroups": INTERNAL_GROUPS, "resources": ["*"], "verbs": ["get", "list", "watch"]},
    ]),
    _role("knative-serving-namespaced-view", {"rbac.authorization.k8s.io/aggregate-to-view": "true"}, [
        {"apiGroups": [SERVING_GROUP, *INTERNAL_GROUPS], "resources": ["*"], "verbs": ["get", "list", "watch"]},
    ]),
    _role("knative-serving-aggregated-addressable-resolver", {}, [], aggregate="duck.knative.dev/addressable"),
    _role("knative-serving-addressable-resolver", {"duck.knative.dev/addressable": "true"}, [
        {"apiGroups": [SERVING_GROUP], "resources": ["routes", "routes/status", "services", "services/status"],
         "verbs": ["get", "list", "watch"]},
    ]),
]


def install(rest: Rest, domain: str, host: str, gateway_port: int, internal_port: int = 8081) -> None:
    """Create what is missing; keep what users changed, except the gateways' own addresses."""
    for name in NAMESPACES:
        ensure(rest, NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for role in CLUSTER_ROLES:
        ensure(rest, CLUSTER_ROLE, role)
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
