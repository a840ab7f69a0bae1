"""Watch streams: newline-delimited JSON events over a chunked 200 response.

Each event is written as the JSON its object was committed as. A watcher that falls behind by
`buffer` events (its client stops reading, or reads slower than the cluster writes) is cut off
as kube-apiserver cuts off an unresponsive watcher: its stream ends, and the client lists and
watches again. So a stalled client holds at most that many (shared) events and one socket
buffer, never the whole history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from app.devcluster.apiserver import selection, tables
from app.devcluster.apiserver.errors import ApiError
from app.devcluster.apiserver.resources import ResourceDef
from app.devcluster.apiserver.selectors import FieldSelector, LabelSelector
from app.devcluster.apiserver.store import Event, Store, Subscription, TooOld, dumps

log = logging.getLogger("devcluster.watch")
BUFFER = 1000  # events a watcher may fall behind before it is cut off
CHUNK = 64 * 1024  # bytes per write, so that a slow client makes the writer wait for it
# kube-apiserver sends a bookmark this long before a watch's timeoutSeconds are up (cache_watcher.go,
# nextBookmarkTime), so that a client resumes from a current resourceVersion however short its watches are.
BOOKMARK_BEFORE_END = 2.0


@dataclass
class WatchParams:
    resource: ResourceDef
    namespace: str
    labels: LabelSelector
    fields: FieldSelector
    resource_version: str = ""
    timeout_seconds: int | None = None
    bookmarks: bool = False
    table: bool = False
    include_object: str = "Metadata"


class Watches:
    """The open watch streams, so that shutdown can end each one cleanly."""

    def __init__(self, store: Store, bookmark_interval: float = 30.0, buffer: int = BUFFER) -> None:
        self.store = store
        self.bookmark_interval = bookmark_interval
        self.buffer = buffer
        self._stopping = asyncio.Event()
        self.open = 0

    def stop(self) -> None:
        self._stopping.set()

    async def serve(self, request: web.Request, params: WatchParams) -> web.StreamResponse:
        stream = _Stream(request, params, self)
        subscription = self.store.subscribe([params.resource.key], self.buffer, stream.cut_off)
        try:
            backlog = self._backlog(params)
        except TooOld as too_old:
            self.store.unsubscribe(subscription)
            response = await stream.start()
            error = ApiError(410, "Expired", str(too_old))
            await response.write(_line({"type": "ERROR", "object": error.status()}))
            await response.write_eof()
            return response
        except BaseException:
            self.store.unsubscribe(subscription)
            raise
        last_rv = self.store.rv  # what the backlog shows; the subscription brings what comes after
        self.open += 1
        try:
            await stream.run(subscription, backlog, last_rv)
        except (ConnectionError, asyncio.CancelledError):
            if not subscription.cut_off:
                log.info("watch of %s from %s ended: the client went away", params.resource.qualified,
                         request.remote)
        finally:
            self.store.unsubscribe(subscription)
            self.open -= 1
        return stream.response or web.StreamResponse()

    def _backlog(self, params: WatchParams) -> Iterator[list[Seen]]:
        """Pages of what a new watch starts with: the matching objects now, or the history since its version."""
        rv = params.resource_version
        if rv in ("", "0"):
            store, resource = self.store, params.resource.key
            keys = selection.select(store, params.resource, params.namespace, params.labels, params.fields)
            bodies = [body for key in keys if (body := store.body(resource, key)) is not None]
            return _added(bodies, params.table)
        try:
            start = int(rv)
        except ValueError:
            raise ApiError(400, "BadRequest", f'invalid resource version "{rv}"') from None
        pages = self.store.history_since(start, [params.resource.key])
        return (list(_seen(page, params)) for page in pages)


Seen = tuple[str, dict[str, Any], str]  # (event type as this watcher sees it, object, its JSON)


def _added(bodies: list[str], table: bool, size: int = 500) -> Iterator[list[Seen]]:
    """The current objects as ADDED events, a page at a time (decoded only for Table output)."""
    for start in range(0, len(bodies), size):
        yield [("ADDED", json.loads(body) if table else {}, body) for body in bodies[start:start + size]]


class _Stream:
    """One watch response: the backlog, then live events, bookmarks, the deadline and shutdown."""

    def __init__(self, request: web.Request, params: WatchParams, watches: Watches) -> None:
        self.request, self.params, self.watches = request, params, watches
        self.response: web.StreamResponse | None = None
        self.encoder = _Encoder(params)
        self.writing = False

    async def start(self) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(self.request)
        self.response = response
        return response

    def cut_off(self) -> None:
        log.info(
            "watch of %s from %s cut off: %d events waited for a client that reads too slowly",
            self.params.resource.qualified, self.request.remote, self.watches.buffer,
        )
        transport = self.request.transport
        if self.writing and transport is not None:
            transport.abort()  # stuck writing to a client that does not read: free what is buffered for it

    async def run(self, subscription: Subscription, backlog: Iterator[list[Seen]], last_rv: int) -> None:
        response = await self.start()
        for page in backlog:
            await self.write([self.encoder.event(*seen) for seen in page])
            await asyncio.sleep(0)  # a long backlog must not hold up every other request
        await self._follow(subscription, last_rv)
        await response.write_eof()

    async def _follow(self, subscription: Subscription, last_rv: int) -> None:
        params, store, stopping = self.params, self.watches.store, self.watches._stopping
        timeout = params.timeout_seconds
        if timeout is None:
            timeout = random.randint(1800, 3600)  # noqa: S311 - a real server spreads reconnects the same way
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # The bookmark before the end, when there is time for one; the others come after bookmark_interval idle.
        before_end = deadline - BOOKMARK_BEFORE_END if params.bookmarks and timeout > BOOKMARK_BEFORE_END else None
        stopped = asyncio.ensure_future(stopping.wait())
        try:
            while not stopping.is_set():
                now = loop.time()
                remaining = deadline - now
                if remaining <= 0:
                    return
                wait = min(remaining, self.watches.bookmark_interval) if params.bookmarks else remaining
                last_one = before_end is not None and before_end - now <= wait
                if before_end is not None and last_one:
                    wait = max(0.0, before_end - now)
                bookmark = params.bookmarks and wait < remaining  # what the wait ends in, if nothing comes first
                getter = asyncio.ensure_future(subscription.queue.get())
                done, _ = await asyncio.wait({getter, stopped}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    if bookmark and not stopping.is_set():
                        await self.write([self.encoder.bookmark(store.rv)])
                        if last_one:
                            before_end = None
                    continue
                events = [getter.result()]
                while events[-1] is not None and not subscription.queue.empty():
                    events.append(subscription.queue.get_nowait())
                live = [e for e in events if e is not None and e.rv > last_rv]
                await self.write([self.encoder.event(*seen) for seen in _seen(live, params)])
                if events[-1] is None:
                    return
        finally:
            stopped.cancel()

    async def write(self, lines: list[bytes]) -> None:
        """Write in chunks of at most about CHUNK bytes, each waiting until the client has taken enough."""
        assert self.response is not None
        chunk: list[bytes] = []
        size = 0
        self.writing = True
        try:
            for line in lines:
                chunk.append(line)
                size += len(line)
                if size >= CHUNK:
                    await self.response.write(b"".join(chunk))
                    chunk, size = [], 0
            if chunk:
                await self.response.write(b"".join(chunk))
        finally:
            self.writing = False


def _seen(events: list[Event], params: WatchParams) -> Iterator[Seen]:
    """The events as this watcher sees them: leaving the selection is a DELETED, entering it an ADDED."""
    for event in events:
        kind = _translate(event, params)
        if kind is not None:
            yield kind, event.obj, event.body


def _translate(event: Event, params: WatchParams) -> str | None:
    def matches(obj: dict[str, Any] | None) -> bool:
        return selection.matches(obj, params.namespace, params.labels, params.fields)

    now = matches(event.obj)
    if event.type == "DELETED":
        return "DELETED" if now or matches(event.old) else None
    if event.type == "ADDED":
        return "ADDED" if now else None
    before = matches(event.old) if event.old is not None else now
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    if before:
        return "DELETED"
    return None


class _Encoder:
    def __init__(self, params: WatchParams) -> None:
        self.params = params
        self.first_table = True

    def event(self, kind: str, obj: dict[str, Any], body: str) -> bytes:
        if not self.params.table:
            return f'{{"type":"{kind}","object":{body}}}\n'.encode()
        payload = tables.table(
            self.params.resource, [obj], obj["metadata"].get("resourceVersion", ""),
            include=self.params.include_object, with_columns=self.first_table,
        )
        self.first_table = False
        return _line({"type": kind, "object": payload})

    def bookmark(self, rv: int) -> bytes:
        resource = self.params.resource
        return _line(
            {"type": "BOOKMARK", "object": {"kind": resource.kind, "apiVersion": resource.api_version,
                                            "metadata": {"resourceVersion": str(rv)}}}
        )


def _line(event: dict[str, Any]) -> bytes:
    return dumps(event).encode() + b"\n"
