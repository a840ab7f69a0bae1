"""RBAC authorization, as kube-apiserver does it (plugin/pkg/auth/authorizer/rbac, pkg/registry/rbac/validation).

A request's attributes are allowed when a rule of a role bound to the user, one of their groups or their service
account allows them: ClusterRoleBindings anywhere, RoleBindings in the request's namespace. Members of
system:masters are allowed everything before RBAC is asked (kube-apiserver's privileged-group authorizer). A
denial is the 403 whose message `responsewriters.Forbidden` writes, word for word.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.devcluster.apiserver.errors import ApiError, qualified
from app.devcluster.apiserver.gofmt import quote
from app.devcluster.apiserver.resources import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, RBAC_GROUP, ROLE, ROLE_BINDING
from app.devcluster.apiserver.store import Reader
from app.devcluster.apiserver.users import UserInfo, service_account_username

Rule = dict[str, Any]  # a PolicyRule as stored: apiGroups, resources, resourceNames, nonResourceURLs, verbs


@dataclass(frozen=True)
class Attributes:
    """authorizer.Attributes: who asks to do what."""

    user: UserInfo
    verb: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


def _strings(rule: Rule, key: str) -> list[str]:
    values = rule.get(key) or []
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def rule_allows(attrs: Attributes, rule: Rule) -> bool:
    verbs = _strings(rule, "verbs")
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.resource_request:
        return any(url == "*" or url == attrs.path or (url.endswith("*") and attrs.path.startswith(url.rstrip("*")))
                   for url in _strings(rule, "nonResourceURLs"))
    groups = _strings(rule, "apiGroups")
    if "*" not in groups and attrs.api_group not in groups:
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not any(r == "*" or r == combined or (attrs.subresource and r == f"*/{attrs.subresource}")
               for r in _strings(rule, "resources")):
        return False
    names = _strings(rule, "resourceNames")
    return not names or attrs.name in names


def _subject_applies(user: UserInfo, subject: Any, namespace: str) -> bool:
    if not isinstance(subject, dict):
        return False
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.name == service_account_username(str(sa_namespace), str(name))
    return False


def _describe_subject(subject: dict[str, Any], binding_namespace: str) -> str:
    kind, name = str(subject.get("kind")), str(subject.get("name"))
    if kind == "ServiceAccount":
        return f"{kind} {quote(name + '/' + str(subject.get('namespace') or binding_namespace))}"
    return f"{kind} {quote(name)}"


class Resolver:
    """The rules that apply to a user in a namespace, read from the stored roles and bindings."""

    def __init__(self, store: Reader) -> None:
        self.store = store

    def role_rules(self, role_ref: Any, namespace: str) -> list[Rule]:
        """The rules a binding's roleRef names; raises LookupError with the lister's message when it cannot."""
        ref = role_ref if isinstance(role_ref, dict) else {}
        kind, name = ref.get("kind"), str(ref.get("name") or "")
        if kind == "Role":
            role = self.store.get(ROLE.key, namespace, name)
            what = "role"
        elif kind == "ClusterRole":
            role = self.store.get(CLUSTER_ROLE.key, "", name)
            what = "clusterrole"
        else:
            raise LookupError(f"unsupported role reference kind: {quote(str(kind))}")
        if role is None:
            raise LookupError(f"{what}.{RBAC_GROUP} {quote(name)} not found")
        rules = role.get("rules") or []
        return [rule for rule in rules if isinstance(rule, dict)] if isinstance(rules, list) else []

    def visit(self, user: UserInfo, namespace: str) -> Iterator[tuple[str, Rule | None, str]]:
        """(where the rule comes from, the rule, "") for each rule that applies, or ("", None, error):
        ClusterRoleBindings first, then the RoleBindings of the request's namespace."""
        yield from self._bound(user, self.store.list(CLUSTER_ROLE_BINDING.key), "")
        if namespace:
            yield from self._bound(user, self.store.list(ROLE_BINDING.key, namespace), namespace)

    def _bound(self, user: UserInfo, bindings: list[dict[str, Any]],
               namespace: str) -> Iterator[tuple[str, Rule | None, str]]:
        kind = "RoleBinding" if namespace else "ClusterRoleBinding"
        for binding in bindings:
            subject = self._applying(user, binding, namespace)
            if subject is None:
                continue
            try:
                rules = self.role_rules(binding.get("roleRef"), namespace)
            except LookupError as error:
                yield "", None, str(error)
                continue
            ref = binding.get("roleRef") or {}
            name = binding["metadata"]["name"] + (f"/{namespace}" if namespace else "")
            source = (f"{kind} {quote(name)} of {ref.get('kind')} {quote(str(ref.get('name')))} to "
                      f"{_describe_subject(subject, namespace)}")
            for rule in rules:
                yield source, rule, ""

    @staticmethod
    def _applying(user: UserInfo, binding: dict[str, Any], namespace: str) -> dict[str, Any] | None:
        subjects = binding.get("subjects") or []
        if not isinstance(subjects, list):
            return None
        return next((s for s in subjects if _subject_applies(user, s, namespace)), None)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
        rules: list[Rule] = []
        problems: list[str] = []
        for _, rule, error in self.visit(user, namespace):
            if rule is not None:
                rules.append(rule)
            if error:
                problems.append(error)
        return rules, problems


def aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(errs).Error()."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


class Authorizer:
    def __init__(self, store: Reader) -> None:
        self.resolver = Resolver(store)

    def authorize(self, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason): the reason names the binding that allowed, or the RBAC errors met on the way."""
        if attrs.user.privileged:
            return True, ""
        errors: list[str] = []
        for source, rule, error in self.resolver.visit(attrs.user, attrs.namespace):
            if rule is not None and rule_allows(attrs, rule):
                return True, f"RBAC: allowed by {source}"
            if error:
                errors.append(error)
        return False, f"RBAC: {aggregate(errors)}" if errors else ""


def _sanitize(text: str) -> str:
    """Avoid emitting errors that look like valid HTML (responsewriters.sanitizer)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def forbidden_message(attrs: Attributes) -> str:
    user = quote(attrs.user.name)
    if not attrs.resource_request:
        return f"User {user} cannot {attrs.verb} path {quote(attrs.path)}"
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f"in the namespace {quote(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
    return f"User {user} cannot {attrs.verb} resource {quote(resource)} in API group {quote(attrs.api_group)} {where}"


def forbidden(attrs: Attributes, reason: str = "") -> ApiError:
    """responsewriters.Forbidden: apierrors.NewForbidden over the group and resource asked for."""
    why = _sanitize(forbidden_message(attrs))
    if reason:
        why = f"{why}: {reason}"
    return forbidden_error(attrs.resource if attrs.resource_request else "", attrs.api_group, attrs.name, why)


def forbidden_error(resource: str, group: str, name: str, why: str) -> ApiError:
    """apierrors.NewForbidden: `<resource>.<group> "<name>" is forbidden: <why>`, without the parts that are empty."""
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if resource and group:
        details["group"] = group
    if resource:
        details["kind"] = resource
        subject = qualified(resource, group)
        message = f"{subject} {quote(name)} is forbidden: {why}" if name else f"{subject} is forbidden: {why}"
    else:
        message = f"forbidden: {why}"
    return ApiError(403, "Forbidden", message, details)
