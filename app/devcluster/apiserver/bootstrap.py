"""The RBAC policy a new cluster starts with: kube-apiserver's bootstrap cluster roles and bindings
(plugin/pkg/auth/authorizer/rbac/bootstrappolicy, as its testdata/cluster-roles.yaml lists them), for the
parts a cluster without nodes or controllers of its own uses.

cluster-admin for system:masters; admin, edit and view aggregated from the `aggregate-to-*` roles (Knative's
installer adds its own to them); discovery and self-reviews for every authenticated user; health and /version for
everyone, anonymous included; /metrics for system:monitoring.
"""

from __future__ import annotations

from typing import Any

from app.devcluster.apiserver.resources import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, RBAC_GROUP
from app.devcluster.apiserver.rest import Rest
from app.devcluster.apiserver.seed import ensure
from app.devcluster.apiserver.users import ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, PRIVILEGED_GROUP

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}


def rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def urls(paths: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"nonResourceURLs": paths, "verbs": verbs}


def cluster_role(name: str, rules: list[dict[str, Any]] | None = None, labels: dict[str, str] | None = None,
                 aggregate_from: str = "") -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {**LABELS, **(labels or {})}, "annotations": dict(ANNOTATIONS)},
        "rules": rules or [],
    }
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {aggregate_from: "true"}}]}
    return role


def _aggregate(to: str) -> dict[str, str]:
    return {f"rbac.authorization.k8s.io/aggregate-to-{to}": "true"}


CLUSTER_ROLES = [
    cluster_role("cluster-admin", [rule(["*"], ["*"], ["*"]), urls(["*"], ["*"])]),
    cluster_role("admin", aggregate_from="rbac.authorization.k8s.io/aggregate-to-admin"),
    cluster_role("edit", labels=_aggregate("admin"), aggregate_from="rbac.authorization.k8s.io/aggregate-to-edit"),
    cluster_role("view", labels=_aggregate("edit"), aggregate_from="rbac.authorization.k8s.io/aggregate-to-view"),
    cluster_role("system:aggregate-to-admin", [
        rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
        rule([RBAC_GROUP], ["rolebindings", "roles"], sorted(READ + WRITE)),
    ], labels=_aggregate("admin")),
    cluster_role("system:aggregate-to-edit", [
        rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], READ),
        rule([""], ["serviceaccounts"], ["impersonate"]),
        rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
        rule([""], ["pods/eviction"], ["create"]),
        rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                    "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"], WRITE),
        rule([""], ["serviceaccounts/token"], ["create"]),
        rule(["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                        "replicasets/scale", "statefulsets", "statefulsets/scale"], WRITE),
        rule(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
        rule(["batch"], ["cronjobs", "jobs"], WRITE),
        rule(["extensions"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses",
                              "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"],
             WRITE),
        rule(["policy"], ["poddisruptionbudgets"], WRITE),
        rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
        rule(["coordination.k8s.io"], ["leases"], sorted(READ + WRITE)),
    ], labels=_aggregate("edit")),
    cluster_role("system:aggregate-to-view", [
        rule([""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
                    "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                    "services/status"], READ),
        rule([""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                    "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"], READ),
        rule([""], ["namespaces"], READ),
        rule(["discovery.k8s.io"], ["endpointslices"], READ),
        rule(["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                        "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
                        "statefulsets/scale", "statefulsets/status"], READ),
        rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
        rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
        rule(["extensions"], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                              "deployments/status", "ingresses", "ingresses/status", "networkpolicies", "replicasets",
                              "replicasets/scale", "replicasets/status", "replicationcontrollers/scale"], READ),
        rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
        rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ),
    ], labels=_aggregate("view")),
    cluster_role("system:basic-user", [
        rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
        rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
    ]),
    cluster_role("system:discovery", [
        urls(["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
              "/version", "/version/"], ["get"]),
    ]),
    cluster_role("system:public-info-viewer", [
        urls(["/healthz", "/livez", "/readyz", "/version", "/version/"], ["get"]),
    ]),
    cluster_role("system:monitoring", [
        urls(["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis", "/readyz", "/readyz/*"],
             ["get"]),
    ]),
    cluster_role("system:auth-delegator", [
        rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
    ]),
]


def binding(name: str, *groups: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(LABELS), "annotations": dict(ANNOTATIONS)},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": group} for group in groups],
    }


CLUSTER_ROLE_BINDINGS = [
    binding("cluster-admin", PRIVILEGED_GROUP),
    binding("system:monitoring", "system:monitoring"),
    binding("system:discovery", ALL_AUTHENTICATED),
    binding("system:basic-user", ALL_AUTHENTICATED),
    binding("system:public-info-viewer", ALL_AUTHENTICATED, ALL_UNAUTHENTICATED),
]


def install(rest: Rest) -> None:
    """Create whichever default is missing; roles and bindings users changed are kept as they are."""
    for role in CLUSTER_ROLES:
        ensure(rest, CLUSTER_ROLE, role)
    for item in CLUSTER_ROLE_BINDINGS:
        ensure(rest, CLUSTER_ROLE_BINDING, item)
