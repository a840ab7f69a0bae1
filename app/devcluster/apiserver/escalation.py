"""RBAC's escalation prevention: a user may create or change a role only with rules they already hold (or with the
`escalate` verb), and bind a role only when they hold its rules (or have the `bind` verb on it). Members of
system:masters are never checked. As pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased
and pkg/registry/rbac/validation (ConfirmNoEscalation, Covers, CompactRules) do it, with their messages.
"""

from __future__ import annotations

from typing import Any

from app.devcluster.apiserver import errors
from app.devcluster.apiserver.gofmt import quote, quote_list
from app.devcluster.apiserver.rbac import Attributes, Authorizer, Rule, aggregate, forbidden_error
from app.devcluster.apiserver.resources import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, RBAC_GROUP, ROLE, ResourceDef
from app.devcluster.apiserver.users import UserInfo

FULL_AUTHORITY: list[Rule] = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
    {"nonResourceURLs": ["*"], "verbs": ["*"]},
]
_GC_FIELDS = ("ownerReferences", "finalizers")


def _strings(rule: Rule, key: str) -> list[str]:
    values = rule.get(key) or []
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def breakdown(rule: Rule) -> list[Rule]:
    """The rule as rules of one verb, one resource and one name each (validation.BreakdownRule)."""
    verbs, names = _strings(rule, "verbs"), _strings(rule, "resourceNames")
    subrules: list[Rule] = []
    for group in _strings(rule, "apiGroups"):
        for resource in _strings(rule, "resources"):
            for verb in verbs:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                subrules += [{**base, "resourceNames": [n]} for n in names] if names else [base]
    subrules += [{"nonResourceURLs": [url], "verbs": [verb]} for url in _strings(rule, "nonResourceURLs")
                 for verb in verbs]
    return subrules


def _resources_cover(owned: list[str], wanted: list[str]) -> bool:
    if "*" in owned or set(wanted) <= set(owned):
        return True
    for path in wanted:
        if path in owned:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owned:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def _covers(owner: Rule, sub: Rule) -> bool:
    owner_verbs, owner_groups = _strings(owner, "verbs"), _strings(owner, "apiGroups")
    owner_names, sub_names = _strings(owner, "resourceNames"), _strings(sub, "resourceNames")
    return (("*" in owner_verbs or set(_strings(sub, "verbs")) <= set(owner_verbs))
            and ("*" in owner_groups or set(_strings(sub, "apiGroups")) <= set(owner_groups))
            and _resources_cover(_strings(owner, "resources"), _strings(sub, "resources"))
            and all(any(_url_covers(o, p) for o in _strings(owner, "nonResourceURLs"))
                    for p in _strings(sub, "nonResourceURLs"))
            and (not owner_names if not sub_names else (not owner_names or set(sub_names) <= set(owner_names))))


def uncovered(owned: list[Rule], wanted: list[Rule]) -> list[Rule]:
    """The parts of `wanted` no rule in `owned` covers (validation.Covers)."""
    return [sub for rule in wanted for sub in breakdown(rule) if not any(_covers(o, sub) for o in owned)]


def compact(rules: list[Rule]) -> list[Rule]:
    """Rules of one group and one resource that differ only by verb, merged (validation.CompactRules)."""
    simple: dict[tuple[str, str], Rule] = {}
    others: list[Rule] = []
    for rule in rules:
        groups, resources = _strings(rule, "apiGroups"), _strings(rule, "resources")
        if len(groups) == 1 and len(resources) == 1 and not rule.get("resourceNames") and \
                not rule.get("nonResourceURLs"):
            key = (groups[0], resources[0])
            if key in simple:
                simple[key]["verbs"] = simple[key]["verbs"] + _strings(rule, "verbs")
            else:
                simple[key] = {"apiGroups": groups, "resources": resources, "verbs": _strings(rule, "verbs")}
        else:
            others.append(rule)
    return others + list(simple.values())


