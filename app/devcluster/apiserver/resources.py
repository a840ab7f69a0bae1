"""The built-in resources the API server serves, declared as data, and the registry that custom ones join."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """A printer column: a name, a type and where its value comes from."""

    name: str
    type: str
    path: str  # a restricted JSONPath, see tables.py
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ResourceDef:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    field_labels: tuple[str, ...] = ("metadata.name", "metadata.namespace")
    columns: tuple[Column, ...] = ()
    custom: bool = False  # a CustomResourceDefinition: its rules differ from built-in types
    has_generation: bool = True
    has_status: bool = True
    virtual: bool = False  # answered, never stored (the reviews): no storage version, no LIST or GET

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        return f"{self.group}/{self.plural}"

    @property
    def storage_version_hash(self) -> str:
        digest = hashlib.sha256(f"{self.group}/{self.version}/{self.kind}".encode()).digest()
        return base64.b64encode(digest[:8]).decode()

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


NAMESPACE = ResourceDef(
    plural="namespaces", singular="namespace", kind="Namespace", namespaced=False, short_names=("ns",),
    subresources=("status", "finalize"),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    field_labels=("metadata.name", "status.phase"),
    has_generation=False,
    group="", version="v1",
)
CONFIGMAP = ResourceDef(
    plural="configmaps", singular="configmap", kind="ConfigMap", namespaced=True, short_names=("cm",),
    has_generation=False, has_status=False,
    group="", version="v1",
)
CORE_SERVICE = ResourceDef(
    plural="services", singular="service", kind="Service", namespaced=True, short_names=("svc",),
    categories=("all",), subresources=("status",),
    field_labels=("metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"),
    has_generation=False,
    group="", version="v1",
)
EVENT = ResourceDef(
    plural="events", singular="event", kind="Event", namespaced=True, short_names=("ev",),
    field_labels=(
        "metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace",
        "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
        "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent",
        "source", "type",
    ),
    has_generation=False, has_status=False,
    group="", version="v1",
)

POD = ResourceDef(
    plural="pods", singular="pod", kind="Pod", namespaced=True, short_names=("po",), categories=("all",),
    subresources=("status", "log"),
    field_labels=(
        "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
        "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName",
    ),
    has_generation=False,
    group="", version="v1",
)
DEPLOYMENT = ResourceDef(
    plural="deployments", singular="deployment", kind="Deployment", namespaced=True, short_names=("deploy",),
    categories=("all",), subresources=("status",),
    group="apps", version="v1",
)
REPLICASET = ResourceDef(
    plural="replicasets", singular="replicaset", kind="ReplicaSet", namespaced=True, short_names=("rs",),
    categories=("all",), subresources=("status",),
    group="apps", version="v1",
)
SERVICE_ACCOUNT = ResourceDef(
    plural="serviceaccounts", singular="serviceaccount", kind="ServiceAccount", namespaced=True, short_names=("sa",),
    subresources=("token",), has_generation=False, has_status=False,
    group="", version="v1",
)
SECRET = ResourceDef(
    plural="secrets", singular="secret", kind="Secret", namespaced=True, field_labels=("metadata.name",
    "metadata.namespace", "type"), has_generation=False, has_status=False,
    group="", version="v1",
)

# A namespace's limits on what its pods take (the ResourceQuota and LimitRanger admission plugins read them).
RESOURCE_QUOTA = ResourceDef(
    plural="resourcequotas", singular="resourcequota", kind="ResourceQuota", namespaced=True, short_names=("quota",),
    subresources=("status",), has_generation=False,
    group="", version="v1",
)
LIMIT_RANGE = ResourceDef(
    plural="limitranges", singular="limitrange", kind="LimitRange", namespaced=True, short_names=("limits",),
    has_generation=False, has_status=False,
    group="", version="v1",
)

# The dev cluster's one node (nodes.py): cluster-scoped, read by users, written by the cluster alone.
NODE = ResourceDef(
    plural="nodes", singular="node", kind="Node", namespaced=False, short_names=("no",), subresources=("status",),
    verbs=("get", "list", "watch"), field_labels=("metadata.name", "spec.unschedulable"), has_generation=False,
    group="", version="v1",
)

RBAC_GROUP = "rbac.authorization.k8s.io"


def _rbac(plural: str, kind: str, namespaced: bool) -> ResourceDef:
    return ResourceDef(
        group=RBAC_GROUP, version="v1", plural=plural, singular=kind.lower(), kind=kind, namespaced=namespaced,
        has_generation=False, has_status=False,
    )


ROLE = _rbac("roles", "Role", True)
CLUSTER_ROLE = _rbac("clusterroles", "ClusterRole", False)
ROLE_BINDING = _rbac("rolebindings", "RoleBinding", True)
CLUSTER_ROLE_BINDING = _rbac("clusterrolebindings", "ClusterRoleBinding", False)


def _review(group: str, version: str, plural: str, kind: str, namespaced: bool = False) -> ResourceDef:
    return ResourceDef(
        group=group, version=version, plural=plural, singular=kind.lower(), kind=kind, namespaced=namespaced,
        verbs=("create",), field_labels=(), has_generation=False, virtual=True,
    )


AUTHORIZATION_GROUP = "authorization.k8s.io"
AUTHENTICATION_GROUP = "authentication.k8s.io"
SELF_SUBJECT_ACCESS_REVIEW = _review(AUTHORIZATION_GROUP, "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview")
SELF_SUBJECT_RULES_REVIEW = _review(AUTHORIZATION_GROUP, "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview")
SUBJECT_ACCESS_REVIEW = _review(AUTHORIZATION_GROUP, "v1", "subjectaccessreviews", "SubjectAccessReview")
LOCAL_SUBJECT_ACCESS_REVIEW = _review(AUTHORIZATION_GROUP, "v1", "localsubjectaccessreviews",
                                      "LocalSubjectAccessReview", namespaced=True)
TOKEN_REVIEW = _review(AUTHENTICATION_GROUP, "v1", "tokenreviews", "TokenReview")
# kubectl auth whoami asks v1 (1.28 and later) or v1beta1 (1.27).
SELF_SUBJECT_REVIEWS = tuple(_review(AUTHENTICATION_GROUP, version, "selfsubjectreviews", "SelfSubjectReview")
                             for version in ("v1", "v1beta1"))
REVIEWS = (SELF_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_RULES_REVIEW, SUBJECT_ACCESS_REVIEW, LOCAL_SUBJECT_ACCESS_REVIEW,
           TOKEN_REVIEW, *SELF_SUBJECT_REVIEWS)

CORE_RESOURCES = (NAMESPACE, CONFIGMAP, CORE_SERVICE, EVENT, POD, DEPLOYMENT, REPLICASET, SERVICE_ACCOUNT, SECRET, ROLE,
                  CLUSTER_ROLE, ROLE_BINDING, CLUSTER_ROLE_BINDING, *REVIEWS, RESOURCE_QUOTA, LIMIT_RANGE, NODE)


@dataclass
class Registry:
    """Looks resources up by API group, version and plural."""

    resources: tuple[ResourceDef, ...] = CORE_RESOURCES
    _by_path: dict[tuple[str, str, str], ResourceDef] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_path = {(r.group, r.version, r.plural): r for r in self.resources}

    def lookup(self, group: str, version: str, plural: str) -> ResourceDef | None:
        return self._by_path.get((group, version, plural))

    def by_key(self, key: str) -> ResourceDef:
        return next(r for r in self.resources if r.key == key)

    def group_versions(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for r in self.resources:
            versions = result.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceDef]:
        return [r for r in self.resources if r.group == group and r.version == version]
