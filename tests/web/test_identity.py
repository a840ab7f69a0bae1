"""Who the console acts as (`--auth`): kubeconfig mode names its user in the top bar; token mode signs users in
with their own tokens (kept only in an encrypted, signed, HttpOnly cookie that ends when idle, at Sign out, or when
the cluster stops accepting the token, and that does not open once changed); proxy mode takes each request's
token from the proxy. Each user acts with their own token: what they may do decides the actions offered, a 403
is said plainly with nothing changed, the Service's creator and lastModifier and the console's history and Events
name them, and no user's enabled actions or live updates reach another."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import cli
from app.cluster import resources as r
from app.cluster.client import Cluster
from app.knative import history
from app.main import create_app
from app.settings import Settings
from app.web.hub import WatchHub
from app.web.security import COOKIE, token_for
from app.web.sessions import COOKIE as SESSION
from tests.support import DevClusterProcess, ksvc_manifest, wait_for
from tests.web.conftest import SECRET, Console, form_fields, live_settings, open_stream, rows_in, served, with_rows
from tests.web.fuzzing import examples, fuzzes
from tests.web.test_live import stream_path, wait_until

HOST = "console.test"


@asynccontextmanager
async def console_as(cluster: DevClusterProcess, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(kubeconfig=str(cluster.kubeconfig), secret_key=SECRET, request_timeout=5.0,
                        allowed_hosts=HOST, **overrides)  # type: ignore[arg-type]
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as http:
            yield http


async def sign_in(http: httpx.AsyncClient, token: str, headers: dict[str, str] | None = None) -> httpx.Response:
    await http.get("/signin")
    return await http.post("/signin", data={"csrf_token": token_for(SECRET, http.cookies[COOKIE]), "token": token,
                                            "next": "/namespaces/default/services"}, headers=headers or {})


async def post_fields(http: httpx.AsyncClient, path: str, fields: list[tuple[str, str]]) -> httpx.Response:
    """A form posted as these pairs, with this browser's CSRF token."""
    fields = [*[(k, v) for k, v in fields if k != "csrf_token"], ("csrf_token", token_for(SECRET, http.cookies[COOKIE]))]
    return await http.post(path, content=urlencode(fields).encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})


async def test_kubeconfig_mode_names_the_user_the_cluster_sees(devcluster: DevClusterProcess) -> None:
    """From the very first request: one made while the console is still asking the cluster who it is waits for
    the answer, so neither the page nor the log line names the kubeconfig's own user name instead."""
    for _ in range(3):
        async with console_as(devcluster) as http:
            page = (await http.get("/namespaces/default/services")).text  # at once: the question is on its way
            assert "devcluster-admin <span class=\"hint\">via kubeconfig</span>" in page, page
            assert "Sign out" not in page


async def test_signing_in_with_a_token(devcluster: DevClusterProcess) -> None:
    async with console_as(devcluster, auth="token") as http:
        away = await http.get("/namespaces/default/services?x=1")
        assert away.status_code == 303 and away.headers["location"] == "/signin?next=%2Fnamespaces%2Fdefault%2Fservices%3Fx%3D1"
        form = await http.get(away.headers["location"])
        assert form.status_code == 200 and 'name="token"' in form.text and 'name="next"' in form.text
        empty = await sign_in(http, "  ")
        assert empty.status_code == 422 and "Paste a token" in empty.text
        spaced = await sign_in(http, "Bearer abc")
        assert spaced.status_code == 422 and "without spaces" in spaced.text
        wrong = await sign_in(http, "not-a-token-the-cluster-knows")
        assert wrong.status_code == 401 and "The cluster did not accept this token (401 Unauthorized)" in wrong.text
        assert "not-a-token-the-cluster-knows" not in wrong.text  # a token is never shown back
        assert SESSION not in http.cookies
        signed = await sign_in(http, devcluster.user_tokens["alice"])
        assert signed.status_code == 303 and signed.headers["location"] == "/namespaces/default/services"
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie and devcluster.user_tokens["alice"] not in cookie  # encrypted
        page = await http.get("/namespaces/default/services")
        assert page.status_code == 403  # alice may not list Services in default: her RBAC decides
        assert "alice may not list Services in default: ask for the view role." in page.text
        assert 'alice <span class="hint">via token</span>' in page.text and ">Sign out</button>" in page.text
    async with console_as(devcluster, auth="token") as http:
        behind_tls = await sign_in(http, devcluster.user_tokens["alice"], {"X-Forwarded-Proto": "https"})
        assert "; Secure" in behind_tls.headers["set-cookie"]


async def team(devcluster: DevClusterProcess, prefix: str, name: str) -> tuple[str, Console]:
    """A new namespace where alice may edit and bob may only look, with the Service `name` the admin made in it (the
    admin's Console is returned: close its client)."""
    ns = devcluster.new_namespace(prefix)
    devcluster.bind(ns, "edit", user="alice")
    devcluster.bind(ns, "view", user="bob")
    admin = Console(httpx.AsyncClient(), devcluster)
    admin.create_ksvc(ns, name)
    await admin.settled(ns, name)
    return ns, admin


