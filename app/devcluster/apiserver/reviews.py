"""The review APIs, answered and never stored: SelfSubjectAccessReview and SelfSubjectRulesReview
(`kubectl auth can-i`, `--list`), SelfSubjectReview (`kubectl auth whoami`), SubjectAccessReview,
LocalSubjectAccessReview and TokenReview."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.devcluster.apiserver import errors
from app.devcluster.apiserver.objects import now
from app.devcluster.apiserver.rbac import Attributes, Authorizer, aggregate
from app.devcluster.apiserver.resources import ResourceDef
from app.devcluster.apiserver.users import UserInfo


def _spec(body: Any, kind: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: the body must be an object')
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise errors.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: spec must be an object')
    return spec


def _text(values: dict[str, Any], key: str) -> str:
    value = values.get(key)
    return value if isinstance(value, str) else ""


def _attributes(resource: ResourceDef, spec: dict[str, Any], user: UserInfo, namespace: str = "") -> Attributes:
    """The attributes a review asks about: exactly one of resourceAttributes and nonResourceAttributes."""
    resource_attrs, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if isinstance(resource_attrs, dict) and isinstance(non_resource, dict):
        raise errors.invalid(resource.kind, resource.group, "", [
            ("FieldValueInvalid", "spec.nonResourceAttributes",
             "Invalid value: \"\": cannot be specified in combination with resourceAttributes")])
    if isinstance(resource_attrs, dict):
        return Attributes(user, _text(resource_attrs, "verb"), True, api_group=_text(resource_attrs, "group"),
                          api_version=_text(resource_attrs, "version"),
                          namespace=namespace or _text(resource_attrs, "namespace"),
                          resource=_text(resource_attrs, "resource"),
                          subresource=_text(resource_attrs, "subresource"), name=_text(resource_attrs, "name"))
    if isinstance(non_resource, dict):
        return Attributes(user, _text(non_resource, "verb"), False, path=_text(non_resource, "path"))
    raise errors.invalid(resource.kind, resource.group, "", [
        ("FieldValueInvalid", "spec.resourceAttributes",
         'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified')])


def _answer(resource: ResourceDef, body: Any, spec: dict[str, Any], status: dict[str, Any],
            namespace: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {"creationTimestamp": None}
    sent = body.get("metadata") if isinstance(body, dict) else None
    if isinstance(sent, dict) and isinstance(sent.get("name"), str):
        metadata["name"] = sent["name"]
    if namespace:
        metadata["namespace"] = namespace
    return {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata, "spec": spec,
            "status": status}


def _access_status(allowed: bool, reason: str) -> dict[str, Any]:
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return status


class Reviews:
    def __init__(self, authorizer: Authorizer, token_user: Callable[[str], UserInfo | None]) -> None:
        self.authorizer = authorizer
        self.token_user = token_user

    def answer(self, resource: ResourceDef, body: Any, user: UserInfo, namespace: str = "") -> dict[str, Any]:
        handler = getattr(self, "_" + resource.kind.lower())
        return handler(resource, body, user, namespace)  # type: ignore[no-any-return]

    def _selfsubjectaccessreview(self, resource: ResourceDef, body: Any, user: UserInfo, _: str) -> dict[str, Any]:
        spec = _spec(body, resource.kind)
        return _answer(resource, body, spec,
                       _access_status(*self.authorizer.authorize(_attributes(resource, spec, user))))

    def _subjectaccessreview(self, resource: ResourceDef, body: Any, _: UserInfo, namespace: str) -> dict[str, Any]:
        spec = _spec(body, resource.kind)
        groups = spec.get("groups") or []
        subject = UserInfo(_text(spec, "user"), _text(spec, "uid"),
                           tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else ())
        if not subject.name and not subject.groups:
            raise errors.invalid(resource.kind, resource.group, "", [
                ("FieldValueInvalid", "spec.user", 'Invalid value: "": at least one of user or group must be '
                 "specified")])
        attrs = _attributes(resource, spec, subject, namespace)
        return _answer(resource, body, spec, _access_status(*self.authorizer.authorize(attrs)), namespace)

    _localsubjectaccessreview = _subjectaccessreview

    def _selfsubjectrulesreview(self, resource: ResourceDef, body: Any, user: UserInfo, _: str) -> dict[str, Any]:
        spec = _spec(body, resource.kind)
        namespace = _text(spec, "namespace")
        resource_rules: list[dict[str, Any]] = []
        non_resource_rules: list[dict[str, Any]] = []
        if user.privileged:  # the privileged-group authorizer's rules come first
            resource_rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
            non_resource_rules.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
        rules, problems = self.authorizer.resolver.rules_for(user, namespace)
        for rule in rules:
            verbs = rule.get("verbs") or []
            if rule.get("resources"):
                entry: dict[str, Any] = {"verbs": verbs, "apiGroups": rule.get("apiGroups") or [],
                                         "resources": rule["resources"]}
                if rule.get("resourceNames"):
                    entry["resourceNames"] = rule["resourceNames"]
                resource_rules.append(entry)
            if rule.get("nonResourceURLs"):
                non_resource_rules.append({"verbs": verbs, "nonResourceURLs": rule["nonResourceURLs"]})
        status: dict[str, Any] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                                  "incomplete": False}
        if problems:
            status["evaluationError"] = aggregate(problems)
        return _answer(resource, body, spec, status)

    def _selfsubjectreview(self, resource: ResourceDef, body: Any, user: UserInfo, _: str) -> dict[str, Any]:
        return {"kind": resource.kind, "apiVersion": resource.api_version,
                "metadata": {"creationTimestamp": now()}, "status": {"userInfo": user.as_json()}}

    def _tokenreview(self, resource: ResourceDef, body: Any, _: UserInfo, __: str) -> dict[str, Any]:
        spec = _spec(body, resource.kind)
        found = self.token_user(_text(spec, "token"))
        status: dict[str, Any] = {"authenticated": True, "user": found.as_json()} if found else {"user": {}}
        return _answer(resource, body, spec, status)
