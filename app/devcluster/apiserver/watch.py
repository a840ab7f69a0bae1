"""Watch streams: newline-delimited JSON events over a chunked 200 response."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from app.devcluster.apiserver import tables
from app.devcluster.apiserver.errors import ApiError
from app.devcluster.apiserver.resources import ResourceDef
from app.devcluster.apiserver.selectors import FieldSelector, LabelSelector, field_value
from app.devcluster.apiserver.store import Event, Store, TooOld


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

    def __init__(self, store: Store, bookmark_interval: float = 30.0) -> None:
        self.store = store
        self.bookmark_interval = bookmark_interval
        self._stopping = asyncio.Event()
        self.open = 0

    def stop(self) -> None:
        self._stopping.set()

    async def serve(self, request: web.Request, params: WatchParams) -> web.StreamResponse:
        store = self.store
        subscription = store.subscribe([params.resource.key])
        try:
            backlog = self._backlog(params)
        except TooOld as too_old:
            store.unsubscribe(subscription)
            response = await self._start(request)
            error = ApiError(410, "Expired", str(too_old))
            await response.write(_line({"type": "ERROR", "object": error.status()}))
            await response.write_eof()
            return response
        except BaseException:
            store.unsubscribe(subscription)
            raise
        self.open += 1
        response = await self._start(request)
        encoder = _Encoder(params)
        last_rv = store.rv
        timeout = params.timeout_seconds
        if timeout is None:
            timeout = random.randint(1800, 3600)  # noqa: S311 - a real server spreads reconnects the same way
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            for kind, obj in backlog:
                await response.write(encoder.event(kind, obj))
            while not self._stopping.is_set():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                wait = min(remaining, self.bookmark_interval) if params.bookmarks else remaining
                getter = asyncio.ensure_future(subscription.queue.get())
                done, _ = await asyncio.wait({getter, stopping}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    if params.bookmarks and not self._stopping.is_set() and loop.time() < deadline:
                        await response.write(encoder.bookmark(store.rv))
                    continue
                event = getter.result()
                if event is None:
                    break
                chunks = []
                while event is not None:
                    if event.rv > last_rv:
                        translated = _translate(event, params)
                        if translated is not None:
                            chunks.append(encoder.event(*translated))
                    if subscription.queue.empty():
                        break
                    event = subscription.queue.get_nowait()
                if chunks:
                    await response.write(b"".join(chunks))
                if event is None:
                    break
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            stopping.cancel()
            store.unsubscribe(subscription)
            self.open -= 1
        return response

    def _backlog(self, params: WatchParams) -> list[tuple[str, dict[str, Any]]]:
        rv = params.resource_version
        if rv in ("", "0"):
            return [("ADDED", obj) for obj in _matching(self.store.list(params.resource.key), params)]
        try:
            start = int(rv)
        except ValueError:
            raise ApiError(400, "BadRequest", f'invalid resource version "{rv}"') from None
        backlog = []
        for event in self.store.history_since(start):
            if event.resource != params.resource.key:
                continue
            translated = _translate(event, params)
            if translated is not None:
                backlog.append(translated)
        return backlog

    async def _start(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        return response


def _matches(obj: dict[str, Any] | None, params: WatchParams) -> bool:
    if obj is None:
        return False
    if params.namespace and obj["metadata"].get("namespace", "") != params.namespace:
        return False
    return params.labels.matches(obj) and params.fields.matches(obj, field_value)


def _matching(objects: list[dict[str, Any]], params: WatchParams) -> list[dict[str, Any]]:
    return [o for o in objects if _matches(o, params)]


def _translate(event: Event, params: WatchParams) -> tuple[str, dict[str, Any]] | None:
    """The event as this watcher sees it: leaving the selection is a DELETED, entering it an ADDED."""
    now = _matches(event.obj, params)
    if event.type == "DELETED":
        return ("DELETED", event.obj) if now or _matches(event.old, params) else None
    if event.type == "ADDED":
        return ("ADDED", event.obj) if now else None
    before = _matches(event.old, params) if event.old is not None else now
    if now and before:
        return "MODIFIED", event.obj
    if now:
        return "ADDED", event.obj
    if before:
        return "DELETED", event.obj
    return None


class _Encoder:
    def __init__(self, params: WatchParams) -> None:
        self.params = params
        self.first_table = True

    def event(self, kind: str, obj: dict[str, Any]) -> bytes:
        payload: dict[str, Any] = obj
        if self.params.table:
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
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"
