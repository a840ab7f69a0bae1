"""The networking objects Knative's controllers make beside Routes and Revisions: a revision's two Kubernetes Services
(its ServerlessService's public `<revision>` and `<revision>-private`), a route's placeholder Service `<route>`
(ExternalName to the internal gateway, one more per tag) and its KIngress, which carries the rollout's state."""

from __future__ import annotations

import copy
from typing import Any

from app.devcluster.apiserver.resources import CORE_SERVICE
from app.devcluster.controllers.context import Context, controlled_by, controller_reference, owned
from app.devcluster.controllers.labels import (
    ANNOTATION_INGRESS_CLASS,
    ANNOTATION_ROLLOUT_STATE,
    LABEL_CONFIGURATION,
    LABEL_REVISION,
    LABEL_REVISION_UID,
    LABEL_ROUTE,
    LABEL_ROUTE_NAMESPACE,
    LABEL_SERVICE,
    LAST_APPLIED,
)
from app.devcluster.crds.resources import INGRESS

INTERNAL_GATEWAY = "kourier-internal.kourier-system.svc.cluster.local"
EXTERNAL_GATEWAY = "kourier.kourier-system.svc.cluster.local"
INGRESS_CLASS = "kourier.ingress.networking.knative.dev"
LABEL_SKS = "networking.internal.knative.dev/serverlessservice"
LABEL_SERVICE_TYPE = "networking.internal.knative.dev/serviceType"


def _service_ports(private: bool) -> list[dict[str, Any]]:
    ports = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8012},
             {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8112}]
    if private:
        ports += [{"name": "http-autometric", "port": 9090, "protocol": "TCP", "targetPort": "http-autometric"},
                  {"name": "http-usermetric", "port": 9091, "protocol": "TCP", "targetPort": "http-usermetric"},
                  {"name": "http-queueadm", "port": 8022, "protocol": "TCP", "targetPort": 8022}]
    return ports


def ensure_revision_services(ctx: Context, revision: dict[str, Any]) -> None:
    """The Services a revision's ServerlessService makes: `<revision>` for the router, `<revision>-private` selecting
    its pods. Made once; the revision owns them, so they go with it."""
    meta = revision["metadata"]
    base = {k: v for k, v in (meta.get("labels") or {}).items()
            if k in (LABEL_CONFIGURATION, LABEL_SERVICE) or k.endswith("UID")}
    base.update({LABEL_REVISION: meta["name"], LABEL_REVISION_UID: meta["uid"], LABEL_SKS: meta["name"]})
    for name, private in ((meta["name"], False), (f"{meta['name']}-private", True)):
        if ctx.get(CORE_SERVICE, meta["namespace"], name) is not None:
            continue
        spec: dict[str, Any] = {"type": "ClusterIP", "ports": _service_ports(private)}
        if private:
            spec["selector"] = {LABEL_REVISION_UID: meta["uid"]}
        ctx.write(CORE_SERVICE, {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": meta["namespace"],
                         "labels": {**base, LABEL_SERVICE_TYPE: "Private" if private else "Public"},
                         "ownerReferences": [controller_reference(revision)]},
            "spec": spec,
        }, None)