async def test_alice_changes_what_bob_may_only_see(devcluster: DevClusterProcess) -> None:
    ns, admin = await team(devcluster, "team", "shared")
    async with console_as(devcluster, auth="token") as alice, console_as(devcluster, auth="token") as bob:
        await sign_in(alice, devcluster.user_tokens["alice"])
        await sign_in(bob, devcluster.user_tokens["bob"])
        alice_list = (await alice.get(f"/namespaces/{ns}/services")).text
        bob_list = (await bob.get(f"/namespaces/{ns}/services")).text
        assert f'href="/namespaces/{ns}/services/shared/delete"' in alice_list and "data-not-allowed" not in alice_list
        assert "/services/shared/delete" not in bob_list  # the cached row of alice's list is not bob's
        assert f'title="bob may not delete Services in {ns}: ask for the edit role" data-not-allowed>Delete' in bob_list
        assert f'title="bob may not create Services in {ns}: ask for the edit role" data-not-allowed>Create Service' \
            in bob_list
        bob_details = (await bob.get(f"/namespaces/{ns}/services/shared")).text
        assert f'title="bob may not patch Services in {ns}: ask for the edit role" data-not-allowed>Split Traffic' \
            in bob_details
        for page, label in ((bob_details, "Split Traffic"), (bob_list, "Delete")):  # a screen reader reads why
            why = re.search(rf'<button [^>]*aria-describedby="([^"]+)" aria-disabled="true"[^>]*>{label}</button>', page)
            assert why and f'id="{why[1]}">bob may not ' in page, label
        split = await alice.get(f"/namespaces/{ns}/services/shared/traffic")
        shown = form_fields(split.text, "split-form")  # the floating entry at 100%: pin the revision instead
        fields = with_rows(shown, [(kind, rev, "100" if kind == "revision" else "0", tag)
                                   for kind, rev, _, tag in rows_in(shown)])
        bob_form = await bob.get(f"/namespaces/{ns}/services/shared/traffic")
        assert f"bob may not patch Services in {ns}: ask for the edit role." in bob_form.text
        assert 'data-ok aria-disabled="true"' in bob_form.text
        assert 'data-not-allowed aria-describedby="not-allowed">OK' in bob_form.text and \
            'id="not-allowed" data-not-allowed-notice>bob may not patch' in bob_form.text
        before = admin.ksvc(ns, "shared")
        forced = await post_fields(bob, f"/namespaces/{ns}/services/shared/traffic", [*fields, ("action", "ok")])
        assert forced.status_code == 403
        assert f"bob may not patch Services in {ns}: ask for the edit role." in forced.text
        assert admin.ksvc(ns, "shared")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        done = await post_fields(alice, f"/namespaces/{ns}/services/shared/traffic", [*fields, ("action", "ok")])
        assert done.status_code == 303, done.text
        annotations = admin.ksvc(ns, "shared")["metadata"]["annotations"]
        assert annotations["serving.knative.dev/creator"] == "devcluster-admin"
        assert annotations["serving.knative.dev/lastModifier"] == "alice"
        shown = (await bob.get(f"/namespaces/{ns}/services/shared")).text
        assert '<dd data-last-modifier>alice</dd>' in shown and '<dd data-creator>devcluster-admin</dd>' in shown
        assert 'data-creator>by devcluster-admin</div>' in shown  # who made each revision
        second = {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:v2"}]}}}}
        code, _, body = devcluster.request("PATCH", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services/shared",
                                           second, content_type="application/merge-patch+json",
                                           token=devcluster.user_tokens["alice"])
        assert code == 200, body
        await admin.settled(ns, "shared", revisions=2)
        disabled = f'title="bob may not patch Services in {ns}: ask for the edit role" data-not-allowed>Send 100%'
        deadline = asyncio.get_running_loop().time() + 10
        while disabled not in (promote := (await bob.get(f"/namespaces/{ns}/services/shared")).text):
            # bob's cached revisions follow a watch: the new one's Ready status may take a moment to arrive
            assert asyncio.get_running_loop().time() < deadline, promote
            await asyncio.sleep(0.05)
        assert "data-creator>by alice</div>" in promote  # the second revision is alice's
    await admin.http.aclose()


async def test_the_review_pages_act_as_each_user(devcluster: DevClusterProcess) -> None:
    """History, Restore and the revision page with sign-in: alice's changes are recorded (history entry and Event)
    under her name and written with her token; bob (view) sees Restore this split and the one-click 100% disabled
    with the reason, and a forced restore gets the 403 message with nothing changed."""
    ns, admin = await team(devcluster, "review", "rv")
    code, _, body = devcluster.request(
        "PATCH", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services/rv",
        {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:v2"}]}}}},
        content_type="application/merge-patch+json")
    assert code == 200, body
    await admin.settled(ns, "rv", revisions=2)
    base = f"/namespaces/{ns}/services/rv"
    async with console_as(devcluster, auth="token") as alice, console_as(devcluster, auth="token") as bob:
        await sign_in(alice, devcluster.user_tokens["alice"])
        await sign_in(bob, devcluster.user_tokens["bob"])
        for percents in (("50", "50"), ("100", "0")):
            shown = form_fields((await alice.get(f"{base}/traffic")).text, "split-form")
            rows = [("latest", "", "0", ""), ("revision", "rv-00001", percents[0], ""),
                    ("revision", "rv-00002", percents[1], "")]
            done = await post_fields(alice, f"{base}/traffic", [*with_rows(shown, rows), ("action", "ok")])
            assert done.status_code == 303, done.text
        entries = history.entries_of(admin.ksvc(ns, "rv"))
        assert [(e.action, e.by) for e in entries] == [("split", "alice"), ("split", "alice")]
        events = wait_for(lambda: [e for e in devcluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
                                   if e.get("reportingComponent") == "knative-console"] or None)
        assert all(" by alice" in e["message"] for e in events), events
        written = wait_for(lambda: [e for e in devcluster.audit_events("alice")
                                    if e["verb"] == "create" and e["objectRef"].get("resource") == "events"
                                    and e["objectRef"].get("namespace") == ns] or None, message="alice's Events")
        assert all(e["responseStatus"]["code"] == 201 for e in written)

        refusal = f'title="bob may not patch Services in {ns}: ask for the edit role" data-not-allowed>'
        earlier = entries[1].id  # the 50/50 split: not the current one, so it can be restored
        bob_history = (await bob.get(f"{base}/history")).text
        assert f"{refusal}Restore this split" in bob_history and f'data-restore="{earlier}"' not in bob_history
        assert f"{refusal}Restore this split" in (await bob.get(base)).text  # the details page's History section
        assert f"{refusal}Send 100%" in (await bob.get(f"{base}/revisions/rv-00002")).text
        alice_history = (await alice.get(f"{base}/history")).text
        assert f'data-restore="{earlier}"' in alice_history and "data-not-allowed" not in alice_history

        restore = await bob.get(f"{base}/traffic?restore={earlier}")
        assert f"bob may not patch Services in {ns}: ask for the edit role." in restore.text
        assert 'data-ok aria-disabled="true"' in restore.text
        before = admin.ksvc(ns, "rv")
        forced = await post_fields(bob, f"{base}/traffic", [*form_fields(restore.text, "split-form"),
                                                            ("action", "ok")])
        assert forced.status_code == 403
        assert f"bob may not patch Services in {ns}: ask for the edit role." in forced.text
        after = admin.ksvc(ns, "rv")
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        assert len(history.entries_of(after)) == 2
        restored = await post_fields(alice, f"{base}/traffic",
                                     [*form_fields((await alice.get(f"{base}/traffic?restore={earlier}")).text,
                                                   "split-form"), ("action", "ok")])
        assert restored.status_code == 303, restored.text
        newest = history.entries_of(admin.ksvc(ns, "rv"))[0]
        assert (newest.action, newest.by, newest.restored) == ("restore", "alice", earlier)
    await admin.http.aclose()


async def test_all_namespaces_offers_delete_where_the_user_may(devcluster: DevClusterProcess) -> None:
    """The list of every namespace asks, per namespace of its rows, whether the user may delete there."""
    home, other = devcluster.new_namespace("mine"), devcluster.new_namespace("theirs")
    token = devcluster.service_account_token(home, "lead", "edit")
    subject = {"kind": "ServiceAccount", "name": "lead", "namespace": home}
    code, _, body = devcluster.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "metadata": {"name": f"lead-view-{home}"}, "subjects": [subject],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}})
    assert code == 201, body
    admin = Console(httpx.AsyncClient(), devcluster)
    unique = home.split("-")[1]
    for ns in (home, other):
        admin.create_ksvc(ns, f"x{unique}")
    user = f"system:serviceaccount:{home}:lead"
    async with console_as(devcluster, auth="token") as http:
        await sign_in(http, token)
        page = await http.get(f"/services?filter=x{unique}")
        assert page.status_code == 200, page.text
        assert f'href="/namespaces/{home}/services/x{unique}/delete"' in page.text
        assert f'title="{user} may not delete Services in {other}: ask for the edit role" data-not-allowed>Delete' \
            in page.text
        assert f"/namespaces/{other}/services/x{unique}/delete" not in page.text
    await admin.http.aclose()


