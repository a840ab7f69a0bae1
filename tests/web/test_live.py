"""Live pages over real HTTP (the console under uvicorn, the dev cluster in its process): a change made by another
client reaches an open page as the regions that changed; one watch per (identity, namespace, kind) whoever
follows it, one rendering per change for all tabs, ending with the last tab; the caps; the live-streams gauge."""

from __future__ import annotations

import asyncio
import html
import re
import socket
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from app import metrics
from app.cluster import resources as r
from app.cluster.client import Cluster
from app.web import details
from app.web.hub import Change, Feed, Health, Message, Resync, WatchHub
from app.web.live import MAX_PER_BROWSER
from tests.support import DevClusterProcess, ksvc_manifest
from tests.web.conftest import KSVC, Console, live_settings, open_stream, served


def stream_path(page: httpx.Response) -> str:
    return html.unescape(re.search(r'sse-connect="([^"]+)"', page.text).group(1))


def patch_ksvc(console: Console, ns: str, name: str, body: dict[str, Any]) -> None:
    code, _, answer = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/{name}", body,
                                              "application/merge-patch+json")
    assert code == 200, answer


def tag_latest(console: Console, ns: str, name: str, tag: str) -> None:
    """Another client (as kubectl would) gives the latest revision's traffic a tag."""
    patch_ksvc(console, ns, name, {"spec": {"traffic": [{"latestRevision": True, "percent": 100, "tag": tag}]}})


