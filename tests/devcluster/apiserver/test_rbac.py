"""RBAC's pure parts, table by table: which rules allow which request (subresources, `*/status`, resource names,
non-resource URLs with a trailing `*`), what a request asks in authorization's terms (RequestInfo), and the
escalation check's coverage and compacted description of the rules a user does not hold."""

from __future__ import annotations

import pytest

from app.devcluster.apiserver.escalation import compact, compact_string, uncovered
from app.devcluster.apiserver.gofmt import quote, quote_list
from app.devcluster.apiserver.rbac import Attributes, forbidden, rule_allows
from app.devcluster.apiserver.requestinfo import request_info
from app.devcluster.apiserver.users import UserInfo

BOB = UserInfo("bob", groups=("system:authenticated",))


def _resource(verb: str, resource: str, group: str = "", sub: str = "", name: str = "", ns: str = "") -> Attributes:
    return Attributes(BOB, verb, True, api_group=group, resource=resource, subresource=sub, name=name, namespace=ns)


@pytest.mark.parametrize(("rule", "attrs", "allowed"), [
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, _resource("get", "pods"), True),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, _resource("list", "pods"), False),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}, _resource("delete", "pods"), True),
    ({"apiGroups": ["apps"], "resources": ["pods"], "verbs": ["get"]}, _resource("get", "pods"), False),
    ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}, _resource("get", "x", "y.io"), True),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, _resource("get", "pods", sub="log"), False),
    ({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}, _resource("get", "pods", sub="log"), True),
    ({"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]}, _resource("get", "pods", sub="log"), True),
    ({"apiGroups": [""], "resources": ["*/status"], "verbs": ["get"]}, _resource("get", "pods", sub="log"), False),
    ({"apiGroups": [""], "resources": ["cm"], "resourceNames": ["a"], "verbs": ["get"]},
     _resource("get", "cm", name="a"), True),
    ({"apiGroups": [""], "resources": ["cm"], "resourceNames": ["a"], "verbs": ["get"]},
     _resource("get", "cm", name="b"), False),
    ({"apiGroups": [""], "resources": ["cm"], "resourceNames": ["a"], "verbs": ["list"]}, _resource("list", "cm"),
     False),
    ({"nonResourceURLs": ["/healthz"], "verbs": ["get"]}, Attributes(BOB, "get", False, path="/healthz"), True),
    ({"nonResourceURLs": ["/apis/*"], "verbs": ["get"]}, Attributes(BOB, "get", False, path="/apis/x/v1"), True),
    ({"nonResourceURLs": ["/apis/*"], "verbs": ["get"]}, Attributes(BOB, "get", False, path="/apis"), False),
    ({"nonResourceURLs": ["*"], "verbs": ["*"]}, Attributes(BOB, "post", False, path="/anything"), True),
    ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, Attributes(BOB, "get", False, path="/metrics"), False),
    ({"verbs": "not-a-list"}, _resource("get", "pods"), False),
])
def test_rule_allows(rule: dict, attrs: Attributes, allowed: bool) -> None:
    assert rule_allows(attrs, rule) is allowed


@pytest.mark.parametrize(("method", "path", "query", "expected"), [
    ("GET", "/api", {}, ("get", False, "", "", "", "")),
    ("GET", "/api/v1", {}, ("get", False, "", "", "", "")),
    ("GET", "/apis/serving.knative.dev/v1", {}, ("get", False, "", "", "", "")),
    ("GET", "/api/v1/namespaces", {}, ("list", True, "", "namespaces", "", "")),
    ("GET", "/api/v1/namespaces/foo", {}, ("get", True, "foo", "namespaces", "foo", "")),
    ("PUT", "/api/v1/namespaces/foo/finalize", {}, ("update", True, "foo", "namespaces", "foo", "finalize")),
    ("GET", "/apis/serving.knative.dev/v1/namespaces/d/services", {"watch": "true"},
     ("watch", True, "d", "services", "", "")),
    ("GET", "/apis/serving.knative.dev/v1/namespaces/d/services", {"fieldSelector": "metadata.name=x"},
     ("list", True, "d", "services", "x", "")),
    ("DELETE", "/api/v1/namespaces/d/configmaps", {}, ("deletecollection", True, "d", "configmaps", "", "")),
    ("POST", "/api/v1/namespaces/d/serviceaccounts/sa/token", {}, ("create", True, "d", "serviceaccounts", "sa",
                                                                    "token")),
    ("PATCH", "/apis/serving.knative.dev/v1/namespaces/d/services/s/status", {},
     ("patch", True, "d", "services", "s", "status")),
    ("GET", "/metrics", {}, ("get", False, "", "", "", "")),
])
def test_request_info(method: str, path: str, query: dict, expected: tuple) -> None:
    attrs = request_info(method, path, query, BOB)
    assert (attrs.verb, attrs.resource_request, attrs.namespace, attrs.resource, attrs.name,
            attrs.subresource) == expected


def test_escalation_lists_what_is_missing_compactly() -> None:
    owned = [{"apiGroups": ["serving.knative.dev"], "resources": ["*"], "verbs": ["get", "list"]},
             {"apiGroups": [""], "resources": ["*/status"], "verbs": ["get"]}]
    wanted = [{"apiGroups": ["serving.knative.dev"], "resources": ["services"], "verbs": ["get", "patch", "delete"]},
              {"apiGroups": [""], "resources": ["pods/status", "pods"], "verbs": ["get"]},
              {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
    missing = uncovered(owned, wanted)
    lines = sorted(compact_string(rule) for rule in compact(missing))
    assert lines == ['{APIGroups:[""], Resources:["pods"], Verbs:["get"]}',
                     '{APIGroups:["serving.knative.dev"], Resources:["services"], Verbs:["patch" "delete"]}',
                     '{NonResourceURLs:["/metrics"], Verbs:["get"]}']
    assert uncovered([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                      {"nonResourceURLs": ["*"], "verbs": ["*"]}], wanted) == []
    named = [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"], "verbs": ["get"]}]
    assert uncovered(named, [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])  # all names: more


def test_forbidden_messages_and_go_quoting() -> None:
    assert forbidden(_resource("get", "pods", sub="log", name="p", ns="d")).message == (
        'pods "p" is forbidden: User "bob" cannot get resource "pods/log" in API group "" in the namespace "d"')
    assert forbidden(_resource("list", "clusterroles", "rbac.authorization.k8s.io")).message == (
        'clusterroles.rbac.authorization.k8s.io is forbidden: User "bob" cannot list resource "clusterroles" in API '
        'group "rbac.authorization.k8s.io" at the cluster scope')
    odd = Attributes(UserInfo('a"<b>'), "get", False, path="/x")
    assert forbidden(odd, "RBAC: why").message == 'forbidden: User "a\\"&lt;b&gt;" cannot get path "/x": RBAC: why'
    assert quote("tab\there\x00") == '"tab\\there\\x00"' and quote_list(["a", "b"]) == '["a" "b"]'