async def test_sign_out_idle_and_tampered_sessions_end(devcluster: DevClusterProcess) -> None:
    async with console_as(devcluster, auth="token", session_idle=1.0) as http:
        await sign_in(http, devcluster.user_tokens["carol"])
        sealed = http.cookies[SESSION]
        out = await http.post("/signout", data={"csrf_token": token_for(SECRET, http.cookies[COOKIE])})
        assert out.status_code == 303 and out.headers["location"] == "/signin?out=1"
        assert out.headers["set-cookie"].startswith(f"{SESSION}=;") and "Max-Age=0" in out.headers["set-cookie"]
        assert "You are signed out" in (await http.get("/signin?out=1")).text
        assert (await http.get("/namespaces/default/services")).status_code == 303
        tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
        http.cookies.set(SESSION, tampered)
        refused = await http.get("/namespaces/default/services")
        assert refused.status_code == 303 and refused.headers["location"].startswith("/signin?")
        assert "could+not+be+read" in refused.headers["location"] or "could%20not%20be%20read" in \
            refused.headers["location"]
        assert "Max-Age=0" in refused.headers["set-cookie"]
        http.cookies.set(SESSION, sealed)  # the genuine cookie, once idle longer than the session may be
        await asyncio.sleep(2.1)
        assert (await http.get("/namespaces/default/services")).status_code == 303


