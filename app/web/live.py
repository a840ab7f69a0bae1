"""Live pages: what one identity's open tabs of one page show, kept current from shared watches and pushed to
every such tab as server-sent events.

A View is one page (a Service's details, one page of the Service list) as one identity sees it. It reads what
the page shows once, follows the watch hub's feeds for the kinds it shows, applies each batch of changes,
renders its regions once and sends each tab only the regions whose HTML changed. Its tabs are Streams; the
View ends a grace period after its last Stream closes, and the hub's watches after their last View.

Bounded: a cap on open streams per process and per identity (past it a tab is told so and stays a plain
page with its Refresh link), a heartbeat on idle streams, queues that drop a tab that stops reading, and
nothing kept per change: a View holds the objects of one page and the last HTML of each region.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from app import metrics
from app.cluster.client import Cluster
from app.cluster.errors import ClusterError, Forbidden, NotFound, Unauthorized, Unreachable
from app.cluster.resources import Resource
from app.web.hub import Change, Feed, Health, Message, Resync, WatchHub
from app.web.informer import Informers
from app.web.regions import Regions, digest
from app.web.tasks import detached, end, end_soon

log = logging.getLogger("knative_console.live")
CSRF = "csrf"  # the event that gives a tab the browser's CSRF token (Live.csrf_event)
CONNECTION = "connection"  # the banner's region: why the page may be out of date, "" when it is not
STREAM_QUEUE = 64  # messages waiting for one tab; a tab that lets more pile up is cut off (it reconnects)
# bytes waiting for one tab: past them it is cut off too. A message is every region that changed, up to the whole
# page, so 64 of them could be several MB for each tab that stopped reading (a stalled connection, a suspended
# laptop), on each of the pages its identity may open. What is dropped is not lost: the reconnect catches up.
STREAM_BYTES = 1024 * 1024
RETRY_MS = 2000  # how soon a browser reconnects after a dropped stream
REFUSED_RETRY_MS = 60_000  # … and after being turned away by the caps
# Over HTTP/1.1 a browser opens at most 6 connections to one host, and each live tab holds one: past 4, a
# browser's other requests (a dialog, a form) would wait for a free connection.
MAX_PER_BROWSER = 4
LET_THROUGH_SECONDS = 2.0  # how long a page filled again waits for its other watches to start again (View.let_through)


def event(name: str, data: str, ident: str = "") -> bytes:
    """One server-sent event; every line of `data` its own `data:` field, as the format requires."""
    lines = [f"event: {name}"]
    if ident:
        lines.append(f"id: {ident}")
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode()


def banner(problem: str, refused: bool = False) -> str:
    """The connection banner's inside (empty hides it: `.alert:empty`). `refused`: the stream was turned away by the
    caps and ends at once; the page's script keeps this text when the stream then closes (app.js)."""
    if not problem:
        return ""
    mark = Markup(" data-refused") if refused else ""
    return str(Markup('<span data-text{}>{}</span> <a href="">Reload</a>').format(mark, problem))