def compact_string(rule: Rule) -> str:
    """rbacv1helpers.CompactString, e.g. `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list"]}`."""
    parts = [f"{label}:{quote_list(_strings(rule, key))}" for label, key in
             (("APIGroups", "apiGroups"), ("Resources", "resources"), ("NonResourceURLs", "nonResourceURLs"),
              ("ResourceNames", "resourceNames"), ("Verbs", "verbs")) if _strings(rule, key)]
    return "{" + ", ".join(parts) + "}"


class Escalation:
    """The checks the RBAC kinds' storage makes before a write by anyone outside system:masters."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    def check(self, resource: ResourceDef, user: UserInfo | None, namespace: str, obj: dict[str, Any],
              old: dict[str, Any] | None) -> None:
        if user is None or user.privileged or resource.group != RBAC_GROUP:
            return
        if old is not None and _only_gc_fields_changed(obj, old):
            return
        name = str(obj["metadata"].get("name") or "")
        if resource in (ROLE, CLUSTER_ROLE):
            self._role(resource, user, namespace, name, obj)
        else:
            self._binding(resource, user, namespace, name, obj)

    def _role(self, resource: ResourceDef, user: UserInfo, namespace: str, name: str, obj: dict[str, Any]) -> None:
        escalate = Attributes(user, "escalate", True, api_group=RBAC_GROUP, namespace=namespace,
                              resource=resource.plural, name=name)
        if self.authorizer.authorize(escalate)[0]:
            return
        rules = obj.get("rules") or []
        self._confirm(resource, user, namespace, name, [r for r in rules if isinstance(r, dict)])
        if resource is CLUSTER_ROLE and obj.get("aggregationRule") is not None:
            try:
                self._confirm(resource, user, namespace, name, FULL_AUTHORITY)
            except errors.ApiError:
                raise forbidden_error(resource.plural, RBAC_GROUP, name,
                                      "must have cluster-admin privileges to use the aggregationRule") from None

    def _binding(self, resource: ResourceDef, user: UserInfo, namespace: str, name: str, obj: dict[str, Any]) -> None:
        ref = obj.get("roleRef") or {}
        kind = ref.get("kind")
        bind = Attributes(user, "bind", True, api_group=str(ref.get("apiGroup") or ""), namespace=namespace,
                          resource="clusterroles" if kind == "ClusterRole" else "roles", name=str(ref.get("name")))
        if kind in ("Role", "ClusterRole") and self.authorizer.authorize(bind)[0]:
            return
        try:
            rules = self.authorizer.resolver.role_rules(ref, namespace)
        except LookupError:
            # The registry's own getter answers here: the plural NotFound of the role asked for.
            plural = CLUSTER_ROLE.plural if kind == "ClusterRole" else ROLE.plural
            raise errors.not_found(plural, RBAC_GROUP, str(ref.get("name") or "")) from None
        self._confirm(resource, user, namespace if resource is not CLUSTER_ROLE_BINDING else "", name, rules)

    def _confirm(self, resource: ResourceDef, user: UserInfo, namespace: str, name: str, rules: list[Rule]) -> None:
        """validation.ConfirmNoEscalation: 403 listing the rules the user does not hold."""
        owned, problems = self.authorizer.resolver.rules_for(user, namespace)
        missing = uncovered(owned, rules)
        if not missing:
            return
        lines = sorted({compact_string(rule) for rule in compact(missing)})
        message = (f"user {quote(user.name)} (groups={quote_list(user.groups)}) is attempting to grant RBAC "
                   "permissions not currently held:\n" + "\n".join(lines))
        if problems:
            message += f"; resolution errors: [{aggregate(problems)}]"
        raise forbidden_error(resource.plural, RBAC_GROUP, name, message)


def _only_gc_fields_changed(obj: dict[str, Any], old: dict[str, Any]) -> bool:
    """rbacregistry.IsOnlyMutatingGCFields: the same object but for ownerReferences and finalizers."""
    def without(o: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (o.get("metadata") or {}).items()
                if k not in (*_GC_FIELDS, "resourceVersion", "managedFields", "generation")}
        return {**{k: v for k, v in o.items() if k != "metadata"}, "metadata": meta}
    return without(obj) == without(old)