async def wait_until(predicate: Any, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - state inside the app, which has no event to wait on
            await asyncio.sleep(0.02)


async def test_a_change_by_another_client_reaches_an_open_details_page(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "watched")
    await console.settled(ns, "watched")
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/namespaces/{ns}/services/watched")
        async with open_stream(http, stream_path(page)) as events:
            # The page is current: the stream opens with nothing to send but heartbeats.
            assert (await events.next()).name == ""
            assert events.retry == "2000"
            tag_latest(console, ns, "watched", "blue")
            got = await events.until(lambda e: e.name == "traffic" and "blue" in e.data)
            # Only regions are sent, each one once per change, and never the page around them.
            names = [e.name for e in got if e.name]
            assert set(names) <= {region.name for region in details.REGIONS} | {"connection"}
            assert "<html" not in "".join(e.data for e in got) and "csrf" not in "".join(e.data for e in got)
            assert f"http://blue-watched.{ns}.example.com" in got[-1].data
            assert all(e.ident for e in got if e.name)


async def test_the_list_page_follows_services_made_and_deleted_elsewhere(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "first")
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/namespaces/{ns}/services")
        async with open_stream(http, stream_path(page)) as events:
            console.create_ksvc(ns, "second")
            await events.until(lambda e: e.name == "services" and 'data-service="second"' in e.data)
            await events.until(lambda e: e.name == "services" and 'data-service="second"' in e.data
                               and "Success" in e.data.split('data-service="second"')[1].split("</tr>")[0])
            code, _, _ = console.cluster.request("DELETE", f"{KSVC.format(ns=ns)}/second")
            assert code == 200
            # It does not vanish unseen: its row stays, marked Deleted, with no link to a page that is gone.
            got = await events.until(lambda e: e.name == "services" and "data-deleted" in row_of(e.data, "second"))
            gone = row_of(got[-1].data, "second")
            assert "Deleted" in gone and "href" not in gone and "while this page was open" in gone
            assert got[-1].data.index('data-service="first"') < got[-1].data.index('data-service="second"')
            # Created again: listed again, not marked.
            console.create_ksvc(ns, "second")
            await events.until(lambda e: e.name == "services" and 'data-service="second"' in e.data
                               and "data-deleted" not in e.data)


async def test_a_list_marks_a_service_deleted_while_its_watch_was_cut_past_a_relist(tmp_path: Path) -> None:
    """The list's watch was down while a Service it shows was deleted, and the cluster's watch history moved past
    where it would resume (410 Gone): the list is read again, and the row of the Service that went is marked Deleted,
    as when the watch sees it go, rather than vanishing unseen."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cluster = DevClusterProcess(tmp_path / "cut", ["--api-port", str(port)]).start()
    try:
        for name in ("goes", "stays"):
            code, _, body = cluster.request("POST", KSVC.format(ns="default"), ksvc_manifest(name))
            assert code == 201, body
        async with served(live_settings(cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
            page = await http.get("/namespaces/default/services")
            async with open_stream(http, stream_path(page)) as events:
                await events.next()
                assert cluster.stop() == 0
                await events.until(lambda e: e.name == "connection" and "Cannot reach" in e.data)
                # Meanwhile, on the same cluster served where this console does not reach it: "goes" is deleted, and
                # the history moves on past where the console's watch would resume.
                cluster.extra_args = ["--watch-history", "5"]
                cluster.start()
                code, _, body = cluster.request("DELETE", f"{KSVC.format(ns='default')}/goes")
                assert code == 200, body
                for index in range(10):
                    code, _, body = cluster.request("POST", "/api/v1/namespaces/default/configmaps",
                                                    {"metadata": {"name": f"later-{index}"}})
                    assert code == 201, body
                assert cluster.stop() == 0
                cluster.extra_args = ["--api-port", str(port), "--watch-history", "5"]
                cluster.start()
                got = await events.until(lambda e: e.name == "services" and "data-deleted" in row_of(e.data, "goes"),
                                         within=30)
                gone = row_of(got[-1].data, "goes")
                assert "Deleted" in gone and "href" not in gone and "while this page was open" in gone
                assert "data-deleted" not in row_of(got[-1].data, "stays") and row_of(got[-1].data, "stays")
    finally:
        cluster.stop()


async def test_a_list_marks_a_service_deleted_while_the_console_was_down(console: Console) -> None:
    """The console stopped with a list open in a tab, a Service the tab shows was deleted meanwhile, and the tab's
    stream comes back to the console started again: its row is marked Deleted (the tab's stream says which rows its
    page showed), the others are not."""
    ns = console.namespace()
    for name in ("went-meanwhile", "still-here"):
        console.create_ksvc(ns, name)
    settings = live_settings(console.cluster)
    async with served(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        path = stream_path(await http.get(f"/namespaces/{ns}/services"))
        async with open_stream(http, path) as events:
            console.create_ksvc(ns, "third")
            got = await events.until(lambda e: e.name == "services" and 'data-service="third"' in e.data)
            last = got[-1].ident
    code, _, _ = console.cluster.request("DELETE", f"{KSVC.format(ns=ns)}/went-meanwhile")
    assert code == 200
    async with served(settings) as server, httpx.AsyncClient(base_url=server.url) as http, \
            open_stream(http, path, {"Last-Event-ID": last}) as events:
        got = await events.until(lambda e: e.name == "services")
        gone = row_of(got[-1].data, "went-meanwhile")
        assert "data-deleted" in gone and "Deleted" in gone and "href" not in gone, got[-1].data
        for name in ("still-here", "third"):
            assert row_of(got[-1].data, name) and "data-deleted" not in row_of(got[-1].data, name)


def row_of(html: str, service: str) -> str:
    """The list's row of `service` in a region's HTML ("" when there is none)."""
    found = re.search(rf'<tr data-service="{service}".*?</tr>', html, re.S)
    return found.group(0) if found else ""


async def test_a_sorted_list_marks_what_was_deleted_where_it_stood(console: Console) -> None:
    ns = console.namespace()
    for name in ("a-one", "b-two", "c-three", "d-four"):
        console.create_ksvc(ns, name)
    settings = live_settings(console.cluster, page_size=3)
    async with served(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/namespaces/{ns}/services?sort=-name")
        async with open_stream(http, stream_path(page)) as events:
            # a-one is on the next page: its going is not this page's news.
            for name in ("a-one", "c-three"):
                code, _, _ = console.cluster.request("DELETE", f"{KSVC.format(ns=ns)}/{name}")
                assert code == 200
            got = await events.until(lambda e: e.name == "services" and "data-deleted" in row_of(e.data, "c-three"))
            rows = re.findall(r'<tr data-service="([^"]+)"', got[-1].data)
            assert rows == ["d-four", "c-three", "b-two"]  # still sorted as asked, the deleted one where it stood


async def test_a_stream_starts_with_the_browsers_csrf_token(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "token")
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/namespaces/{ns}/services/token")
        token = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text).group(1)
        async with open_stream(http, stream_path(page)) as events:
            await events.next()
            assert events.csrf == token  # what a page rendered by a console since restarted takes (app.js)
        async with httpx.AsyncClient(base_url=server.url) as other:  # another browser: its own
            async with open_stream(other, stream_path(page)) as events:
                await events.next()
                assert events.csrf and events.csrf != token


async def test_a_tab_that_got_events_from_an_earlier_view_is_sent_every_region(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "earlier")
    await console.settled(ns, "earlier")
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        path = stream_path(await http.get(f"/namespaces/{ns}/services/earlier"))
        # The tab got events from a View that has ended since (the console restarted, say): what it shows is no
        # longer what its page showed, so the page's digests cannot say what it lacks (a region changed and
        # changed back would stay as it was).
        async with open_stream(http, path, {"Last-Event-ID": "0badc0de-7"}) as again:
            caught = await again.until(lambda e: e.name == "")
            names = {e.name for e in caught}
            assert {"status", "traffic", "revisions", "connection"} <= names, names


async def test_tabs_share_one_watch_per_kind_and_one_rendering_per_change(console: Console) -> None:
    ns = console.namespace()
    for name in ("one", "two"):
        console.create_ksvc(ns, name)
    await console.settled(ns, "one")
    await console.settled(ns, "two")
    before = metrics.live_streams._value.get()
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        live = server.live
        live.grace = live.hub.grace = live.informers.idle = 0.2
        one = stream_path(await http.get(f"/namespaces/{ns}/services/one"))
        two = stream_path(await http.get(f"/namespaces/{ns}/services/two"))
        async with open_stream(http, one) as a, open_stream(http, one) as b, open_stream(http, two) as c:
            for events in (a, b, c):
                assert (await events.next()).name == ""  # connected, nothing to catch up on
            assert metrics.live_streams._value.get() == before + 3
            feeds = sorted(resource.plural for (_, namespace, resource) in live.hub.feeds if namespace == ns)
            # One watch per kind for the three tabs and two pages (pods: each revision's instances).
            assert feeds == ["pods", "revisions", "services"]
            assert len([key for key in live.views if key[1][1] == ns]) == 2  # one View per page, not per tab
            tag_latest(console, ns, "one", "green")
            first = await a.until(lambda e: e.name == "traffic" and "green" in e.data)
            second = await b.until(lambda e: e.name == "traffic" and "green" in e.data)
            assert (first[-1].data, first[-1].ident) == (second[-1].data, second[-1].ident)  # rendered once for both
        await wait_until(lambda: metrics.live_streams._value.get() == before)
        # The last tab closed: the Views end, and after them (and the idle revision cache) the watches.
        await wait_until(lambda: not any(key[1][1] == ns for key in live.views))
        await wait_until(lambda: not any(namespace == ns for (_, namespace, _) in live.hub.feeds))


async def test_a_tab_that_reconnects_gets_what_it_missed(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "missed")
    await console.settled(ns, "missed")
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        path = stream_path(await http.get(f"/namespaces/{ns}/services/missed"))
        async with open_stream(http, path) as events, open_stream(http, path) as keeper:
            tag_latest(console, ns, "missed", "first")
            last = (await events.until(lambda e: e.name == "traffic" and "first" in e.data))[-1].ident
        # This tab is gone (the other keeps the page's View); meanwhile the traffic changes again.
            tag_latest(console, ns, "missed", "second")
            latest = (await keeper.until(lambda e: e.name == "traffic" and "second" in e.data))[-1].ident
            async with open_stream(http, path, {"Last-Event-ID": last}) as again:
                caught = await again.until(lambda e: e.name == "traffic")
                assert "second" in caught[-1].data
            # A tab that gave its stream back while hidden names its last event in the query (app.js): it is sent
            # what changed since that event, here nothing, rather than what changed since its page was rendered.
            async with open_stream(http, f"{path}&{urlencode({'last': latest})}") as shown:
                assert (await shown.next()).name == ""


async def test_streams_past_the_cap_are_told_so(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "capped")
    settings = live_settings(console.cluster, live_max_streams_per_user=2)
    async with served(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        path = stream_path(await http.get(f"/namespaces/{ns}/services/capped"))
        async with open_stream(http, path) as a, open_stream(http, path) as b:
            for events in (a, b):
                await events.next()
            async with open_stream(http, path) as refused:
                told = await refused.until(lambda e: e.name == "connection")
                assert "You already have 2 live pages open, the limit per user" in told[-1].data
                assert "use Reload" in told[-1].data and refused.retry == "60000"
                assert "data-refused" in told[-1].data  # the page's script keeps it when the stream closes
                assert server.live.streams == 2


async def test_one_browser_keeps_connections_for_its_other_requests(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "tabs")
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        path = stream_path(await http.get(f"/namespaces/{ns}/services/tabs"))  # sets this browser's cookie
        async with AsyncExitStack() as stack:
            tabs = [await stack.enter_async_context(open_stream(http, path)) for _ in range(MAX_PER_BROWSER)]
            for tab in tabs:  # kept referenced: a stream's reader, once collected, closes it
                await tab.next()
            async with open_stream(http, path) as refused:
                told = await refused.until(lambda e: e.name == "connection")
                assert f"This browser already has {MAX_PER_BROWSER} live pages of this console open" in told[-1].data
            async with httpx.AsyncClient(base_url=server.url) as other, open_stream(other, path) as elsewhere:
                got = await elsewhere.until(lambda e: e.name == "")  # another browser is not held back
                assert not [e for e in got if e.name == "connection" and e.data], got


async def test_a_stream_for_a_bad_path_is_a_404(console: Console) -> None:
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/live/namespaces/Not_A_Namespace/services")
        assert response.status_code == 404
        response = await http.get("/live/namespaces/default/services/x?seen=" + "a" * 5000)
        assert response.status_code == 400


async def test_the_service_deleted_under_an_open_page(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "doomed")
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        path = stream_path(await http.get(f"/namespaces/{ns}/services/doomed"))
        async with open_stream(http, path) as events:
            await events.next()
            code, _, _ = console.cluster.request("DELETE", f"{KSVC.format(ns=ns)}/doomed")
            assert code == 200
            told = await events.until(lambda e: e.name == "connection" and e.data)
            assert "The Service doomed was deleted." in told[-1].data


async def test_the_stream_resumes_after_the_dev_cluster_restarts(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cluster = DevClusterProcess(tmp_path / "restarted", ["--api-port", str(port), "--revision-start-delay", "0.1",
                                                         "--bookmark-interval", "1"]).start()
    try:
        code, _, body = cluster.request("POST", KSVC.format(ns="default"), ksvc_manifest("phoenix"))
        assert code == 201, body
        async with served(live_settings(cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
            page = await http.get("/namespaces/default/services/phoenix")
            async with open_stream(http, stream_path(page)) as events:
                assert cluster.stop() == 0
                down = await events.until(lambda e: e.name == "connection" and e.data)
                assert "Cannot reach the Kubernetes API server" in down[-1].data
                cluster.start()
                await events.until(lambda e: e.name == "connection" and not e.data, within=30)
                code, _, body = cluster.request(
                    "PATCH", f"{KSVC.format(ns='default')}/phoenix",
                    {"spec": {"traffic": [{"latestRevision": True, "percent": 100, "tag": "reborn"}]}},
                    "application/merge-patch+json")
                assert code == 200, body
                await events.until(lambda e: e.name == "traffic" and "reborn" in e.data)
    finally:
        cluster.stop()


async def test_details_pages_read_revisions_from_the_watch_fed_cache(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "cached")
    await console.settled(ns, "cached")
    path = f"/namespaces/{ns}/services/cached"
    await console.get(path)  # the first page lists, and starts the namespace's revision cache
    informers = console.http._transport.app.state.live.informers.informers  # type: ignore[attr-defined]
    informer = next(i for (_, namespace, _), i in informers.items() if namespace == ns)
    await wait_until(lambda: informer.fresh)

    async def revision_lists() -> float:
        scraped = (await console.get("/metrics")).text
        found = re.search(r'knative_console_kubernetes_requests_total\{outcome="ok",resource="revisions\.serving\.'
                          r'knative\.dev",verb="list"\} ([0-9.e+]+)', scraped)
        return float(found.group(1)) if found else 0.0

    before = await revision_lists()
    for _ in range(3):
        assert "cached-00001" in (await console.get(path)).text
    assert await revision_lists() == before  # no LIST: the cache answered
    # A revision made elsewhere: once the Service names it, the page has it (from the cache or, if the cache
    # has not caught up yet, from a LIST).
    patch_ksvc(console, ns, "cached", {"spec": {"template": {"spec": {"containers": [
        {"image": "ghcr.io/knative/helloworld-go:latest", "env": [{"name": "TARGET", "value": "two"}]}]}}}})
    await console.settled(ns, "cached", revisions=2)
    assert "cached-00002" in (await console.get(path)).text


async def test_a_watch_whose_version_expired_lists_again_and_tells_its_followers(tmp_path: Path) -> None:
    small = DevClusterProcess(tmp_path / "small", ["--watch-history", "5"]).start()
    client = await Cluster.connect(str(small.kubeconfig), request_timeout=5)
    task = None
    try:
        old = (await client.list(r.CONFIGMAP, "default", limit=1))["metadata"]["resourceVersion"]
        for index in range(10):  # the server's history moves past `old`
            await client.create(r.CONFIGMAP, {"metadata": {"name": f"c{index}"}}, "default")
        feed = Feed(("someone", "default", r.CONFIGMAP), client, resource_version=old)
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        feed.followers.add(inbox)
        task = asyncio.get_running_loop().create_task(feed.run())
        async with asyncio.timeout(10):
            first = await inbox.get()
            while isinstance(first, Health):
                first = await inbox.get()
        assert isinstance(first, Resync)  # read again: what happened meanwhile is not in the watch
        assert feed.resource_version != old
        await client.create(r.CONFIGMAP, {"metadata": {"name": "after"}}, "default")
        async with asyncio.timeout(10):
            while not ((change := await inbox.get()) and isinstance(change, Change) and change.name == "after"):
                pass
    finally:
        if task is not None:
            task.cancel()
        await client.close()
        small.stop()


async def test_identities_never_share_a_watch(console: Console) -> None:
    """Each identity's feed is its own watch, made with its own client: what one identity's watch carries (what its
    RBAC lets it see, once sign-in brings per-user tokens) reaches only that identity's followers."""
    ns = console.namespace()
    alice = await Cluster.connect(str(console.cluster.kubeconfig), request_timeout=5)
    bob = await Cluster.connect(str(console.cluster.kubeconfig), request_timeout=5)
    hub = WatchHub(grace=0.1)
    to_alice: asyncio.Queue[Message] = asyncio.Queue()
    to_bob: asyncio.Queue[Message] = asyncio.Queue()
    try:
        async with hub.follow("alice", alice, ns, r.SERVICE, to_alice) as for_alice, \
                hub.follow("bob", bob, ns, r.SERVICE, to_bob) as for_bob:
            assert for_alice is not for_bob and (for_alice.cluster, for_bob.cluster) == (alice, bob)
            console.create_ksvc(ns, "seen-by-both")
            async with asyncio.timeout(10):
                while not isinstance(change := await to_alice.get(), Change):
                    pass
            assert change.name == "seen-by-both"
            for_alice.followers.discard(to_alice)  # what alice's watch sends now reaches nobody else
            for_alice.send(Change(r.SERVICE, "ADDED", {"metadata": {"name": "alice-only"}}))
            async with asyncio.timeout(10):
                names = set()
                while "seen-by-both" not in names:
                    message = await to_bob.get()
                    if isinstance(message, Change):
                        names.add(message.name)
            assert "alice-only" not in names
            for_alice.followers.add(to_alice)
    finally:
        await hub.close()
        await alice.close()
        await bob.close()


def _pending_stream_reads() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if not task.done()
            and getattr(task.get_coro(), "__qualname__", "") == "Stream.next"]


async def test_a_closed_tab_leaves_no_read_of_its_stream_pending(console: Console) -> None:
    """A tab that goes (its connection closed) ends its stream's generator while that waits for the next chunk: the
    wait is cancelled with it, not left pending (asyncio said "Task was destroyed but it is pending!" for it)."""
    ns = console.namespace()
    console.create_ksvc(ns, "closed")
    await console.settled(ns, "closed")
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        path = stream_path(await http.get(f"/namespaces/{ns}/services/closed"))
        before = metrics.live_streams._value.get()
        async with open_stream(http, path) as events:
            assert (await events.next()).name == ""  # connected: the stream now waits for a change
            await wait_until(lambda: len(_pending_stream_reads()) >= 1)
        await wait_until(lambda: metrics.live_streams._value.get() == before)
        await asyncio.sleep(0.2)
        assert _pending_stream_reads() == []