async def test_a_token_the_cluster_stops_accepting_ends_the_session(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("expiring")
    token = devcluster.service_account_token(ns, "temp", "view")
    async with console_as(devcluster, auth="token") as http:
        assert (await sign_in(http, token)).status_code == 303
        assert (await http.get(f"/namespaces/{ns}/services")).status_code == 200
        assert devcluster.request("DELETE", f"/api/v1/namespaces/{ns}/serviceaccounts/temp")[0] == 200
        gone = await http.get(f"/namespaces/{ns}/services")
        assert gone.status_code == 303 and "no+longer+accepts+your+token" in gone.headers["location"].replace(
            "%20", "+")
        assert "Max-Age=0" in gone.headers["set-cookie"]


async def test_proxy_mode_takes_the_token_the_proxy_sends(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("proxied")
    devcluster.bind(ns, "view", user="bob")
    async with console_as(devcluster, auth="proxy", sign_out_url="/oauth2/sign_out") as http:
        nobody = await http.get(f"/namespaces/{ns}/services")
        assert nobody.status_code == 401 and "without a token" in nobody.text
        bearer = await http.get(f"/namespaces/{ns}/services",
                                headers={"Authorization": f"Bearer {devcluster.user_tokens['bob']}"})
        assert bearer.status_code == 200 and 'bob <span class="hint">via proxy</span>' in bearer.text
        forwarded = await http.get(f"/namespaces/{ns}/services",
                                   headers={"X-Forwarded-Access-Token": devcluster.user_tokens["alice"]})
        assert forwarded.status_code == 403 and "alice may not list Services" in forwarded.text
        refused = await http.get(f"/namespaces/{ns}/services", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401 and "does not accept the token the proxy sent" in refused.text
        out = await http.post("/signout", data={"csrf_token": token_for(SECRET, http.cookies[COOKIE])},
                              headers={"Authorization": f"Bearer {devcluster.user_tokens['bob']}"})
        assert out.status_code == 303 and out.headers["location"] == "/oauth2/sign_out"


def _role(cluster: DevClusterProcess, ns: str, user: str, rules: list[dict[str, list[str]]]) -> None:
    """A Role of exactly `rules` in `ns`, bound to `user`."""
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}"
    code, _, body = cluster.request("POST", f"{rbac}/roles", {"metadata": {"name": user}, "rules": rules})
    assert code == 201, body
    code, _, body = cluster.request("POST", f"{rbac}/rolebindings", {
        "metadata": {"name": user}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": user},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    assert code == 201, body


async def test_instances_and_logs_follow_each_users_rbac(devcluster: DevClusterProcess) -> None:
    """Kubernetes' `view` reads a revision's pods and logs; a user whose role lacks pods, or pods/log, gets the Logs
    links disabled with the reason, and the logs page (opened anyway) says plainly what they may not read."""
    ns = devcluster.new_namespace("readers")
    devcluster.bind(ns, "view", user="bob")
    knative = {"apiGroups": ["serving.knative.dev"], "resources": ["services", "revisions"],
               "verbs": ["get", "list", "watch"]}
    _role(devcluster, ns, "alice", [knative, {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}])
    _role(devcluster, ns, "carol", [knative])
    admin = Console(httpx.AsyncClient(), devcluster)
    manifest = ksvc_manifest("busy", ns)
    manifest["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/min-scale": "1"}}
    code, _, body = devcluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services", manifest)
    assert code == 201, body
    await admin.settled(ns, "busy")
    details, logs = f"/namespaces/{ns}/services/busy", f"/namespaces/{ns}/services/busy/revisions/busy-00001/logs"
    async with console_as(devcluster, auth="proxy") as http:
        def as_user(user: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {devcluster.user_tokens[user]}"}

        bob_page = (await http.get(details, headers=as_user("bob"))).text
        assert 'data-logs="busy-00001">Logs</a>' in bob_page and "data-not-allowed>Logs" not in bob_page
        bob_logs = await http.get(logs, headers=as_user("bob"))
        assert bob_logs.status_code == 200 and "helloworld: listening on port 8080" in bob_logs.text

        no_logs = f"alice may not get the logs of Pods in {ns}: ask for the view role"
        alice_page = (await http.get(details, headers=as_user("alice"))).text
        assert f'title="{no_logs}" data-not-allowed>Logs</button>' in alice_page and 'data-logs="busy-00001"' \
            not in alice_page
        alice_logs = await http.get(logs, headers=as_user("alice"))
        assert alice_logs.status_code == 200 and f'<p class="hint">{no_logs}.</p>' in alice_logs.text
        assert "helloworld: listening" not in alice_logs.text

        no_pods = f"carol may not list Pods in {ns}: ask for the view role"
        carol_page = (await http.get(details, headers=as_user("carol"))).text
        assert f'title="{no_pods}" data-not-allowed>Logs</button>' in carol_page
        assert "data-instances>1 running<" in carol_page  # from the revision's status
        carol_logs = await http.get(logs, headers=as_user("carol"))
        assert carol_logs.status_code == 200 and f"{no_pods}. Without it the console cannot find this revision" \
            in carol_logs.text

        # The revision's own page: its instances and the last lines of their logs, as far as each may read them.
        revision = f"/namespaces/{ns}/services/busy/revisions/busy-00001"
        bob_revision = html.unescape((await http.get(revision, headers=as_user("bob"))).text)
        assert "data-instances>1 running<" in bob_revision and "helloworld: listening on port 8080" in bob_revision
        assert f'href="{logs}" data-logs="busy-00001">All of its logs' in bob_revision
        alice_revision = html.unescape((await http.get(revision, headers=as_user("alice"))).text)
        assert 'data-instance="busy-00001-deployment-' in alice_revision and f"{no_logs}." in alice_revision
        assert f'title="{no_logs}" data-not-allowed>All of its logs' in alice_revision
        assert "helloworld: listening" not in alice_revision
        carol_revision = html.unescape((await http.get(revision, headers=as_user("carol"))).text)
        assert f"No instances reported: {no_pods}. The count above comes from the revision's status." in carol_revision
        assert "data-instances>1 running<" in carol_revision  # from the revision's status
        assert f"{no_pods}. Without it the console cannot find this revision's instances" in carol_revision
    # Its live page: the pods carol may not watch are no news (no banner), the rest of the page stays live.
    carol = {"Authorization": f"Bearer {devcluster.user_tokens['carol']}"}
    async with served(live_settings(devcluster, auth="proxy")) as server, \
            httpx.AsyncClient(base_url=server.url, headers=carol) as http:
        page = await http.get(revision)
        async with open_stream(http, stream_path(page)) as stream:
            first = await stream.next()
            assert first.name == "", first  # a heartbeat: nothing to catch up on, no banner

        # A failed revision's explanation: the events carol may not read are said plainly too.
        admin.create_ksvc(ns, "lost", image="registry.invalid/app:v1")
        no_events = f"Its events could not be read: carol may not list Events in {ns}: ask for the view role."
        deadline = asyncio.get_running_loop().time() + 15
        while no_events not in (lost := (await http.get(f"/namespaces/{ns}/services/lost",
                                                        headers=as_user("carol"))).text):
            assert asyncio.get_running_loop().time() < deadline, lost  # until it has failed, and carol's watch says so
            await asyncio.sleep(0.05)
        assert "registry.invalid/app:v1 could not be resolved" in lost
    await admin.http.aclose()


def test_kubeconfig_mode_refuses_a_public_address_without_the_flag() -> None:
    with pytest.raises(SystemExit, match="refusing to serve on 0.0.0.0 with --auth kubeconfig"):
        cli.main(["serve", "--host", "0.0.0.0", "--kubeconfig", "/nonexistent"])


async def test_a_token_users_stream_never_carries_a_namespace_they_may_not_read(
        devcluster: DevClusterProcess) -> None:
    theirs, other = devcluster.new_namespace("mine"), devcluster.new_namespace("secret")
    devcluster.bind(theirs, "view", user="bob")
    devcluster.bind(other, "view", user="alice")
    admin = Console(httpx.AsyncClient(), devcluster)
    settings = Settings(kubeconfig=str(devcluster.kubeconfig), secret_key=SECRET, request_timeout=5.0,
                        live_heartbeat=0.3, auth="token")
    async with served(settings) as server, httpx.AsyncClient(base_url=server.url) as bob, \
            httpx.AsyncClient(base_url=server.url) as alice:
        await sign_in(bob, devcluster.user_tokens["bob"])
        await sign_in(alice, devcluster.user_tokens["alice"])
        async with open_stream(bob, f"/live/namespaces/{other}/services") as denied, \
                open_stream(alice, f"/live/namespaces/{other}/services") as allowed:
            await denied.until(lambda e: e.name == "connection" and
                               f"bob may not list Services in {other}: ask for the view role." in e.data)
            admin.create_ksvc(other, "classified")
            await allowed.until(lambda e: "classified" in e.data)  # alice's stream has it by now
            seen, deadline = [], asyncio.get_running_loop().time() + 1.5
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    seen.append(await denied.next(left))
                except TimeoutError:
                    break
            assert seen and not any("classified" in e.data for e in seen)  # heartbeats, never the Service
        feeds = {key[0] for key in server.live.hub.feeds}
        assert all(key.startswith("user:") for key in feeds) and len(feeds) >= 2  # never a shared watch
    await admin.http.aclose()


async def viewer(devcluster: DevClusterProcess, prefix: str, name: str,
                 auth: str = "token") -> tuple[str, str, Console, Settings]:
    """A new namespace where bob may only look (the RoleBinding's name is returned, to take it away), with the
    Service `name` the admin made in it (close the admin Console's client), and the settings of a console that signs
    users in (`auth` token or proxy)."""
    ns = devcluster.new_namespace(prefix)
    binding = devcluster.bind(ns, "view", user="bob")
    admin = Console(httpx.AsyncClient(), devcluster)
    admin.create_ksvc(ns, name)
    await admin.settled(ns, name)
    settings = Settings(kubeconfig=str(devcluster.kubeconfig), secret_key=SECRET, request_timeout=5.0,
                        live_heartbeat=0.3, auth=auth)  # type: ignore[arg-type]
    return ns, binding, admin, settings


def take_away(devcluster: DevClusterProcess, ns: str, binding: str) -> None:
    code, _, body = devcluster.request(
        "DELETE", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/{binding}")
    assert code == 200, body


@pytest.mark.parametrize("auth", ["token", "proxy"])
async def test_rights_taken_away_end_the_users_live_page_and_cached_list(devcluster: DevClusterProcess,
                                                                         auth: str) -> None:
    """kube-apiserver authorizes a watch when it starts, not while it runs: the console's watches end after
    `watch_seconds` and start again, so when a user's RoleBinding is deleted their live page says so, and their
    cached list stops answering, at the next start instead of up to five minutes later; signed in, or through an
    authenticating proxy that sends their token with every request."""
    ns, binding, admin, settings = await viewer(devcluster, "revoked", "shared", auth)
    row = f'href="/namespaces/{ns}/services/shared"'
    proxied = {"Authorization": f"Bearer {devcluster.user_tokens['bob']}"} if auth == "proxy" else {}
    async with served(settings) as server, httpx.AsyncClient(base_url=server.url, headers=proxied) as bob:
        server.live.hub.watch_seconds = 1
        if auth == "token":
            await sign_in(bob, devcluster.user_tokens["bob"])
        for _ in range(2):  # listed, then read from bob's cache
            assert row in (await bob.get(f"/namespaces/{ns}/services")).text
        cache = next(i for (_, namespace, kind), i in server.live.informers.informers.items()
                     if namespace == ns and kind == r.SERVICE)
        assert cache.vouches()
        async with open_stream(bob, f"/live/namespaces/{ns}/services") as stream:
            take_away(devcluster, ns, binding)
            await stream.until(lambda e: e.name == "connection" and
                               f"bob may not list Services in {ns}: ask for the view role." in e.data, within=10)
        assert not cache.vouches()
        page = await bob.get(f"/namespaces/{ns}/services")
        assert row not in page.text
        assert f"bob may not list Services in {ns}: ask for the view role." in page.text
        devcluster.bind(ns, "view", user="bob")  # given back: the watch starts again and the cache lists again
        deadline = asyncio.get_running_loop().time() + 15
        while not cache.vouches():
            assert asyncio.get_running_loop().time() < deadline, "the cache did not come back"
            await asyncio.sleep(0.05)
        assert row in (await bob.get(f"/namespaces/{ns}/services")).text
    await admin.http.aclose()


async def test_rights_taken_away_leave_nothing_on_the_users_live_pages(devcluster: DevClusterProcess) -> None:
    """A live page is shared by a user's tabs and keeps what it last showed: once the cluster refuses the user's
    watch, neither the tab that had it open nor a tab opened afterwards (another browser, a reconnect) is still sent
    what the page read while the user had the right; the banner says why. Given back, the pages fill again."""
    ns, binding, admin, settings = await viewer(devcluster, "revokedpages", "secret")
    paths = [f"/live/namespaces/{ns}/services", f"/live/namespaces/{ns}/services/secret",
             f"/live/namespaces/{ns}/services/secret/revisions/secret-00001",
             f"/live/namespaces/{ns}/services/secret/history"]

    def says_refused(banner: str) -> bool:  # in plain words, with what to do
        return any(f"bob may not {verb} Services in {ns}: ask for the view role." in banner for verb in ("get", "list"))

    def refused(e: Any) -> bool:
        return bool(e.name == "connection" and says_refused(e.data))

    def showing(regions: dict[str, str]) -> list[str]:
        """The regions (not the banner) that show the Service's revision."""
        return [name for name, html in regions.items() if name != "connection" and "secret-00001" in html]

    async def until_quiet(stream: Any, regions: dict[str, str]) -> list[Any]:
        """Events until five heartbeats in a row, each region's latest HTML kept in `regions`."""
        seen: list[Any] = []
        beats = [0]

        def five(e: Any) -> bool:
            seen.append(e)
            if e.name:
                regions[e.name] = e.data
            beats[0] = beats[0] + 1 if e.name == "" else 0
            return beats[0] >= 5

        await stream.until(five)
        return seen

    async with served(settings) as server, AsyncExitStack() as stack:
        server.live.hub.watch_seconds = 1

        async def tab(path: str) -> Any:  # a browser of its own: its own cookies, under its own stream caps
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=server.url, timeout=10))
            await sign_in(http, devcluster.user_tokens["bob"])
            return await stack.enter_async_context(open_stream(http, path))

        tabs = [await tab(path) for path in paths]
        shown: list[dict[str, str]] = [{} for _ in paths]
        for path, stream, regions in zip(paths, tabs, shown, strict=True):
            await until_quiet(stream, regions)
            assert showing(regions), (path, regions)
        take_away(devcluster, ns, binding)
        for path, stream, regions in zip(paths, tabs, shown, strict=True):
            for e in await stream.until(refused, within=10):
                regions[e.name] = e.data
            await until_quiet(stream, regions)
            assert says_refused(regions["connection"]), (path, regions["connection"])
            assert not showing(regions), (path, showing(regions))  # the open tab no longer shows it
        for path in paths:  # a tab opened now, in another browser: the banner, none of what was read before
            late: dict[str, str] = {}
            await until_quiet(await tab(path), late)
            assert says_refused(late.get("connection", "")), (path, late)
            assert not showing(late), (path, showing(late))
        devcluster.bind(ns, "view", user="bob")  # given back: every page reads again and shows it
        for stream in tabs:
            await stream.until(lambda e: e.name not in ("", "connection") and "secret-00001" in e.data, within=15)
    await admin.http.aclose()


async def test_rights_given_back_fill_the_pages_without_a_raw_refusal_between(devcluster: DevClusterProcess) -> None:
    """Given back, a refused page goes from its refusal straight to its content: once its first watch is let through,
    it reads again and fills, while its other watches, refused with the old rights, are still starting again. Those
    must not show, even for a moment, as "The cluster refused to send live updates for revisions: … forbidden …"."""
    ns, binding, admin, settings = await viewer(devcluster, "regivenpages", "back")
    paths = [f"/live/namespaces/{ns}/services/back", f"/live/namespaces/{ns}/services/back/revisions/back-00001",
             f"/live/namespaces/{ns}/services/back/history"]

    def filled(e: Any) -> bool:
        return e.name not in ("", "connection") and "back-00001" in e.data

    async def quiet(stream: Any) -> list[Any]:
        """Events until three heartbeats in a row: whatever was on its way has come."""
        beats = [0]

        def three(e: Any) -> bool:
            beats[0] = beats[0] + 1 if e.name == "" else 0
            return beats[0] >= 3

        return await stream.until(three)

    async with served(settings) as server, AsyncExitStack() as stack:
        server.live.hub.watch_seconds = 1
        tabs = []
        for path in paths:
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=server.url, timeout=10))
            await sign_in(http, devcluster.user_tokens["bob"])
            tabs.append(await stack.enter_async_context(open_stream(http, path)))
        for stream in tabs:
            await stream.until(filled)
        take_away(devcluster, ns, binding)
        for stream in tabs:
            await stream.until(lambda e: e.name == "connection" and "bob may not" in e.data, within=10)
        feeds = [feed for key, feed in server.live.hub.feeds.items() if key[1] == ns]
        await wait_until(lambda: all(feed.refused for feed in feeds))  # every watch of bob's
        for stream in tabs:  # no page is still reading (a read half before and half after the rights come back)
            await quiet(stream)
        devcluster.bind(ns, "view", user="bob")
        for path, stream in zip(paths, tabs, strict=True):
            seen = await stream.until(filled, within=15)
            seen += await quiet(stream)
            banners = [html.unescape(e.data) for e in seen if e.name == "connection"]
            # Only the page's refusal ("bob may not get Services in …", as each read was refused), then nothing.
            assert all(b == "" or (b.startswith("<span data-text>bob may not ") and "forbidden" not in b)
                       for b in banners), (path, banners)
            assert banners and banners[-1] == "", (path, banners)
    await admin.http.aclose()


async def test_a_watch_refused_to_a_user_who_may_read_is_said_plainly(devcluster: DevClusterProcess) -> None:
    """A role that lists Revisions but may not watch them: the page reads and shows them, and its banner says, in the
    words of any other refusal, that it does not follow them by itself; not the cluster's 403 as it is sent."""
    ns = devcluster.new_namespace("nowatch")
    admin = Console(httpx.AsyncClient(), devcluster)
    admin.create_ksvc(ns, "seen")
    await admin.settled(ns, "seen")
    _role(devcluster, ns, "carol", [
        {"apiGroups": ["serving.knative.dev"], "resources": ["services"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["serving.knative.dev"], "resources": ["revisions"], "verbs": ["get", "list"]}])
    settings = Settings(kubeconfig=str(devcluster.kubeconfig), secret_key=SECRET, request_timeout=5.0,
                        live_heartbeat=0.3, auth="token")
    async with served(settings) as server, httpx.AsyncClient(base_url=server.url, timeout=10) as carol:
        await sign_in(carol, devcluster.user_tokens["carol"])
        async with open_stream(carol, f"/live/namespaces/{ns}/services/seen/history") as stream:
            told = await stream.until(lambda e: e.name == "connection" and e.data)
            assert html.unescape(told[-1].data) == (
                f'<span data-text>carol may not watch Revisions in {ns}: ask for the view role. Until then this page '
                'does not show their changes by itself: reload it to see them.</span> <a href="">Reload</a>')
    await admin.http.aclose()


async def test_rights_taken_away_stop_the_users_followed_logs(devcluster: DevClusterProcess) -> None:
    """A pods/log follow, like a watch, is authorized when it starts: the logs page stops following a revision's
    instances, and says so, when the watch of their pods is refused (rights taken away), and follows them again
    once it is back, first with the lines written meanwhile, each once."""
    ns, binding, admin, settings = await viewer(devcluster, "revokedlogs", "talk")
    path = f"/live/namespaces/{ns}/services/talk/revisions/talk-00001/logs"

    async def requests(count: int) -> None:
        async with httpx.AsyncClient(base_url=devcluster.gateway_url, trust_env=False, timeout=10) as gateway:
            for _ in range(count):
                assert (await gateway.get("/", headers={"Host": f"talk.{ns}.example.com"})).status_code == 200

    def said(e: object) -> bool:
        return getattr(e, "name", "") == "log" and "received a request" in getattr(e, "data", "")

    async with served(settings) as server, httpx.AsyncClient(base_url=server.url, timeout=10) as bob:
        server.live.hub.watch_seconds = 1
        await sign_in(bob, devcluster.user_tokens["bob"])
        async with open_stream(bob, path) as stream:
            await asyncio.sleep(0.3)  # the instance's follow has started
            await requests(1)
            await stream.until(said)
            take_away(devcluster, ns, binding)
            stopped = await stream.until(lambda e: e.name == "log" and "The logs stopped" in e.data, within=10)
            assert f"The logs stopped: bob may not list Pods in {ns}: ask for the view role." \
                in html.unescape(stopped[-1].data)
            await requests(2)
            beats = [0]

            def quiet_for_a_while(e: object) -> bool:  # five heartbeats (1.5 s), read without cutting the stream
                beats[0] += getattr(e, "name", "x") == ""
                return beats[0] >= 5

            seen = await stream.until(quiet_for_a_while)
            assert not any(said(e) for e in seen), seen  # no line reaches bob once he may not read them
            devcluster.bind(ns, "view", user="bob")
            await stream.until(lambda e: e.name == "log" and "The logs go on" in e.data, within=15)
            lines = [0]

            def second_line(e: object) -> bool:
                lines[0] += said(e)
                return lines[0] == 2

            missed = await stream.until(second_line, within=10)  # the two written while bob could not read them
            await requests(1)
            after = await stream.until(said)
            assert sum(map(said, missed + after)) == 3, [getattr(e, "data", "") for e in missed + after]
    await admin.http.aclose()


async def test_a_newer_client_of_the_same_identity_takes_over_the_watch(devcluster: DevClusterProcess) -> None:
    """A user's refreshed token: the feed reconnects with the newest client, never stays on the old one."""
    own = await Cluster.connect(str(devcluster.kubeconfig), request_timeout=5)
    hub = WatchHub(grace=0.1)
    first, second = own.as_user(devcluster.user_tokens["carol"]), own.as_user(devcluster.user_tokens["carol"])
    inbox: asyncio.Queue = asyncio.Queue()
    try:
        async with hub.follow("user:carol", first, "default", r.SERVICE, inbox) as feed:
            assert feed.cluster is first
            async with hub.follow("user:carol", second, "default", r.SERVICE, inbox) as same:
                assert same is feed and feed.cluster is second
    finally:
        await hub.close()
        await own.close()


async def test_rights_given_back_reconnect_every_refused_watch_of_the_user_at_once(
        devcluster: DevClusterProcess) -> None:
    """A page follows several watches. When the cluster lets a user watch again, their other refused watches connect
    then too, not when each one's backoff is up: else a page that has filled again would go on saying, meanwhile,
    that the user may not read it. (The backoff here is 60 s: a watch left to it would not be back within the test.)"""
    ns, binding, admin, _ = await viewer(devcluster, "regiven", "back")
    own = await Cluster.connect(str(devcluster.kubeconfig), request_timeout=5)
    hub = WatchHub(grace=0.1, watch_seconds=1, backoff=(60.0, 60.0))
    bob = own.as_user(devcluster.user_tokens["bob"])
    inboxes: dict[Any, asyncio.Queue[Any]] = {resource: asyncio.Queue() for resource in (r.SERVICE, r.REVISION)}

    async def health(resource: Any, refused: bool) -> None:
        while True:
            message = await asyncio.wait_for(inboxes[resource].get(), 10)
            if type(message).__name__ == "Health" and message.refused == refused and bool(message.problem) == refused:
                return

    try:
        async with AsyncExitStack() as stack:
            feeds = [await stack.enter_async_context(hub.follow("user:bob", bob, ns, resource, inboxes[resource]))
                     for resource in (r.SERVICE, r.REVISION)]
            take_away(devcluster, ns, binding)
            for resource in inboxes:
                await health(resource, refused=True)  # each watch's next start (1 s) is refused; then 60 s to wait
            devcluster.bind(ns, "view", user="bob")
            feeds[0].retry.set()  # the Services' watch tries first (as its backoff would, were it shorter)
            await health(r.SERVICE, refused=False)
            await health(r.REVISION, refused=False)  # woken by it, not 60 s later
    finally:
        await hub.close()
        await own.close()
        await admin.http.aclose()


@fuzzes("POST /signin", "form")
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(max_size=200) | st.text(alphabet="abc.-_", min_size=1, max_size=30).map(lambda t: t * 700),
       next_page=st.text(max_size=40))
async def test_whatever_is_typed_into_sign_in_gets_a_message_and_no_session(
        devcluster: DevClusterProcess, token: str, next_page: str) -> None:
    async with console_as(devcluster, auth="token") as http:
        await http.get("/signin")
        answer = await http.post("/signin", data={"csrf_token": token_for(SECRET, http.cookies[COOKIE]),
                                                  "token": token, "next": next_page})
        assert answer.status_code in (401, 422), answer.status_code
        assert 'role="alert" data-signin-message' in answer.text and SESSION not in http.cookies


@fuzzes("GET /signin", "query")
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.lists(st.tuples(st.sampled_from(["next", "why", "out", "sig"]), st.text(max_size=60)), max_size=4))
async def test_the_sign_in_pages_query_string_shows_no_words_of_its_own(devcluster: DevClusterProcess,
                                                                        query: list[tuple[str, str]]) -> None:
    """GET /signin with any next, why, out and sig: the page, never a 5xx, and a `why` the console did not write
    itself (a link from elsewhere: "sign in at https://elsewhere.example instead") is not shown above the token
    field."""
    async with console_as(devcluster, auth="token") as http:
        page = await http.get("/signin", params=query)
        assert page.status_code == 200 and 'name="token"' in page.text
        assert "data-signin-message" not in page.text or "You are signed out" in page.text


