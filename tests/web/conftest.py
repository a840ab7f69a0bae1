"""The console app over httpx (its lifespan started), against the session's dev cluster."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn

from app.main import create_app
from app.settings import Settings
from app.web.security import COOKIE, token_for
from tests.support import DevClusterProcess, ksvc_manifest

SECRET = "test-secret"
KSVC = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"


@dataclass
class Console:
    http: httpx.AsyncClient
    cluster: DevClusterProcess

    @property
    def token(self) -> str:
        return token_for(SECRET, self.http.cookies[COOKIE])

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, **kwargs)

    async def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True,
                   **kwargs: Any) -> httpx.Response:
        if COOKIE not in self.http.cookies:
            await self.http.get("/healthz")
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.token)
        return await self.http.post(path, data=form, **kwargs)

    async def post_fields(self, path: str, fields: list[tuple[str, str]], **kwargs: Any) -> httpx.Response:
        """A form posted exactly as these (name, value) pairs, in order (repeated names included)."""
        if COOKIE not in self.http.cookies:
            await self.http.get("/healthz")
        if not any(name == "csrf_token" for name, _ in fields):
            fields = [*fields, ("csrf_token", self.token)]
        headers = {"Content-Type": "application/x-www-form-urlencoded", **kwargs.pop("headers", {})}
        return await self.http.post(path, content=urlencode(fields).encode(), headers=headers, **kwargs)

    def namespace(self) -> str:
        return self.cluster.new_namespace("web")

    def ksvc(self, ns: str, name: str) -> dict[str, Any]:
        return self.cluster.get(f"{KSVC.format(ns=ns)}/{name}")

    def create_ksvc(self, ns: str, name: str, **kwargs: Any) -> dict[str, Any]:
        code, _, body = self.cluster.request("POST", KSVC.format(ns=ns), ksvc_manifest(name, ns, **kwargs))
        assert code == 201, body
        return body

    async def settled(self, ns: str, name: str, revisions: int = 1, within: float = 15.0) -> dict[str, Any]:
        """The Service once Ready for its generation with `revisions` Ready revisions."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            obj = self.ksvc(ns, name)
            status = obj.get("status", {})
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
            listed = self.cluster.get(f"/apis/serving.knative.dev/v1/namespaces/{ns}/revisions"
                                      f"?labelSelector=serving.knative.dev/service%3D{name}")["items"]
            ready_revisions = [r for r in listed if any(c["type"] == "Ready" and c["status"] == "True"
                                                        for c in r.get("status", {}).get("conditions", []))]
            if ready and status.get("observedGeneration") == obj["metadata"]["generation"] and \
                    len(ready_revisions) >= revisions:
                return obj
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{ns}/{name} did not settle: {status}")
            await asyncio.sleep(0.05)


    async def listed_by_cache(self, ns: str, within: float = 10.0) -> None:
        """Wait until the app's watch-fed caches of the namespace's Services hold what a LIST gives now (each Service
        at the same resourceVersion): a list page read from them is then what a LIST would show."""
        app = self.http._transport.app  # type: ignore[attr-defined]
        await caches_hold(app, self.cluster, ns, within)


async def caches_hold(app: Any, cluster: DevClusterProcess, ns: str, within: float = 10.0) -> None:
    """Wait until `app`'s caches of the Services of `ns` (one per identity that read its list) are trusted and hold
    what a LIST gives now."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        listed = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in cluster.get(KSVC.format(ns=ns))["items"]}
        caches = [i for (_, namespace, resource), i in app.state.live.informers.informers.items()
                  if namespace == ns and resource.plural == "services"]
        held = [{name: obj["metadata"]["resourceVersion"] for name, obj in cache.objects.items()} for cache in caches]
        if caches and all(cache.trusted for cache in caches) and all(h == listed for h in held):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the caches of {ns} did not catch up: {held} against {listed}")
        await asyncio.sleep(0.02)


class _Inputs(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.fields = form_id, False, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.inside = values.get("id") == self.form_id
        elif self.inside and tag == "input" and values.get("name"):
            if values.get("type") not in ("radio", "checkbox") or "checked" in values:
                self.fields.append((str(values["name"]), values.get("value") or ""))
        elif self.inside and tag == "select" and values.get("name"):
            self.fields.append((str(values["name"]), ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def form_fields(html: str, form_id: str) -> list[tuple[str, str]]:
    """The (name, value) pairs a browser would submit from the form with this id (inputs only, no buttons)."""
    parser = _Inputs(form_id)
    parser.feed(html)
    return [(n, v) for n, v in parser.fields if n != "add_revision"]


Row = tuple[str, str, str, str]  # kind, revision, percent, tag


def rows_in(fields: list[tuple[str, str]]) -> list[Row]:
    columns = {key: [v for n, v in fields if n == key] for key in ("row_kind", "row_revision", "row_percent", "row_tag")}
    return list(zip(*columns.values(), strict=True))


def now_column(html: str) -> list[tuple[str, str, str]]:
    """A traffic form's rows as (kind, how the "After OK" line names it, its "Now" cell as read, tags dropped)."""
    found = re.findall(r'<tr data-row="([^"]+)" data-short="([^"]*)"[^>]*>.*?<td class="num"[^>]*>(.*?)</td>', html, re.S)
    return [(kind, unescape(short), " ".join(unescape(re.sub(r"<[^>]+>", "", cell)).split()))
            for kind, short, cell in found]


