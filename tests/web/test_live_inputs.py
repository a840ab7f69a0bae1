"""The live endpoints (`/live/...`: the list, all namespaces, a Service's details, a revision, the history, the logs,
the traffic check) under hypothesis: any path segment, query string (`last` and a list's `shown` too) and Last-Event-ID, hostile values included. No
5xx; a 4xx says what is wrong; a 200 is an event stream that sends its first event; and nothing is written (a check
stream not started from the console's own form sends no request through the gateway)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.web.security import COOKIE, token_for
from tests.support import DevClusterProcess
from tests.web.conftest import KSVC, SECRET, Console, EventStream, Served, live_settings, served
from tests.web.fuzzing import examples, fuzzes
from tests.web.test_inputs import ANY, MESSAGE

PAGES = {  # a live endpoint's path (its segments to fill) and the query keys it reads
    "/live/namespaces/{ns}/services": ("start", "continue", "filter", "sort", "seen", "last", "shown"),
    "/live/services": ("start", "continue", "filter", "sort", "seen", "last", "shown"),
    "/live/namespaces/{ns}/services/{name}": ("revisions", "seen", "last"),
    "/live/namespaces/{ns}/services/{name}/revisions/{rev}": ("seen", "last"),
    "/live/namespaces/{ns}/services/{name}/history": ("all", "seen", "last"),
    "/live/namespaces/{ns}/services/{name}/revisions/{rev}/logs": ("after",),
    "/live/namespaces/{ns}/services/{name}/check": ("requests", "target", "sig"),
}
SEGMENT = st.one_of(st.sampled_from(["NS", "lv", "lv-00001", "lv-00009", "default", "..", "%2F"]), ANY)
VALUE = st.one_of(ANY, st.sampled_from(["0", "1", "50", "-name", "status", "newest", "everything", "team=x", "a!=b",
                                        "services:abcdef", "x:y;z", "lv-00001", "1" * 5000, "0badc0de-3", "-", "a-b-c",
                                        "lv,gone,default/lv,a/b/c,,../x,NS/gone", "default/gone," * 400,
                                        "lv-00001-deployment-x=2026-12-02T07:05:23.123456789Z,=,a=b"]))


@pytest.fixture(scope="module", params=["kubeconfig", "token"])
async def live_console(request: pytest.FixtureRequest, devcluster: DevClusterProcess
                       ) -> AsyncIterator[tuple[Served, Console, str, httpx.Cookies]]:
    """The console served over HTTP, as the kubeconfig's user or with the cookies of alice signed in with a token
    (she may edit the namespace)."""
    admin = Console(httpx.AsyncClient(), devcluster)
    ns = devcluster.new_namespace("livefuzz")
    admin.create_ksvc(ns, "lv")
    await admin.settled(ns, "lv")
    async with served(live_settings(devcluster, auth=request.param)) as server, \
            httpx.AsyncClient(base_url=server.url) as browser:
        if request.param == "token":
            devcluster.bind(ns, "edit", user="alice")
            await browser.get("/signin")
            signed = await browser.post("/signin", data={"csrf_token": token_for(SECRET, browser.cookies[COOKIE]),
                                                         "token": devcluster.user_tokens["alice"], "next": "/"})
            assert signed.status_code == 303, signed.text[:2000]
        listed = await browser.get(f"/namespaces/{ns}/services")
        assert listed.status_code == 200 and 'data-service="lv"' in listed.text, "the cookies act for someone"
        yield server, admin, ns, browser.cookies
    await admin.http.aclose()


def state(console: Console, ns: str) -> list[object]:
    return [(i["metadata"]["name"], i["metadata"].get("labels"), i["spec"])
            for i in console.cluster.get(KSVC.format(ns=ns))["items"]]


@fuzzes("GET /live/namespaces/{namespace}/services", "path", "query")
@fuzzes("GET /live/services", "query")
@fuzzes("GET /live/namespaces/{namespace}/services/{name}", "path", "query")
@fuzzes("GET /live/namespaces/{namespace}/services/{service}/revisions/{name}", "path", "query")
@fuzzes("GET /live/namespaces/{namespace}/services/{name}/history", "path", "query")
@fuzzes("GET /live/namespaces/{namespace}/services/{name}/revisions/{revision}/logs", "path", "query")
@fuzzes("GET /live/namespaces/{namespace}/services/{name}/check", "path", "query")
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=st.sampled_from(sorted(PAGES)), segments=st.fixed_dictionaries(
    {key: st.one_of(st.just(valid), st.just(valid), SEGMENT)  # mostly a page that exists, so that its query is read
     for key, valid in (("ns", "NS"), ("name", "lv"), ("rev", "lv-00001"))}),
       params=st.data(), last_event_id=st.one_of(st.just(""), ANY.filter(lambda s: s.isascii() and s.isprintable() and s == s.strip())))
async def test_whatever_a_live_url_holds(live_console: tuple[Served, Console, str, httpx.Cookies], page: str,
                                         segments: dict[str, str], params: st.DataObject, last_event_id: str) -> None:
    server, admin, ns, cookies = live_console
    filled = {key: ns if value == "NS" else quote(value, safe="") for key, value in segments.items()}
    path = page.format(**filled)
    query = params.draw(st.lists(st.tuples(st.sampled_from(PAGES[page] or ("seen",)), VALUE), max_size=4))
    before = state(admin, ns)
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    async with httpx.AsyncClient(base_url=server.url, timeout=15, cookies=cookies) as browser, \
            browser.stream("GET", path, params=query, headers=headers) as answer:
        assert answer.status_code < 500, (path, query)
        if answer.status_code == 200:
            assert answer.headers["content-type"].startswith("text/event-stream"), (path, query)
            first = await EventStream(answer).next(within=10)  # a region, a refusal, a check's result, a heartbeat
            if page.endswith("/check"):  # never started from the console's form (no valid `sig`): refused, not run
                assert first.name == "done" and "data-check-problem" in first.data, (path, query, first)
        elif answer.status_code == 307:  # a path ending in "/" (an empty last segment): Starlette's redirect_slashes
            sent = answer.request.url.path  # as httpx sent it: a ".." segment resolved ("services//revisions/..")
            assert sent.endswith("/") and unquote(answer.headers["location"].split("?")[0]).endswith(
                unquote(sent.rstrip("/"))), \
                (path, sent, query, answer.headers["location"])
        else:
            # 403 under --auth token: a namespace alice may not read
            assert answer.status_code in (400, 403, 404), (path, query, answer.status_code)
            assert MESSAGE.search((await answer.aread()).decode()), (path, query)
    assert state(admin, ns) == before
