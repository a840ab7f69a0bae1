"""What a request asks to do, in authorization's terms (k8s.io/apiserver endpoints/request.RequestInfoFactory):
a resource request names a verb, API group and version, namespace, resource, subresource and name; anything else
(discovery, /version, /healthz, /metrics, OpenAPI) is a non-resource request for its path."""

from __future__ import annotations

from collections.abc import Mapping

from app.devcluster.apiserver.rbac import Attributes
from app.devcluster.apiserver.users import UserInfo

_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")


def _exact_name(field_selector: str) -> str:
    """The name a `metadata.name=<name>` term requires (fields.Selector.RequiresExactMatch), "" when none does;
    only a valid path segment counts."""
    for term in field_selector.split(","):
        for prefix in ("metadata.name==", "metadata.name="):
            if term.startswith(prefix):
                name = term[len(prefix):]
                return name if name not in (".", "..") and "/" not in name and "%" not in name else ""
    return ""


def request_info(method: str, path: str, query: Mapping[str, str], user: UserInfo) -> Attributes:
    """The Attributes authorization decides on for this request."""
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) < 3 or parts[0] not in ("api", "apis") or (parts[0] == "apis" and len(parts) < 4):
        return Attributes(user, method.lower(), False, path=path)
    if parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        group, version, rest = "", parts[1], parts[2:]
    verb = _VERBS.get(method, method.lower())
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    watching = query.get("watch") in _TRUE
    if not name and verb == "get":
        verb = "watch" if watching else "list"
        name = _exact_name(query.get("fieldSelector", "")) if query.get("fieldSelector") else ""
    elif name and verb == "get" and watching:
        verb = "watch"
    elif not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user, verb, True, api_group=group, api_version=version, namespace=namespace, resource=resource,
                      subresource=subresource, name=name, path=path)
