"""The Service list read from the namespace's watch-fed cache (app.web.informer): the same page as a LIST gives, at
every offset, filtered and sorted; no LIST while the cache vouches; a page after this browser's own create, delete
or split shows it even while the watch lags (app.web.written), and lists until the cache has it; a change made by
another client shows once the watch has it; a user never sees another's cached rows; a live list reads the cache
again; a change older than what the cache holds is not taken in."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.main import create_app
from app.settings import Settings
from app.web import lookups, written
from app.web.hub import Change
from app.web.lookups import Lookups
from app.web.security import COOKIE, token_for
from tests.support import DevClusterProcess, ksvc_manifest
from tests.web.conftest import (
    KSVC,
    SECRET,
    Console,
    caches_hold,
    form_fields,
    form_values,
    live_settings,
    open_stream,
    rows_in,
    served,
    with_rows,
)
from tests.web.test_live import stream_path
from tests.web.test_writes import _create_form

SERVICE_LISTS = re.compile(r'knative_console_kubernetes_requests_total\{outcome="ok",resource="services\.serving\.'
                           r'knative\.dev",verb="list"\} ([0-9.e+]+)')
NO_CACHE = {"Cache-Control": "no-cache"}  # as a browser's hard reload asks


def names(page: str) -> list[str]:
    return re.findall(r'<tr data-service="([^"]+)"', page)


async def service_lists(http: httpx.AsyncClient) -> float:
    """How many LISTs of Services the console has made (its own /metrics)."""
    found = SERVICE_LISTS.search((await http.get("/metrics")).text)
    return float(found.group(1)) if found else 0.0


def create(cluster: DevClusterProcess, ns: str, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    manifest = ksvc_manifest(name, ns)
    if labels:
        manifest["metadata"]["labels"] = labels
    code, _, body = cluster.request("POST", KSVC.format(ns=ns), manifest)
    assert code == 201, body
    return body


@asynccontextmanager
async def app_on(cluster: DevClusterProcess, **overrides: Any) -> AsyncIterator[Any]:
    settings = Settings(kubeconfig=str(cluster.kubeconfig), secret_key=SECRET, request_timeout=5.0,
                        allowed_hosts="console.test", **overrides)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def browser(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test")


async def test_the_cached_page_is_the_listed_page(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("cache")
    for index in range(5):
        create(devcluster, ns, f"item-{index}", {"group": "a" if index % 2 else "b"})
    async with app_on(devcluster, page_size=2) as app, browser(app) as http:
        for index in range(5):  # nothing changes between the two reads of a page
            await Console(http, devcluster).settled(ns, f"item-{index}")
        first = await http.get(f"/namespaces/{ns}/services")  # the first visit lists, and starts the cache
        assert names(first.text) == ["item-0", "item-1"]
        await caches_hold(app, devcluster, ns)
        for query in ("", "?start=2", "?start=4", "?start=900", "?start=3", "?filter=group%3Da",
                      "?filter=item&sort=-name&start=2", "?sort=status", "?partial=rows"):
            path = f"/namespaces/{ns}/services{query}"
            before = await service_lists(http)
            cached = await http.get(path)
            assert await service_lists(http) == before, path  # the cache answered
            listed = await http.get(path, headers=NO_CACHE)
            assert await service_lists(http) > before, path  # … and this one listed
            assert cached.status_code == listed.status_code == 200
            assert cached.text == listed.text, path
        last = await http.get(f"/namespaces/{ns}/services?start=4")
        assert names(last.text) == ["item-4"] and 'rel="next"' not in last.text
        second = await http.get(f"/namespaces/{ns}/services?start=2")
        following = re.search(r'<a href="([^"]+)" rel="next">', second.text)
        assert following and following.group(1) == f"/namespaces/{ns}/services?start=4"
    async with app_on(devcluster, page_size=2, list_cache_services=0) as app, browser(app) as http:
        before = await service_lists(http)
        assert (await http.get(f"/namespaces/{ns}/services?start=2")).text.count('data-service="item-') == 2
        assert (await http.get(f"/namespaces/{ns}/services?start=2")).status_code == 200
        assert await service_lists(http) >= before + 2  # the cache off: every page lists
        assert not app.state.live.informers.informers


async def test_the_caches_hold_a_bounded_number_of_services(devcluster: DevClusterProcess) -> None:
    first, second = devcluster.new_namespace("bound"), devcluster.new_namespace("bound")
    for index in range(3):
        create(devcluster, first, f"a-{index}")
    create(devcluster, second, "b-0")
    async with app_on(devcluster, list_cache_services=2) as app, browser(app) as http:
        await http.get(f"/namespaces/{first}/services")
        await caches_hold(app, devcluster, first)  # started below the bound; it holds 3
        before = await service_lists(http)
        for _ in range(2):
            assert names((await http.get(f"/namespaces/{second}/services")).text) == ["b-0"]
        assert await service_lists(http) == before + 2  # past the bound: no cache for another namespace
        assert [key[1] for key in app.state.live.informers.informers] == [first]
        assert names((await http.get(f"/namespaces/{first}/services")).text) == ["a-0", "a-1", "a-2"]
        assert await service_lists(http) == before + 2  # the one there is still answers


@asynccontextmanager
async def lagging(app: Any, ns: str) -> AsyncIterator[None]:
    """The watch of the namespace's Services holds its changes back while inside (a watch that lags behind), and
    delivers them afterwards."""
    feed = next(f for (_, namespace, resource), f in app.state.live.hub.feeds.items()
                if namespace == ns and resource == r.SERVICE)
    held: list[Any] = []
    feed.send = held.append
    try:
        yield
    finally:
        del feed.send
        for message in held:
            feed.send(message)


async def test_a_page_after_your_own_write_shows_it_while_the_watch_lags(console: Console) -> None:
    ns = console.namespace()
    create(console.cluster, ns, "doomed")
    create(console.cluster, ns, "kept")
    await console.settled(ns, "kept")
    app = console.http._transport.app  # type: ignore[attr-defined]
    listing = f"/namespaces/{ns}/services"
    assert names((await console.get(listing)).text) == ["doomed", "kept"]
    await console.listed_by_cache(ns)
    confirm = await console.get(f"{listing}/doomed/delete")
    form = {"resource_version": form_values(confirm.text, "resource_version")[0]}
    async with lagging(app, ns):
        deleted = await console.post(f"{listing}/doomed/delete", form)
        assert deleted.status_code == 303 and deleted.headers["location"] == listing
        assert re.search(rf"\b{ns}\.doomed\.[0-9a-f-]+", console.http.cookies[written.COOKIE])  # its name and uid
        before = await service_lists(console.http)
        after_delete = await console.get(deleted.headers["location"])
        assert names(after_delete.text) == ["kept"]  # the cache still has it: the page listed
        assert await service_lists(console.http) == before + 1
        made = await console.post(listing, _create_form("born"))
        assert made.status_code == 303
        assert names((await console.get(listing)).text) == ["born", "kept"]
    await console.listed_by_cache(ns)
    before = await service_lists(console.http)
    assert names((await console.get(listing)).text) == ["born", "kept"]
    assert await service_lists(console.http) == before  # caught up: the cache answers again
    # A split is a write too: until the cache has its version, the page lists.
    await console.settled(ns, "kept")
    dialog = await console.get(f"{listing}/kept/traffic")
    fields = form_fields(dialog.text, "split-form")
    rows = rows_in(fields)
    rows[0] = (*rows[0][:3], "blue")  # a tag for the first entry
    async with lagging(app, ns):
        split = await console.post_fields(f"{listing}/kept/traffic", [*with_rows(fields, rows), ("action", "ok")])
        assert split.status_code == 303
        before = await service_lists(console.http)
        await console.get(listing)
        assert await service_lists(console.http) == before + 1
    await console.listed_by_cache(ns)
    before = await service_lists(console.http)
    await console.get(listing)
    assert await service_lists(console.http) == before


async def test_a_change_by_another_client_shows_once_the_watch_has_it(console: Console) -> None:
    ns = console.namespace()
    create(console.cluster, ns, "first")
    listing = f"/namespaces/{ns}/services"
    await console.get(listing)
    await console.listed_by_cache(ns)
    before = await service_lists(console.http)
    create(console.cluster, ns, "second")  # as kubectl would
    await console.listed_by_cache(ns)
    assert names((await console.get(listing)).text) == ["first", "second"]
    assert await service_lists(console.http) == before


async def sign_in(http: httpx.AsyncClient, token: str) -> None:
    await http.get("/signin")
    signed = await http.post("/signin", data={"csrf_token": token_for(SECRET, http.cookies[COOKIE]), "token": token,
                                              "next": "/"})
    assert signed.status_code == 303, signed.text[:500]


async def test_a_user_never_sees_another_users_cached_list(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("cached")
    devcluster.bind(ns, "view", user="alice")  # bob may not list Services here
    create(devcluster, ns, "classified")
    async with app_on(devcluster, auth="token") as app, browser(app) as alice, browser(app) as bob:
        await sign_in(alice, devcluster.user_tokens["alice"])
        await sign_in(bob, devcluster.user_tokens["bob"])
        listing = f"/namespaces/{ns}/services"
        assert names((await alice.get(listing)).text) == ["classified"]
        await caches_hold(app, devcluster, ns)  # alice's cache holds it
        for _ in range(2):
            for path in (listing, f"{listing}?filter=class", f"{listing}?start=1"):
                page = await bob.get(path)
                assert page.status_code == 403 and "classified" not in page.text, path
                assert f"bob may not list Services in {ns}: ask for the view role" in page.text
            await asyncio.sleep(0.1)
        caches = {who: cache for (who, namespace, resource), cache in app.state.live.informers.informers.items()
                  if namespace == ns and resource == r.SERVICE}
        assert len(caches) == 2  # one each, with each user's own credentials
        theirs = next(cache for who, cache in caches.items() if who.startswith("user:bob:"))
        assert not theirs.trusted and not theirs.objects  # bob's could list nothing
        assert names((await alice.get(listing)).text) == ["classified"]


async def test_a_live_list_reads_the_cache_again(console: Console) -> None:
    ns = console.namespace()
    create(console.cluster, ns, "one")
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/namespaces/{ns}/services")
        await caches_hold(server.app, console.cluster, ns)
        async with open_stream(http, stream_path(page)) as events:
            before = await service_lists(http)
            create(console.cluster, ns, "two")
            await events.until(lambda e: e.name == "services" and 'data-service="two"' in e.data)
            assert await service_lists(http) == before  # the page moved, and was read from the cache


async def test_a_change_older_than_the_cache_is_not_taken_in(console: Console) -> None:
    ns = console.namespace()
    old = create(console.cluster, ns, "steady")
    await console.settled(ns, "steady")
    await console.get(f"/namespaces/{ns}/services")
    await console.listed_by_cache(ns)
    app = console.http._transport.app  # type: ignore[attr-defined]
    cache = next(c for (_, namespace, resource), c in app.state.live.informers.informers.items()
                 if namespace == ns and resource == r.SERVICE)
    held = cache.objects["steady"]
    assert held["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"]  # the controllers wrote since
    assert "managedFields" not in held["metadata"]  # not kept
    cache._apply(Change(r.SERVICE, "MODIFIED", old))  # a change the list already has
    cache._apply(Change(r.SERVICE, "DELETED", old))
    assert cache.objects["steady"] is held and cache.trusted
    cache._apply(Change(r.SERVICE, "MODIFIED", {**old, "metadata": {**old["metadata"], "resourceVersion": "01"}}))
    assert not cache.trusted  # a resourceVersion it cannot compare: it vouches for nothing


POD_LISTS = re.compile(r'knative_console_kubernetes_requests_total\{outcome="ok",resource="pods",verb="list"\} '
                       r'([0-9.e+]+)')


async def pod_lists(http: httpx.AsyncClient) -> float:
    found = POD_LISTS.search((await http.get("/metrics")).text)
    return float(found.group(1)) if found else 0.0


async def test_the_details_page_reads_its_pods_from_the_namespaces_cache(console: Console) -> None:
    """Once the namespace's watch-fed cache of pods is trusted, the details page lists no pods: with a revision's
    pods alive (hundreds, for a Service whose many revisions have not scaled to zero yet) that LIST and its decoding
    were most of the page's time. The instances it shows are the same; a new pod shows once the watch has it."""
    ns = console.namespace()
    console.create_ksvc(ns, "pods")
    await console.settled(ns, "pods")
    path = f"/namespaces/{ns}/services/pods"
    listed = (await console.get(path)).text  # the first visit lists, and starts the cache
    informers = console.http._transport.app.state.live.informers  # type: ignore[attr-defined]
    deadline = asyncio.get_running_loop().time() + 10
    while not any(i.trusted for (_, namespace, kind), i in informers.informers.items()
                  if namespace == ns and kind == r.POD):
        assert asyncio.get_running_loop().time() < deadline, "the pod cache never listed"
        await asyncio.sleep(0.02)
    before = await pod_lists(console.http)
    cached = (await console.get(path)).text
    assert await pod_lists(console.http) == before  # no LIST of pods
    shown = re.compile(r'data-instances="[^"]*"|\d+ running|scaled to zero')
    assert shown.findall(cached) == shown.findall(listed) and shown.findall(cached)


async def test_the_first_services_are_read_a_chunk_at_a_time(devcluster: DevClusterProcess,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A list page on the LIST path reads the namespace's first Services up to its page's end, in chunks, and says
    how many there are: whatever the chunk, exactly the first `count` and the namespace's total."""
    ns = devcluster.new_namespace("chunks")
    for index in range(8):
        create(devcluster, ns, f"s{index}")
    k8s = await Cluster.connect(str(devcluster.kubeconfig))
    try:
        found = Lookups(k8s, Settings())
        for chunk in (3, 500):
            monkeypatch.setattr(lookups, "LIST_CHUNK", chunk)
            for count in (2, 3, 7, 8, 9):
                items, total = await found.first_services(ns, count)
                assert [i["metadata"]["name"] for i in items] == [f"s{n}" for n in range(min(count, 8))], (chunk, count)
                assert total == 8, (chunk, count)
            assert len(await found.all_services(ns)) == 8
    finally:
        await k8s.close()