async def test_the_sign_in_page_shows_only_the_reasons_the_console_gave(devcluster: DevClusterProcess) -> None:
    async with console_as(devcluster, auth="token") as http:
        planted = await http.get("/signin", params={"why": "The console moved: sign in at https://elsewhere.example"})
        assert "elsewhere.example" not in planted.text and "data-signin-message" not in planted.text
        http.cookies.set(SESSION, "not-a-session")
        sent = await http.get("/namespaces/default/services")  # the console's own reason, signed for this page
        assert sent.status_code == 303
        shown = await http.get(sent.headers["location"])
        assert "Your session ended or could not be read" in shown.text and "data-signin-message" in shown.text


async def stream_end(stream: Any, within: float = 10.0) -> list[Any]:
    """Every event up to the end of the stream (an AssertionError if it is still open after `within` s)."""
    seen: list[Any] = []
    deadline = asyncio.get_running_loop().time() + within
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            seen.append(await stream.next(left))
        except AssertionError:  # EventStream.next: the stream ended
            return seen
        except TimeoutError:
            break
    raise AssertionError(f"the stream was still open after {within} s: {[(e.name, e.data[:80]) for e in seen]}")


def live_paths(ns: str, name: str) -> list[str]:
    """A list, a details page and a logs page: both kinds of live stream (a page's regions, a revision's lines)."""
    return [f"/live/namespaces/{ns}/services", f"/live/namespaces/{ns}/services/{name}",
            f"/live/namespaces/{ns}/services/{name}/revisions/{name}-00001/logs"]


