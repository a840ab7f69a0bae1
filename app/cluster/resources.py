"""The resources the console reads and writes, declared as data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def knative(self) -> bool:
        return self.group == "serving.knative.dev"

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
        return base


SERVICE = Resource("serving.knative.dev", "v1", "services", "Service")
REVISION = Resource("serving.knative.dev", "v1", "revisions", "Revision")
ROUTE = Resource("serving.knative.dev", "v1", "routes", "Route")
CONFIGURATION = Resource("serving.knative.dev", "v1", "configurations", "Configuration")
NAMESPACE = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
CONFIGMAP = Resource("", "v1", "configmaps", "ConfigMap")
CORE_SERVICE = Resource("", "v1", "services", "Service")
EVENT = Resource("", "v1", "events", "Event")
POD = Resource("", "v1", "pods", "Pod")
LIMIT_RANGE = Resource("", "v1", "limitranges", "LimitRange")
RESOURCE_QUOTA = Resource("", "v1", "resourcequotas", "ResourceQuota")
SELF_SUBJECT_REVIEW = Resource("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview",
                               namespaced=False)
SELF_SUBJECT_ACCESS_REVIEW = Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews",
                                      "SelfSubjectAccessReview", namespaced=False)
