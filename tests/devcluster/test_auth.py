"""Authentication and authorization on the dev cluster, as kube-apiserver answers them, through raw HTTP and
kubectl 1.27 and 1.33: anonymous requests get /version and health only, bad tokens 401, RBAC denials their exact
403 text; `kubectl auth can-i` (and `--list`), `auth whoami` and `create token`; RoleBindings take effect at once;
impersonation is itself authorized; escalation is refused; creator and lastModifier name the real (or
impersonated) user; /metrics and the audit log."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.devcluster.apiserver.authn import TokenFileError, read_token_file
from tests.support import KUBECTL_VERSIONS, DevClusterProcess, ksvc_manifest, wait_for

KSVC = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
                "reason": "Unauthorized", "code": 401}


def test_anonymous_gets_version_and_health_only(devcluster: DevClusterProcess) -> None:
    for path in ("/version", "/healthz", "/livez", "/readyz"):
        code, _, _ = devcluster.request("GET", path, token="")
        assert code == 200, path
    code, _, body = devcluster.request("GET", "/apis", token="")
    assert (code, body) == (403, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": 'forbidden: User "system:anonymous" cannot get path "/apis"',
                                  "reason": "Forbidden", "details": {}, "code": 403})
    code, _, body = devcluster.request("GET", KSVC.format(ns="default"), token="")
    assert code == 403 and body["message"] == (
        'services.serving.knative.dev is forbidden: User "system:anonymous" cannot list resource "services" in API '
        'group "serving.knative.dev" in the namespace "default"')
    assert body["details"] == {"group": "serving.knative.dev", "kind": "services"}


def test_bad_tokens_are_401_and_never_anonymous(devcluster: DevClusterProcess) -> None:
    for token in ("nonsense", devcluster.token + "x", "a.b.c", devcluster.user_tokens["bob"][:-1]):
        code, _, body = devcluster.request("GET", "/version", token=token)
        assert (code, body) == (401, UNAUTHORIZED), token
    code, _, body = devcluster.request("GET", "/version", headers={"Authorization": "Basic YTpi"}, token="")
    assert code == 200  # not a bearer token: no credentials, so anonymous, as kube-apiserver without basic auth


def test_rbac_denial_names_the_user_verb_resource_and_namespace(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("deny")
    assert devcluster.request("POST", KSVC.format(ns=ns), ksvc_manifest("helloworld-go", ns))[0] == 201
    bob = devcluster.user_tokens["bob"]
    patch = {"metadata": {"labels": {"a": "b"}}}
    code, _, body = devcluster.request("PATCH", KSVC.format(ns=ns) + "/helloworld-go", patch,
                                       content_type="application/merge-patch+json", token=bob)
    assert code == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (f'services.serving.knative.dev "helloworld-go" is forbidden: User "bob" cannot patch '
                               f'resource "services" in API group "serving.knative.dev" in the namespace "{ns}"')
    assert body["details"] == {"name": "helloworld-go", "group": "serving.knative.dev", "kind": "services"}
    devcluster.bind(ns, "view", user="bob")
    assert devcluster.request("GET", KSVC.format(ns=ns), token=bob)[0] == 200  # at once, as RBAC reads its cache
    assert devcluster.request("PATCH", KSVC.format(ns=ns) + "/helloworld-go", patch,
                              content_type="application/merge-patch+json", token=bob)[0] == 403
    other = devcluster.new_namespace("deny")
    assert devcluster.request("GET", KSVC.format(ns=other), token=bob)[0] == 403  # a RoleBinding is one namespace's


def test_a_binding_to_a_missing_role_says_so(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("missing")
    devcluster.bind(ns, "no-such-role", user="carol")
    code, _, body = devcluster.request("GET", KSVC.format(ns=ns), token=devcluster.user_tokens["carol"])
    assert code == 403 and body["message"].endswith(
        ': RBAC: clusterrole.rbac.authorization.k8s.io "no-such-role" not found')


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_kubectl_can_i_whoami_and_create_token(devcluster: DevClusterProcess, version: str) -> None:
    ns = devcluster.new_namespace("kctl")
    devcluster.kubectl(version, "create", "serviceaccount", "deployer", "-n", ns)
    token = devcluster.kubectl(version, "create", "token", "deployer", "-n", ns).stdout.strip()
    assert token.count(".") == 2
    as_deployer = ["--token", token, "-n", ns]
    can_i = devcluster.kubectl(version, "auth", "can-i", "patch", "ksvc", *as_deployer, check=False)
    assert (can_i.returncode, can_i.stdout.strip()) == (1, "no")
    devcluster.kubectl(version, "create", "rolebinding", "deployer-edit", "--clusterrole=edit",
                       f"--serviceaccount={ns}:deployer", "-n", ns)
    assert devcluster.kubectl(version, "auth", "can-i", "patch", "ksvc", *as_deployer).stdout.strip() == "yes"
    assert devcluster.kubectl(version, "auth", "can-i", "delete", "clusterroles", *as_deployer,
                              check=False).stdout.strip() == "no"
    listed = devcluster.kubectl(version, "auth", "can-i", "--list", *as_deployer).stdout
    # Knative's edit role, aggregated into edit: every serving.knative.dev resource
    assert any(line.startswith("*.serving.knative.dev ") and "patch" in line for line in listed.splitlines()), listed
    whoami = devcluster.kubectl(version, "auth", "whoami", *as_deployer).stdout
    assert f"system:serviceaccount:{ns}:deployer" in whoami
    assert f"[system:serviceaccounts system:serviceaccounts:{ns} system:authenticated]" in whoami
    admin = devcluster.kubectl(version, "auth", "whoami", "-o", "json").stdout
    assert json.loads(admin)["status"]["userInfo"] == {"username": "devcluster-admin", "uid": "devcluster-admin",
                                                       "groups": ["system:masters", "system:authenticated"]}
    short = devcluster.kubectl(version, "create", "token", "deployer", "-n", ns, "--duration", "1m", check=False)
    assert short.returncode != 0 and ('TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
                                      "Invalid value: 60: may not specify a duration less than 10 minutes"
                                      in short.stderr)
    devcluster.kubectl(version, "delete", "serviceaccount", "deployer", "-n", ns)
    gone = devcluster.kubectl(version, "get", "ksvc", *as_deployer, check=False)
    assert "error: You must be logged in to the server (" in gone.stderr  # the 401, as kubectl words it


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_impersonation_is_authorized(devcluster: DevClusterProcess, version: str) -> None:
    ns = devcluster.new_namespace("imp")
    devcluster.bind(ns, "edit", user="alice")
    bob = devcluster.user_tokens["bob"]
    denied = devcluster.kubectl(version, "get", "--raw", KSVC.format(ns=ns), "--token", bob, "--as", "alice",
                                check=False)  # raw: discovery would be refused first, and kubectl says "unknown"
    assert ('Error from server (Forbidden): users "alice" is forbidden: User "bob" cannot impersonate resource '
            '"users" in API group "" at the cluster scope') in denied.stderr
    manifest = ksvc_manifest(f"imp-{version.replace('.', '')}", ns)
    created = devcluster.kubectl(version, "create", "-f", "-", "-o", "json", "--as", "alice", input=json.dumps(manifest))
    annotations = json.loads(created.stdout)["metadata"]["annotations"]
    assert annotations["serving.knative.dev/creator"] == annotations["serving.knative.dev/lastModifier"] == "alice"
    as_sa = devcluster.kubectl(version, "auth", "whoami", "--as", f"system:serviceaccount:{ns}:default", "-o", "json")
    assert json.loads(as_sa.stdout)["status"]["userInfo"]["groups"] == [
        "system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
    code, headers, body = devcluster.request("GET", "/version", headers={"Impersonate-Group": "system:masters"})
    assert code == 500 and headers["Content-Type"].startswith("text/plain")
    assert body == ('Internal Server Error: "/version": requested [{Group  system:masters    }] without '
                    "impersonating a user\n")


def test_creator_and_last_modifier_are_the_authenticated_users(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("who")
    devcluster.bind(ns, "edit", user="alice")
    devcluster.bind(ns, "edit", user="carol")
    alice, carol = devcluster.user_tokens["alice"], devcluster.user_tokens["carol"]
    code, _, body = devcluster.request("POST", KSVC.format(ns=ns), ksvc_manifest("who", ns), token=alice)
    assert code == 201, body
    annotations = body["metadata"]["annotations"]
    assert annotations["serving.knative.dev/creator"] == annotations["serving.knative.dev/lastModifier"] == "alice"
    first = f"/apis/serving.knative.dev/v1/namespaces/{ns}/revisions/who-00001"
    # The first revision first: a template changed before the controller has seen the Service would be its first.
    wait_for(lambda: devcluster.request("GET", first)[0] == 200, message="the first revision")
    template = {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:v2"}]}}}}
    code, _, body = devcluster.request("PATCH", KSVC.format(ns=ns) + "/who", template,
                                       content_type="application/merge-patch+json", token=carol)
    assert code == 200, body
    annotations = body["metadata"]["annotations"]
    assert (annotations["serving.knative.dev/creator"], annotations["serving.knative.dev/lastModifier"]) == \
        ("alice", "carol")
    revisions = f"/apis/serving.knative.dev/v1/namespaces/{ns}/revisions/who-00002"
    revision = wait_for(lambda: devcluster.request("GET", revisions)[2] if devcluster.request("GET", revisions)[0] == 200
                        else None, message="the second revision")
    assert revision["metadata"]["annotations"]["serving.knative.dev/creator"] == "carol"


def test_escalation_is_refused(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("esc")
    devcluster.bind(ns, "admin", user="bob")  # may create RoleBindings here, but holds no cluster-wide rights
    bob = devcluster.user_tokens["bob"]
    binding = {"metadata": {"name": "bob-root"}, "subjects": [{"kind": "User", "name": "bob"}],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}}
    code, _, body = devcluster.request("POST", f"{RBAC}/namespaces/{ns}/rolebindings", binding, token=bob)
    assert code == 403 and body["message"] == (
        'rolebindings.rbac.authorization.k8s.io "bob-root" is forbidden: user "bob" (groups=["system:authenticated"]) '
        "is attempting to grant RBAC permissions not currently held:\n"
        '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}')
    role = {"metadata": {"name": "more"}, "rules": [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]},
        {"apiGroups": ["serving.knative.dev"], "resources": ["services"], "verbs": ["get"]}]}
    code, _, body = devcluster.request("POST", f"{RBAC}/namespaces/{ns}/roles", role, token=bob)
    assert code == 403 and body["message"].endswith(
        'is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], '
        'Verbs:["get" "list"]}')
    view = {**binding, "metadata": {"name": "carol-view"}, "subjects": [{"kind": "User", "name": "carol"}],
            "roleRef": {**binding["roleRef"], "name": "view"}}
    assert devcluster.request("POST", f"{RBAC}/namespaces/{ns}/rolebindings", view, token=bob)[0] == 201
    bad = {"metadata": {"name": "bad"}, "rules": [{"verbs": [], "nonResourceURLs": ["/x"]}]}
    code, _, body = devcluster.request("POST", f"{RBAC}/namespaces/{ns}/roles", bad)
    assert code == 422 and body["message"] == (
        'Role.rbac.authorization.k8s.io "bad" is invalid: [rules[0].verbs: Required value: verbs must contain at '
        'least one value, rules[0].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to '
        "non-resource URLs]")


def test_roles_aggregate_into_the_default_ones(devcluster: DevClusterProcess) -> None:
    name = f"widgets-{uuid.uuid4().hex[:6]}"
    rule = {"apiGroups": ["example.com"], "resources": [name], "verbs": ["get"]}
    role = {"metadata": {"name": name, "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [rule]}
    assert devcluster.request("POST", f"{RBAC}/clusterroles", role)[0] == 201
    for aggregated in ("view", "edit", "admin"):  # view is aggregated into edit, edit into admin
        wait_for(lambda a=aggregated: rule in devcluster.get(f"{RBAC}/clusterroles/{a}")["rules"],
                 message=f"{aggregated} to aggregate {name}")
    knative = [r for r in devcluster.get(f"{RBAC}/clusterroles/edit")["rules"]
               if r["apiGroups"] == ["serving.knative.dev"]]
    assert {"apiGroups": ["serving.knative.dev"], "resources": ["*"], "verbs": ["create", "update", "patch",
                                                                                "delete"]} in knative


def test_legacy_token_secrets_get_a_token_that_works(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("legacy")
    assert devcluster.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "ci"}})[0] \
        == 201
    secret = {"metadata": {"name": "ci-token", "annotations": {"kubernetes.io/service-account.name": "ci"}},
              "type": "kubernetes.io/service-account-token"}
    assert devcluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", secret)[0] == 201
    stored = wait_for(lambda: (devcluster.get(f"/api/v1/namespaces/{ns}/secrets/ci-token").get("data") or {})
                      .get("token"), message="the token controller")
    token = base64.b64decode(stored).decode()
    code, _, body = devcluster.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                       {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                                       token=token)
    assert code == 201 and body["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:ci"
    assert devcluster.request("DELETE", f"/api/v1/namespaces/{ns}/secrets/ci-token")[0] == 200
    assert devcluster.request("GET", "/version", token=token)[0] == 401  # the Secret went, and its token with it


def test_metrics_count_requests_for_those_allowed_to_read_them(devcluster: DevClusterProcess) -> None:
    for version in KUBECTL_VERSIONS:
        text = devcluster.kubectl(version, "get", "--raw", "/metrics").stdout
        assert "# TYPE apiserver_request_total counter" in text
        assert 'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="namespaces",' \
               'scope="resource",subresource="",verb="POST",version="v1"}' not in text  # creating is 201
        assert 'resource="namespaces",scope="resource",subresource="",verb="POST",version="v1"}' in text
        assert 'apiserver_storage_objects{resource="services.serving.knative.dev"}' in text
        assert "apiserver_request_duration_seconds_bucket{" in text and "apiserver_longrunning_requests" in text
        assert "apiserver_storage_size_bytes{storage_cluster_id=\"devcluster\"}" in text
    code, _, body = devcluster.request("GET", "/metrics", token=devcluster.user_tokens["bob"])
    assert code == 403 and body["message"] == 'forbidden: User "bob" cannot get path "/metrics"'


def test_the_audit_log_says_who_did_what(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("audit")
    devcluster.request("GET", KSVC.format(ns=ns), token=devcluster.user_tokens["carol"])
    events = [e for e in devcluster.audit_events("carol") if e.get("objectRef", {}).get("namespace") == ns]
    assert events and events[-1]["verb"] == "list" and events[-1]["responseStatus"]["code"] == 403
    assert events[-1]["objectRef"] == {"resource": "services", "namespace": ns, "apiGroup": "serving.knative.dev",
                                       "apiVersion": "v1"}
    assert events[-1]["annotations"]["authorization.k8s.io/decision"] == "forbid"


def test_token_file_format(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text('t1,alice,uid-1,"dev,qa"\n\nt2,bob,uid-2\n,nobody,uid-3\n')
    users = read_token_file(path)
    assert users["t1"].name == "alice" and users["t1"].groups == ("dev", "qa") and users["t2"].groups == ()
    assert "" not in users
    path.write_text("t1,alice\n")
    with pytest.raises(TokenFileError, match="must have at least 3 columns"):
        read_token_file(path)


HEADER_VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(str.strip)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(authorization=st.one_of(st.none(), HEADER_VALUE, HEADER_VALUE.map(lambda t: f"Bearer {t}".strip()),
                               st.sampled_from(["alice", "bob", "admin"])),
       user=st.one_of(st.none(), HEADER_VALUE, st.sampled_from(["alice", "system:serviceaccount:default:default",
                                                                 "system:anonymous", "system:admin"])),
       groups=st.lists(HEADER_VALUE | st.just("system:masters"), max_size=2),
       uid=st.one_of(st.none(), HEADER_VALUE))
def test_whatever_credentials_a_client_sends_nothing_is_written_without_rights(
        devcluster: DevClusterProcess, authorization: str | None, user: str | None, groups: list[str],
        uid: str | None) -> None:
    """Any Authorization and Impersonate-* headers: 401, 403 or kube's own plain-text 500 for impersonating groups
    without a user; a write succeeds only with the admin's token."""
    ns = _fuzz_namespace(devcluster)
    tokens = {"alice": devcluster.user_tokens["alice"], "bob": devcluster.user_tokens["bob"], "admin": devcluster.token}
    headers = [("Content-Type", "application/json")]
    if authorization is not None:
        headers.append(("Authorization", f"Bearer {tokens[authorization]}" if authorization in tokens
                        else authorization))
    if user is not None:
        headers.append(("Impersonate-User", user))
    headers += [("Impersonate-Group", group) for group in groups]
    if uid is not None:
        headers.append(("Impersonate-Uid", uid))
    name = f"cm-{uuid.uuid4().hex[:8]}"
    with httpx.Client(verify=devcluster.tls(), timeout=10, trust_env=False) as http:
        response = http.post(f"{devcluster.api_url}/api/v1/namespaces/{ns}/configmaps",
                             json={"metadata": {"name": name}}, headers=headers)
    code = response.status_code
    if code == 500:  # filters/impersonation.go answers this one with responsewriters.InternalError
        assert response.text.startswith('Internal Server Error: "/api/v1/namespaces/') and \
            "without impersonating a user" in response.text and not user
        return
    assert code in (201, 401, 403), response.text
    if code == 201:
        assert authorization == "admin", (authorization, user, groups)  # no one else has configmaps create here
    else:
        assert response.json()["kind"] == "Status"
        assert devcluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}")[0] == 404


_namespaces: dict[str, str] = {}


def _fuzz_namespace(cluster: DevClusterProcess) -> str:
    if cluster.api_url not in _namespaces:
        _namespaces[cluster.api_url] = cluster.new_namespace("credfuzz")
    return _namespaces[cluster.api_url]