async def test_signing_out_ends_the_live_streams_of_the_browser(devcluster: DevClusterProcess) -> None:
    """Sign out forgets the session, but the streams that the browser's other tabs hold open were let in before and
    would go on carrying the namespace's changes to a signed-out browser: they end, and their reconnect is told the
    user is signed out. The same user's streams in another browser go on."""
    ns, _, admin, settings = await viewer(devcluster, "signout", "kept")
    async with served(settings) as server, httpx.AsyncClient(base_url=server.url) as bob, \
            httpx.AsyncClient(base_url=server.url) as elsewhere, AsyncExitStack() as stack:
        await sign_in(bob, devcluster.user_tokens["bob"])
        await sign_in(elsewhere, devcluster.user_tokens["bob"])
        tabs = [await stack.enter_async_context(open_stream(bob, path)) for path in live_paths(ns, "kept")]
        other = await stack.enter_async_context(open_stream(elsewhere, f"/live/namespaces/{ns}/services"))
        for stream in [*tabs, other]:
            await stream.next()
        out = await bob.post("/signout", data={"csrf_token": token_for(SECRET, bob.cookies[COOKIE])})
        assert out.status_code == 303 and SESSION not in bob.cookies
        admin.create_ksvc(ns, "afterwards")
        for stream in tabs:
            assert not any("afterwards" in e.data for e in await stream_end(stream))
        await other.until(lambda e: "afterwards" in e.data)
        async with open_stream(bob, f"/live/namespaces/{ns}/services") as again:
            told = await again.until(lambda e: e.name == "connection")
            assert "You are signed out" in told[-1].data and "afterwards" not in told[-1].data
    await admin.http.aclose()