class View:
    """One page as one identity sees it, shared by all of that identity's tabs on it."""

    resources: tuple[Resource, ...] = ()

    def __init__(self, live: Live, identity: str, cluster: Cluster, namespace: str) -> None:
        self.live, self.identity, self.cluster, self.namespace = live, identity, cluster, namespace
        self.streams: set[Stream] = set()
        self.epoch = secrets.token_hex(4)  # a new View numbers its events afresh
        self.version = 0
        self.rendered: dict[str, str] = {}
        self.changed_at: dict[str, int] = {}  # region → the version that last changed it
        self.health: dict[Resource, str] = {}
        self.feeds: dict[Resource, Feed] = {}
        self.failure = ""  # why the last read failed, "" when it did not
        self.gone = ""  # the page's object was deleted: what to say (`went`)
        self.refused = False  # the cluster refused the last read: the page shows nothing it read before
        self.ready = asyncio.Event()  # the first rendering is there
        self.task: asyncio.Task[None] | None = None
        self.stopping: asyncio.TimerHandle | None = None
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()  # what the feeds send it (and `Resync`, to read again)

    def use(self, cluster: Cluster) -> None:
        """From now on, read and watch with this client (the same identity's, with a newer token): a token that
        expires never leaves this page, its watches or its cached lists reading with the old one."""
        self.cluster = cluster
        self.live.hub.use(self.identity, cluster)
        self.live.informers.use(self.identity, cluster)

    # -- what a page kind provides -----------------------------------------------------------

    async def load(self) -> None:
        """Read what the page shows (raises ClusterError)."""
        raise NotImplementedError

    def apply(self, change: Change) -> str:
        """Take one change into the page's state: "" (not shown here), "changed", or "reload"."""
        raise NotImplementedError

    def regions(self) -> Regions:
        raise NotImplementedError

    def resynced(self) -> None:
        """Changes may have been missed (a watch listed again after 410 Gone): the page is read again next."""

    # -- the loop ----------------------------------------------------------------------------

    @property
    def problem(self) -> str:
        return self.gone or self.failure or next((p for p in self.health.values() if p), "")

    async def run(self) -> None:
        inbox = self.inbox
        async with AsyncExitStack() as stack:
            for resource in self.resources:
                feed = self.feeds[resource] = await stack.enter_async_context(
                    self.live.hub.follow(self.identity, self.cluster, self.namespace, resource, inbox))
                self.health[resource] = feed.problem  # known before the first read: its Health is no news
            await self.reload()
            self.publish()
            self.ready.set()
            while True:
                batch = [await inbox.get()]
                while not inbox.empty():
                    batch.append(inbox.get_nowait())
                reload = False
                for message in batch:
                    if isinstance(message, Change):
                        reload = self.apply(message) == "reload" or reload
                    elif isinstance(message, Resync):
                        self.resynced()
                        reload = True
                    elif isinstance(message, Health):
                        # Refused: the user's rights may have been taken away, so what the page shows is read again
                        # with them, and dropped if that is refused too (`reload`).
                        refused = message.refused and self.health.get(message.resource) != message.problem
                        reload = reload or refused or (not message.problem and bool(self.failure))
                        self.health[message.resource] = message.problem
                if reload:
                    refused = self.refused
                    await self.reload()
                    if refused and not self.refused:
                        await self.let_through()
                self.publish()

    async def let_through(self) -> None:
        """The cluster lets this page be read again after refusing it (one of its watches was let through, and the
        page read again): its watches still refused with the rights they had start again now, and the page shows how
        that went. Else the page, filled again, would say for a moment that the user may not watch what it shows."""
        await asyncio.gather(*(feed.try_again(LET_THROUGH_SECONDS) for feed in self.feeds.values() if feed.refused))
        for resource, feed in self.feeds.items():  # as they are now (shared: another page may have woken them)
            self.health[resource] = feed.problem  # their Health, still on its way, is then no news

    async def reload(self) -> None:
        try:
            await self.load()
            self.failure, self.refused = "", False
        except NotFound as error:
            self.went(self.gone_message(error))
        except (Forbidden, Unauthorized) as error:
            self.refused = True
            self.failure = f"{self.refusal(error).rstrip('.')}. This page shows nothing until the cluster lets you " \
                           "read it; it then fills by itself."
        except Unreachable as error:
            self.failure = f"{error.message}. The page shows what was last read; it catches up when the cluster " \
                           "answers again."
        except ClusterError as error:
            self.failure = f"The page could not be read again: {error.message}"

    def gone_message(self, error: NotFound) -> str:
        return error.message

    def went(self, message: str) -> None:
        """The page's object was deleted: `message` says so in the banner, and `regions` render the page as gone."""
        self.gone = message

    def refusal(self, error: ClusterError) -> str:
        """Why the cluster refused to read the page again, for the banner."""
        return error.message

    def publish(self) -> None:
        """Render every region, and send the ones whose HTML changed to every tab. A page the cluster refused is
        emptied, for the tabs open on it and any that come: none is sent what was read before. A page whose object
        was deleted renders itself as gone (`regions`), or keeps what it showed if it cannot."""
        regions: dict[str, str] = {}
        if self.refused:
            regions = {name: "" for name in self.rendered if name != CONNECTION}
        else:
            regions = dict(self.regions())
        regions[CONNECTION] = banner(self.problem)
        changed = {name: html for name, html in regions.items() if self.rendered.get(name) != html}
        if not changed:
            return
        self.version += 1
        for name in changed:
            self.changed_at[name] = self.version
        self.rendered.update(changed)
        if not self.ready.is_set():  # the first rendering: each tab catches up on what its page lacks
            return
        chunk = b"".join(event(name, html, self.ident) for name, html in changed.items())
        for stream in list(self.streams):
            stream.put(chunk)

    @property
    def ident(self) -> str:
        return f"{self.epoch}-{self.version}"

    def catch_up(self, seen: dict[str, str], last_event_id: str) -> bytes:
        """What a tab that just connected lacks: after a reconnect, the regions changed since the last event it
        got; on a first connection, the regions whose HTML differs from what its page showed. A tab that got events
        from an earlier View (the console restarted, or the page was closed everywhere else meanwhile) is sent every
        region: what it shows is no longer what its page showed, and a region changed back since would stay stale."""
        epoch, _, version = last_event_id.partition("-")
        if epoch == self.epoch and version.isdigit():
            names = [name for name, at in self.changed_at.items() if at > int(version)]
        elif last_event_id:
            names = list(self.rendered)
        else:
            names = [name for name, html in self.rendered.items()
                     if seen.get(name) != digest(html) and (html or name != CONNECTION)]
        return b"".join(event(name, self.rendered[name], self.ident) for name in names)