def sync_placeholders(ctx: Context, route: dict[str, Any], tags: list[str]) -> None:
    """`<route>` and `<tag>-<route>`: ExternalName Services to the internal gateway, as Knative's route reconciler
    makes them (MakeK8sService); a tag's goes when the tag does."""
    meta = route["metadata"]
    wanted = {meta["name"]: ""} | {f"{tag}-{meta['name']}": tag for tag in tags}
    for service in owned(ctx, CORE_SERVICE, route):
        if service["metadata"]["name"] not in wanted:
            ctx.delete(CORE_SERVICE, service)
    for name in wanted:
        desired_spec = {"type": "ExternalName", "externalName": INTERNAL_GATEWAY, "sessionAffinity": "None",
                        "ports": [{"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80}]}
        existing = ctx.get(CORE_SERVICE, meta["namespace"], name)
        if existing is None:
            made = ctx.write(CORE_SERVICE, {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": meta["namespace"], "labels": {LABEL_ROUTE: meta["name"]},
                             "ownerReferences": [controller_reference(route)]},
                "spec": desired_spec,
            }, None)
            if made is not None:
                ctx.record(route, "Created", f'Created placeholder service "{name}"')


def desired_ingress(route: dict[str, Any], rules: list[dict[str, Any]], rollout: str) -> dict[str, Any]:
    meta = route["metadata"]
    labels = {**(meta.get("labels") or {}), LABEL_ROUTE: meta["name"], LABEL_ROUTE_NAMESPACE: meta["namespace"]}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    annotations.setdefault(ANNOTATION_INGRESS_CLASS, INGRESS_CLASS)
    annotations[ANNOTATION_ROLLOUT_STATE] = rollout
    return {
        "apiVersion": INGRESS.api_version, "kind": INGRESS.kind,
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": labels,
                     "annotations": annotations, "ownerReferences": [controller_reference(route)]},
        "spec": {"httpOption": "Enabled", "rules": rules},
    }


def sync_ingress(ctx: Context, route: dict[str, Any], rules: list[dict[str, Any]],
                 rollout: str) -> dict[str, Any] | None:
    """The route's KIngress with these rules and rollout state, made or updated; Kourier (the gateway) takes a new
    generation at once, so its status is Ready for it."""
    meta = route["metadata"]
    desired = desired_ingress(route, rules, rollout)
    existing = ctx.get(INGRESS, meta["namespace"], meta["name"])
    if existing is not None and not controlled_by(existing, route):
        return None
    if existing is None:
        existing = ctx.write(INGRESS, desired, None)
        if existing is not None:
            ctx.record(route, "Created", f'Created Ingress "{meta["name"]}"')
    elif (existing["metadata"].get("labels"), existing["metadata"].get("annotations"), existing.get("spec")) != \
            (desired["metadata"]["labels"], desired["metadata"]["annotations"], desired["spec"]):
        updated = copy.deepcopy(existing)
        updated["metadata"]["labels"] = desired["metadata"]["labels"]
        updated["metadata"]["annotations"] = desired["metadata"]["annotations"]
        updated["spec"] = desired["spec"]
        existing = ctx.write(INGRESS, updated, existing) or existing
    if existing is None:
        return None
    status = {
        "conditions": [
            {"type": kind, "status": "True", "lastTransitionTime": _since(existing, kind, ctx.now())}
            for kind in ("LoadBalancerReady", "NetworkConfigured", "Ready")
        ],
        "observedGeneration": existing["metadata"].get("generation", 1),
        "privateLoadBalancer": {"ingress": [{"domainInternal": INTERNAL_GATEWAY}]},
        "publicLoadBalancer": {"ingress": [{"domainInternal": EXTERNAL_GATEWAY}]},
    }
    return ctx.write_status(INGRESS, existing, status) or existing


def _since(obj: dict[str, Any], kind: str, stamp: str) -> str:
    for old in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(old, dict) and old.get("type") == kind and old.get("status") == "True":
            return str(old.get("lastTransitionTime") or stamp)
    return stamp


def rules(hosts_public: list[str], hosts_local: list[str], splits: list[tuple[str, int]],
          namespace: str) -> list[dict[str, Any]]:
    """KIngress rules: the same splits for the cluster-local hosts and (when the route is public) the external ones."""
    paths = [{"splits": [
        {"appendHeaders": {"Knative-Serving-Namespace": namespace, "Knative-Serving-Revision": revision},
         "percent": percent, "serviceName": revision, "serviceNamespace": namespace, "servicePort": 80}
        for revision, percent in splits if percent]}]
    result = []
    if hosts_local:
        result.append({"hosts": hosts_local, "http": {"paths": paths}, "visibility": "ClusterLocal"})
    if hosts_public:
        result.append({"hosts": hosts_public, "http": {"paths": paths}, "visibility": "ExternalIP"})
    return result