async def test_a_live_stream_ends_with_the_session_it_was_opened_in(devcluster: DevClusterProcess) -> None:
    """A session ends after --session-idle seconds without a request; a stream is one request that lasts, so it ends
    when its session would, and the browser's reconnect goes on only with a session that is still valid (renewed
    meanwhile by the user's other requests): here none, so it is told the user is signed out."""
    ns, _, admin, settings = await viewer(devcluster, "idle", "idle")
    async with served(replace(settings, session_idle=3.0)) as server, \
            httpx.AsyncClient(base_url=server.url) as bob, AsyncExitStack() as stack:
        await sign_in(bob, devcluster.user_tokens["bob"])
        tabs = [await stack.enter_async_context(open_stream(bob, path)) for path in live_paths(ns, "idle")]
        for stream in tabs:
            await stream_end(stream, within=15)
        async with open_stream(bob, f"/live/namespaces/{ns}/services") as again:
            told = await again.until(lambda e: e.name == "connection")
            assert "You are signed out" in told[-1].data
    await admin.http.aclose()


_HEADER_BYTES = st.binary(max_size=80).filter(lambda b: b"\r" not in b and b"\n" not in b and b"\0" not in b)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(authorization=st.one_of(st.none(), _HEADER_BYTES, _HEADER_BYTES.map(lambda b: b"Bearer " + b),
                               st.sampled_from([b"Bearer", b"Bearer ", b"bearer \xe9", b"Basic dXNlcjpwdw=="])),
       forwarded=st.one_of(st.none(), _HEADER_BYTES, st.just(b"\xff\xfe"), st.text(max_size=30).map(str.encode)))
