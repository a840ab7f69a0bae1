"""The dev cluster's ingress gateway: routes by Host header and splits traffic by the Route's percentages.

No containers run here: a revision answers like Knative's helloworld sample, `Hello <TARGET>!`,
with TARGET from that revision's own env, and names itself in `X-Knative-Revision`. HTTP/1.1
and HTTP/2 cleartext (prior knowledge or Upgrade: h2c) are both served, via hypercorn.

The split is random per request, drawn from a shuffled deck of 100 cards per traffic
configuration, so that every 100 requests follow the percentages exactly and a share never
drifts; a change of the Route's traffic starts a new deck at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig

from app.devcluster.apiserver.store import Store
from app.devcluster.crds.resources import REVISION, ROUTE

log = logging.getLogger("devcluster.gateway")
CLUSTER_SUFFIXES = (".svc.cluster.local", ".svc", "")
Traffic = tuple[tuple[str, int], ...]


class Deck:
    """A shuffled deck of revision names, one card per percent."""

    def __init__(self, traffic: Traffic, rng: random.Random) -> None:
        self.cards = [name for name, percent in traffic for _ in range(percent)]
        self.rng = rng
        self.position = len(self.cards)

    def draw(self) -> str | None:
        if not self.cards:
            return None
        if self.position >= len(self.cards):
            self.rng.shuffle(self.cards)
            self.position = 0
        card = self.cards[self.position]
        self.position += 1
        return card


class Gateway:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.rng = random.Random()  # noqa: S311 - traffic splitting, not security
        self._decks: dict[tuple[str, str], tuple[Traffic, Deck]] = {}
        self._hosts: dict[str, tuple[str, str, str]] = {}  # host -> (namespace, route, tag)
        self._route_hosts: dict[tuple[str, str], list[str]] = {}
        self._shutdown = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._feed: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, sock: socket.socket) -> None:
        for route in self.store.list(ROUTE.key):
            self._index(route)
        subscription = self.store.subscribe([ROUTE.key])
        self._feed = asyncio.create_task(self._follow(subscription.queue))
        config = HypercornConfig()
        config.bind = [f"fd://{sock.detach()}"]
        config.accesslog = None
        config.errorlog = logging.getLogger("devcluster.gateway.server")
        config.graceful_timeout = 1
        self._task = asyncio.create_task(serve(self, config, shutdown_trigger=self._shutdown.wait, mode="asgi"))
        await asyncio.sleep(0)

    async def stop(self) -> None:
        self._shutdown.set()
        if self._task is not None:
            await self._task
        if self._feed is not None:
            self._feed.cancel()
            try:
                await self._feed
            except asyncio.CancelledError:
                pass

    async def _follow(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            event = await queue.get()
            if event is None:
                return
            if event.type == "DELETED":
                self._unindex(event.namespace, event.name)
            else:
                self._index(event.obj)

    # -- hosts ------------------------------------------------------------------------------

    def _unindex(self, namespace: str, name: str) -> None:
        for host in self._route_hosts.pop((namespace, name), []):
            if self._hosts.get(host, ("", "", ""))[:2] == (namespace, name):
                del self._hosts[host]
        for key in [k for k in self._decks if k[0] == namespace and k[1].split("/", 1)[0] == name]:
            del self._decks[key]

    def _index(self, route: dict[str, Any]) -> None:
        namespace, name = route["metadata"]["namespace"], route["metadata"]["name"]
        self._unindex(namespace, name)
        status = route.get("status") or {}
        hosts: dict[str, str] = {}
        for suffix in CLUSTER_SUFFIXES:
            hosts[f"{name}.{namespace}{suffix}"] = ""
        if status.get("url"):
            hosts[_host_of(status["url"])] = ""
        for target in status.get("traffic") or []:
            tag = target.get("tag")
            if tag:
                for suffix in CLUSTER_SUFFIXES:
                    hosts[f"{tag}-{name}.{namespace}{suffix}"] = tag
                if target.get("url"):
                    hosts[_host_of(target["url"])] = tag
        for host, tag in hosts.items():
            taken = self._hosts.get(host)
            # A route's own name outranks another route's tag host that happens to spell the same.
            if tag and taken is not None and not taken[2] and taken[:2] != (namespace, name):
                continue
            self._hosts[host] = (namespace, name, tag)
        self._route_hosts[(namespace, name)] = list(hosts)

    # -- requests ---------------------------------------------------------------------------

    def pick(self, host: str) -> tuple[int, str, str | None, str]:
        """(status, body, revision, target) for a request to `host`."""
        found = self._hosts.get(host.split(":", 1)[0].lower().rstrip("."))
        if found is None:
            return 404, f"no Knative route serves the host {host!r}\n", None, ""
        namespace, name, tag = found
        route = self.store.get(ROUTE.key, namespace, name)
        if route is None:
            return 404, f"no Knative route serves the host {host!r}\n", None, ""
        status = route.get("status") or {}
        traffic = [t for t in status.get("traffic") or [] if t.get("revisionName")]
        if tag:
            traffic = [dict(t, percent=100) for t in traffic if t.get("tag") == tag][:1]
        if not traffic:
            return 503, f'Route "{namespace}/{name}" has no ready revision: {_reason(route)}\n', None, ""
        key: Traffic = tuple((t["revisionName"], int(t.get("percent") or 0)) for t in traffic)
        cached = self._decks.get((namespace, f"{name}/{tag}"))
        if cached is None or cached[0] != key:
            cached = (key, Deck(key, self.rng))
            self._decks[(namespace, f"{name}/{tag}")] = cached
        revision_name = cached[1].draw()
        if revision_name is None:
            return 503, f'Route "{namespace}/{name}" sends no traffic to any revision (every percent is 0)\n', None, ""
        revision = self.store.get(REVISION.key, namespace, revision_name)
        if revision is None:
            return 503, f'Revision "{namespace}/{revision_name}" is gone\n', None, ""
        return 200, f"Hello {_target(revision)}!\n", revision_name, ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        while True:  # drain the request body
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        headers = dict(scope.get("headers") or [])
        host = (headers.get(b"host") or headers.get(b":authority") or b"").decode("latin-1")
        code, body, revision, _ = self.pick(host)
        response_headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if revision:
            response_headers.append((b"x-knative-revision", revision.encode()))
        log.debug("%s %s %s -> %d %s", scope.get("http_version"), host, scope.get("path"), code, revision or "-")
        await send({"type": "http.response.start", "status": code, "headers": response_headers})
        await send({"type": "http.response.body", "body": body.encode()})


def _host_of(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()


def _target(revision: dict[str, Any]) -> str:
    containers = (revision.get("spec") or {}).get("containers") or []
    serving = next((c for c in containers if isinstance(c, dict) and c.get("ports")), None)
    serving = serving or (containers[0] if containers and isinstance(containers[0], dict) else {})
    for env in serving.get("env") or []:
        if isinstance(env, dict) and env.get("name") == "TARGET" and isinstance(env.get("value"), str):
            return env["value"] or "World"
    return "World"


def _reason(route: dict[str, Any]) -> str:
    for condition in (route.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("message"):
            return str(condition["message"])
    return "its revisions are not Ready yet"