def with_rows(fields: list[tuple[str, str]], rows: list[Row]) -> list[tuple[str, str]]:
    """The form's other fields, with these traffic rows instead of the ones it showed."""
    kept = [(n, v) for n, v in fields if not n.startswith("row_")]
    for kind, revision, percent, tag in rows:
        kept += [("row_kind", kind), ("row_revision", revision), ("row_percent", percent), ("row_tag", tag)]
    return kept


def form_values(html: str, name: str) -> list[str]:
    """Every value of the inputs called `name` in a page, in order."""
    return [v for v in re.findall(rf'name="{re.escape(name)}"[^>]*?value="([^"]*)"', html)]


@asynccontextmanager
async def console_on(cluster: DevClusterProcess) -> AsyncIterator[Console]:
    """The console app over httpx (its lifespan started) against `cluster`."""
    settings = Settings(kubeconfig=str(cluster.kubeconfig), secret_key=SECRET, request_timeout=5.0,
                        allowed_hosts="console.test")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as http:
            yield Console(http, cluster)


@pytest.fixture
async def console(devcluster: DevClusterProcess) -> AsyncIterator[Console]:
    async with console_on(devcluster) as console:
        yield console


@pytest.fixture
async def slow_console(slow_devcluster: DevClusterProcess) -> AsyncIterator[Console]:
    """The console against the session's slow cluster, whose revisions take 1 s to become Ready."""
    async with console_on(slow_devcluster) as console:
        yield console


# -- the console served over real HTTP (uvicorn in this process): live streams need it, as httpx's
# ASGITransport hands back an answer only once the app has finished it.


@dataclass
class Served:
    url: str
    app: Any
    settings: Settings

    @property
    def live(self) -> Any:
        return self.app.state.live


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[Served]:
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", app, settings)
    finally:
        if hasattr(app.state, "live"):
            app.state.live.shut()  # as `knative-console serve` does on Ctrl+C
        server.should_exit = True
        await task
        sock.close()


def live_settings(cluster: DevClusterProcess, **overrides: Any) -> Settings:
    return Settings(kubeconfig=str(cluster.kubeconfig), secret_key=SECRET, request_timeout=5.0, live_heartbeat=0.3,
                    **overrides)


@dataclass
class Event:
    name: str  # "" for a heartbeat
    data: str
    ident: str = ""


class EventStream:
    """A `text/event-stream` answer read event by event (heartbeats as Event("", "")); the browser's CSRF token, sent
    first on a page's stream, is kept in `csrf` rather than returned."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.retry = ""
        self.csrf = ""

    async def next(self, within: float = 10.0) -> Event:
        async with asyncio.timeout(within):
            while True:
                event = await self._next()
                if event.name != "csrf":
                    return event
                self.csrf = event.data

    async def _next(self) -> Event:
        name, data, ident, comment = "", [], "", False
        async for line in self.lines:
            if not line:
                if name or data or comment:
                    return Event(name, "\n".join(data), ident)
                continue
            field_name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field_name == "":
                comment = True
            elif field_name == "event":
                name = value
            elif field_name == "data":
                data.append(value)
            elif field_name == "id":
                ident = value
            elif field_name == "retry":
                self.retry = value
        raise AssertionError("the stream ended")

    async def until(self, predicate: Any, within: float = 15.0) -> list[Event]:
        """Every event up to and including the first that satisfies `predicate`."""
        seen: list[Event] = []
        deadline = asyncio.get_running_loop().time() + within
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no such event within {within} s; got {[(e.name, e.data[:80]) for e in seen]}")
            event = await self.next(left)
            seen.append(event)
            if predicate(event):
                return seen


@asynccontextmanager
async def open_stream(http: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
                      ) -> AsyncIterator[EventStream]:
    async with http.stream("GET", url, headers=headers or {}) as response:
        assert response.status_code == 200, response.status_code
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)