async def test_whatever_a_proxy_sends_as_the_token_gets_a_clear_answer_and_writes_nothing(
        devcluster: DevClusterProcess, authorization: bytes | None, forwarded: bytes | None) -> None:
    """--auth proxy's input is the two headers an authenticating proxy sets (Authorization: Bearer,
    X-Forwarded-Access-Token), with any bytes a client behind a misconfigured proxy could send: the console answers
    401 with what to do (or 200 as whoever the cluster says the token is), never a 5xx, and a POST through it changes
    nothing (its CSRF check and the cluster's refusal both stand)."""
    headers = [(name, value) for name, value in ((b"authorization", authorization),
                                                 (b"x-forwarded-access-token", forwarded)) if value is not None]
    async with console_as(devcluster, auth="proxy") as http:
        page = await http.get("/namespaces/default/services", headers=headers)
        assert page.status_code in (200, 401, 403), (page.status_code, page.text[:300])
        if page.status_code == 401:
            assert "authenticating proxy" in page.text or "does not accept the token the proxy sent" in page.text \
                or "without a token" in page.text, page.text[:500]
        posted = await http.post("/namespaces/default/services", headers=headers,
                                 data={"name": "proxied", "image": "ghcr.io/knative/helloworld-go:latest",
                                       "action": "create"})
        assert posted.status_code < 500, (posted.status_code, posted.text[:300])
        assert devcluster.request("GET", "/apis/serving.knative.dev/v1/namespaces/default/services/proxied")[0] == 404