class Refused(Exception):
    """Past a cap on open streams: the message says which and what to do."""


@dataclass(eq=False)
class Stream:
    """One tab's connection: the chunks to send it."""

    view: View
    browser: str = ""  # the browser's id (its CSRF cookie): tabs of one browser share its connections
    until: float | None = None  # when the session it was opened in ends (time.time()): the stream ends then
    signed_out: asyncio.Event = field(default_factory=asyncio.Event)  # set when its browser signs out (Live.enter)
    queue: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(STREAM_QUEUE))
    queued: int = 0  # bytes in the queue

    def put(self, chunk: bytes | None) -> None:
        """Queue `chunk` (None: the end) for the tab; if it has let too much pile up, end it instead."""
        size = len(chunk or b"")
        if self.queued and self.queued + size > STREAM_BYTES or self.queue.full():
            self._cut()
            return
        self.queue.put_nowait(chunk)
        self.queued += size

    def _cut(self) -> None:
        """The tab stopped reading: what waits for it is dropped and its stream ends; the browser reconnects and
        catches up from the last event it got (View.catch_up)."""
        self.view.streams.discard(self)
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queued = 0
        self.queue.put_nowait(None)

    async def next(self) -> bytes | None:
        """The next chunk for the tab (None: its stream ends)."""
        chunk = await self.queue.get()
        self.queued -= len(chunk or b"")
        return chunk


