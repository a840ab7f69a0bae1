"""The RBAC kinds' defaults and validation (k8s.io/api rbac/v1 defaults, pkg/apis/rbac/validation), with their
field errors: Roles and ClusterRoles need verbs and, for resources, API groups; a binding's roleRef names a Role or
ClusterRole of rbac.authorization.k8s.io and never changes; each subject is a User, a Group or a ServiceAccount."""

from __future__ import annotations

from typing import Any

from app.devcluster.apiserver.gofmt import quote
from app.devcluster.apiserver.resources import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, RBAC_GROUP, ROLE, ResourceDef

Cause = tuple[str, str, str]  # reason, field, message without the field


def _go_strings(values: list[Any]) -> str:
    return "[]string{" + ", ".join(quote(str(v)) for v in values) + "}"


def _role_ref(ref: dict[str, Any]) -> str:
    group, kind, name = (quote(str(ref.get(key) or "")) for key in ("apiGroup", "kind", "name"))
    return f"rbac.RoleRef{{APIGroup:{group}, Kind:{kind}, Name:{name}}}"


def _supported(field: str, value: Any, valid: list[str]) -> Cause:
    listed = ", ".join(quote(v) for v in valid)
    return ("FieldValueNotSupported", field, f"Unsupported value: {quote(str(value))}: supported values: {listed}")


def set_defaults(obj: dict[str, Any]) -> None:
    """SetDefaults_RoleRef-like and SetDefaults_Subject: the RBAC group for roleRefs, users and groups."""
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = RBAC_GROUP
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = RBAC_GROUP


def path_segment_problems(name: str) -> list[str]:
    """path.IsValidPathSegmentName: the names roles and bindings may have (`system:basic-user` among them)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _rule(rule: Any, namespaced: bool, path: str) -> list[Cause]:
    if not isinstance(rule, dict):
        return []
    causes: list[Cause] = []
    if not rule.get("verbs"):
        causes.append(("FieldValueRequired", f"{path}.verbs", "Required value: verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs") or []
    if urls:
        if namespaced:
            causes.append(("FieldValueInvalid", f"{path}.nonResourceURLs",
                           f"Invalid value: {_go_strings(urls)}: namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            causes.append(("FieldValueInvalid", f"{path}.nonResourceURLs", f"Invalid value: {_go_strings(urls)}: "
                           "rules cannot apply to both regular resources and non-resource URLs"))
        return causes
    if not rule.get("apiGroups"):
        causes.append(("FieldValueRequired", f"{path}.apiGroups",
                       "Required value: resource rules must supply at least one api group"))
    if not rule.get("resources"):
        causes.append(("FieldValueRequired", f"{path}.resources",
                       "Required value: resource rules must supply at least one resource"))
    if rule.get("resourceNames") and len(rule.get("resources") or []) > 1:
        causes.append(("FieldValueRequired", f"{path}.resourceNames",
                       "Required value: resource names cannot apply to multiple resources"))
    return causes


def _subject(subject: Any, namespaced: bool, path: str) -> list[Cause]:
    if not isinstance(subject, dict):
        return []
    causes: list[Cause] = []
    name, kind, group = str(subject.get("name") or ""), subject.get("kind"), subject.get("apiGroup") or ""
    if not name:
        causes.append(("FieldValueRequired", f"{path}.name", "Required value"))
    if kind == "ServiceAccount":
        if group:
            causes.append(_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            causes.append(("FieldValueRequired", f"{path}.namespace", "Required value"))
    elif kind in ("User", "Group"):
        if not name:
            causes.append(("FieldValueInvalid", f"{path}.name",
                           f'Invalid value: "": {"user" if kind == "User" else "group"} name cannot be empty'))
        if group != RBAC_GROUP:
            causes.append(_supported(f"{path}.apiGroup", group, [RBAC_GROUP]))
    else:
        causes.append(_supported(f"{path}.kind", kind or "", ["ServiceAccount", "User", "Group"]))
    return causes


def validate(resource: ResourceDef, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    if resource in (ROLE, CLUSTER_ROLE):
        rules = obj.get("rules") or []
        return [c for i, rule in enumerate(rules if isinstance(rules, list) else [])
                for c in _rule(rule, resource is ROLE, f"rules[{i}]")]
    causes: list[Cause] = []
    ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
    assert isinstance(ref, dict)
    if ref.get("apiGroup") != RBAC_GROUP:
        causes.append(_supported("roleRef.apiGroup", ref.get("apiGroup") or "", [RBAC_GROUP]))
    kinds = ["ClusterRole"] if resource is CLUSTER_ROLE_BINDING else ["Role", "ClusterRole"]
    if ref.get("kind") not in kinds:
        causes.append(_supported("roleRef.kind", ref.get("kind") or "", kinds))
    ref_name = str(ref.get("name") or "")
    if not ref_name:
        causes.append(("FieldValueRequired", "roleRef.name", "Required value"))
    causes += [("FieldValueInvalid", "roleRef.name", f"Invalid value: {quote(ref_name)}: {problem}")
               for problem in path_segment_problems(ref_name)]
    subjects = obj.get("subjects") or []
    causes += [c for i, s in enumerate(subjects if isinstance(subjects, list) else [])
               for c in _subject(s, resource is not CLUSTER_ROLE_BINDING, f"subjects[{i}]")]
    if old is not None and (old.get("roleRef") or {}) != ref:
        causes.append(("FieldValueInvalid", "roleRef", f"Invalid value: {_role_ref(ref)}: cannot change roleRef"))
    return causes