class Live:
    """Every open View and Stream of one app, the watch hub they share, and the caps."""

    def __init__(self, max_streams: int, max_streams_per_identity: int, heartbeat: float,
                 grace: float = 5.0) -> None:
        self.hub = WatchHub(grace)
        self.informers = Informers(self.hub)
        self.max_streams, self.max_per_identity = max_streams, max_streams_per_identity
        self.heartbeat, self.grace = heartbeat, grace
        self.views: dict[tuple[str, Any], View] = {}
        self.open: dict[str, int] = {}  # identity → streams
        self.browsers: dict[str, int] = {}  # browser → streams
        self.signed_out: dict[str, asyncio.Event] = {}  # browser → set when it signs out (while it has streams)
        self.closing = asyncio.Event()

    @property
    def streams(self) -> int:
        return sum(self.open.values())

    def admit(self, identity: str, browser: str = "") -> None:
        if self.closing.is_set():
            raise Refused("The console is shutting down; reload the page in a moment.")
        if self.streams >= self.max_streams:
            raise Refused(f"This console already keeps {self.max_streams} live pages open, its limit, so this page "
                          "does not update by itself: use Reload, or close pages you no longer need.")
        if self.open.get(identity, 0) >= self.max_per_identity:
            raise Refused(f"You already have {self.max_per_identity} live pages open, the limit per user, so this "
                          "page does not update by itself: use Reload, or close pages you no longer need.")
        if browser and self.browsers.get(browser, 0) >= MAX_PER_BROWSER:
            raise Refused(f"This browser already has {MAX_PER_BROWSER} live pages of this console open, so this one "
                          "does not update by itself (more would hold up the browser's other requests): use Reload, "
                          "or close a tab.")

    def enter(self, identity: str, browser: str = "") -> asyncio.Event:
        """Count one more open stream (raises Refused past the caps); `leave` counts it out. The event is set when the
        browser signs out."""
        self.admit(identity, browser)
        self.open[identity] = self.open.get(identity, 0) + 1
        signed_out = asyncio.Event()
        if browser:
            self.browsers[browser] = self.browsers.get(browser, 0) + 1
            signed_out = self.signed_out.setdefault(browser, signed_out)
        metrics.live_streams.inc()
        return signed_out

    def leave(self, identity: str, browser: str = "") -> None:
        self.open[identity] -= 1
        if not self.open[identity]:
            del self.open[identity]
        if browser:
            self.browsers[browser] -= 1
            if not self.browsers[browser]:
                del self.browsers[browser]
                self.signed_out.pop(browser, None)
        metrics.live_streams.dec()

    def sign_out(self, browser: str) -> None:
        """The browser signed out: every stream it holds open here ends (its reconnect is told it is signed out)."""
        ended = self.signed_out.pop(browser, None)
        if ended is not None:
            ended.set()

    async def over(self, signed_out: asyncio.Event, until: float | None) -> None:
        """Returns when a stream must end: the console shuts down, its browser signs out (`signed_out`, from `enter`),
        or the session it was opened in ends at `until` (the browser reconnects, and goes on if it still has a valid
        session, renewed meanwhile by its other requests)."""
        waits = [asyncio.ensure_future(self.closing.wait()), asyncio.ensure_future(signed_out.wait())]
        try:
            await asyncio.wait(waits, timeout=None if until is None else max(until - time.time(), 0),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def attach(self, identity: str, key: Any, make: Callable[[], View], browser: str = "",
                     until: float | None = None) -> Stream:
        """A Stream on the View for (identity, key), made and started if there is none."""
        self.admit(identity, browser)
        view = self.views.get((identity, key))
        if view is None or view.task is None or view.task.done():
            view = self.views[(identity, key)] = make()
            view.task = detached(self._run(view, (identity, key)), f"live view {key}")
        if view.stopping is not None:
            view.stopping.cancel()
            view.stopping = None
        stream = Stream(view, browser, until)
        view.streams.add(stream)
        stream.signed_out = self.enter(identity, browser)
        return stream

    async def _run(self, view: View, key: tuple[str, Any]) -> None:
        try:
            await view.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("live view %s failed", key)
        finally:
            if self.views.get(key) is view:
                del self.views[key]
            view.ready.set()  # a tab still waiting for the first rendering goes on, to the end of its stream
            for stream in list(view.streams):
                stream.put(None)

    def detach(self, stream: Stream) -> None:
        view = stream.view
        view.streams.discard(stream)
        self.leave(view.identity, stream.browser)
        if not view.streams and view.task is not None and not view.task.done():
            view.stopping = asyncio.get_running_loop().call_later(self.grace, self._stop, view)

    def _stop(self, view: View) -> None:
        if not view.streams and view.task is not None:
            end_soon(view.task)

    async def events(self, stream: Stream, seen: dict[str, str], last_event_id: str,
                     hello: bytes = b"") -> AsyncIterator[bytes]:
        """The bytes of one tab's stream, until the tab goes, the View ends, the console shuts down, the browser signs
        out or its session ends. `hello` goes first (the browser's CSRF token: `csrf_event`)."""
        try:
            yield f"retry: {RETRY_MS}\n\n".encode() + hello
            await stream.view.ready.wait()
            first = stream.view.catch_up(seen, last_event_id)
            if first:
                yield first
            closing = asyncio.ensure_future(self.over(stream.signed_out, stream.until))
            getter: asyncio.Future[bytes | None] | None = None
            try:
                while True:
                    getter = asyncio.ensure_future(stream.next())
                    done, _ = await asyncio.wait({getter, closing}, timeout=self.heartbeat,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if getter not in done:
                        getter.cancel()
                        if closing in done:
                            return
                        yield b": heartbeat\n\n"
                        continue
                    chunk = getter.result()
                    if chunk is None:
                        return
                    yield chunk
            finally:
                closing.cancel()
                if getter is not None:  # the tab went (the generator closed) while it waited for the next chunk
                    getter.cancel()
        finally:
            self.detach(stream)

    @staticmethod
    def csrf_event(token: str) -> bytes:
        """This browser's CSRF token as this console process signs it: a page rendered by a console since restarted
        (a new key, unless KNATIVE_CONSOLE_SECRET_KEY is set) takes it when its stream reconnects, so that its forms
        and dialogs are not refused as expired (app.js)."""
        return event(CSRF, token) if token else b""

    @staticmethod
    def refusal(why: str) -> bytes:
        return f"retry: {REFUSED_RETRY_MS}\n\n".encode() + event(CONNECTION, banner(why, refused=True))

    def shut(self) -> None:
        """Called when the server is asked to stop: every stream ends now, so that none holds the shutdown."""
        self.closing.set()

    async def close(self) -> None:
        self.closing.set()
        views, self.views = list(self.views.values()), {}
        for view in views:
            if view.stopping is not None:
                view.stopping.cancel()
        await end(view.task for view in views if view.task is not None)
        await self.informers.close()
        await self.hub.close()
