"""The dev cluster's ingress gateways: route by Host header and split traffic by the Route's percentages.

Two ports, as Kourier has two listeners: the external gateway serves the routes' public hosts and answers a
cluster-local host (`*.svc.cluster.local`, `<route>.<namespace>`, and every host of a cluster-local route) with 404, as
Kourier's external listener does; the internal gateway (`kourier-internal`) serves both.

No containers run here: a revision answers like Knative's helloworld sample, `Hello <TARGET>!`,
with TARGET from that revision's own env, and names itself in `X-Knative-Revision`. HTTP/1.1
and HTTP/2 cleartext (prior knowledge or Upgrade: h2c) are both served, via hypercorn.

The split is random per request, drawn from a shuffled deck of 100 cards per traffic
configuration, so that every 100 requests follow the percentages exactly and a share never
drifts; a change of the Route's traffic starts a new deck at once.

It reads Routes, Revisions and Knative's config-domain from the store's change feed and never
writes. A Host that is neither a Knative host form nor the gateway's own address is refused with
400 before any route is looked at (a page on another site, resolved to loopback, gets nothing).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from typing import Any, cast

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from hypercorn.typing import ASGIFramework

from app.devcluster.apiserver.hosts import hostname
from app.devcluster.apiserver.store import Event, Reader
from app.devcluster.apiserver.tasks import cancel
from app.devcluster.crds.resources import REVISION, ROUTE
from app.devcluster.gateway.backends import Backends, Instant
from app.devcluster.gateway.deck import Deck, Traffic
from app.devcluster.gateway.hosts import HostIndex, knative_shaped

log = logging.getLogger("devcluster.gateway")
CONFIGMAPS = "/configmaps"
KEEP_ALIVE_TIMEOUT = 5.0  # hypercorn's default: also how long a request's headers may take


class Gateway:
    def __init__(
        self, store: Reader, own_hosts: frozenset[str] = frozenset(), header_timeout: float = KEEP_ALIVE_TIMEOUT,
        backends: Backends | None = None,
    ) -> None:
        self.store = store
        self.backends: Backends = backends or Instant()
        self.internal_ports: set[int] = set()  # the ports of the internal gateway's sockets
        self.own_hosts = own_hosts  # names the gateway itself is reached by (lower case, no port)
        self.header_timeout = header_timeout
        self.rng = random.Random()  # noqa: S311 - traffic splitting, not security
        self.hosts = HostIndex()
        self._decks: dict[tuple[str, str, str], tuple[Traffic, Deck]] = {}
        self._targets: dict[tuple[str, str], str] = {}  # revision -> its TARGET, read once (a spec never changes)
        self._domains: set[str] = set()
        self._shutdown = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._feed: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, sock: socket.socket, internal: socket.socket | None = None) -> None:
        for route in self.store.list(ROUTE.key):
            self.hosts.add(route)
        self._read_domains(self.store.get(CONFIGMAPS, "knative-serving", "config-domain"))
        subscription = self.store.subscribe([ROUTE.key, REVISION.key, CONFIGMAPS])
        self._feed = asyncio.create_task(self._follow(subscription.queue))
        config = HypercornConfig()
        config.bind = [f"fd://{sock.detach()}"]
        if internal is not None:
            self.internal_ports.add(internal.getsockname()[1])
            config.bind.append(f"fd://{internal.detach()}")
        config.accesslog = None
        config.errorlog = logging.getLogger("devcluster.gateway.server")
        config.graceful_timeout = 1
        # hypercorn's keep-alive timer runs until a request's headers are complete, so a slowloris is closed too.
        config.keep_alive_timeout = self.header_timeout
        app = cast(ASGIFramework, self)
        self._task = asyncio.create_task(serve(app, config, shutdown_trigger=self._shutdown.wait, mode="asgi"))
        await asyncio.sleep(0)

    async def stop(self) -> None:
        self._shutdown.set()
        if self._task is not None:
            await self._task
        await cancel(self._feed)

    async def _follow(self, queue: asyncio.Queue[Event | None]) -> None:
        while True:
            event = await queue.get()
            if event is None:
                return
            if event.resource == CONFIGMAPS:
                if (event.namespace, event.name) == ("knative-serving", "config-domain"):
                    self._read_domains(None if event.type == "DELETED" else event.obj)
            elif event.resource == REVISION.key:
                self._targets.pop((event.namespace, event.name), None)
            elif event.type == "DELETED":
                self.hosts.remove(event.namespace, event.name)
                self._drop_decks(event.namespace, event.name)
            else:
                self.hosts.add(event.obj)

    def _read_domains(self, config: dict[str, Any] | None) -> None:
        data = (config or {}).get("data") or {}
        self._domains = {domain.lower() for domain in data if isinstance(domain, str) and not domain.startswith("_")}

    def _drop_decks(self, namespace: str, route: str) -> None:
        for key in [k for k in self._decks if k[:2] == (namespace, route)]:
            del self._decks[key]

    # -- requests ---------------------------------------------------------------------------

    def pick(self, host: str, internal: bool = True) -> tuple[int, str, str | None, str]:
        """(status, body, revision, namespace) for a request to `host` on the internal gateway, or the external."""
        name = hostname(host)
        found = self.hosts.find(name) if name is not None else None
        if found is not None and not found.public and not internal:
            return 404, f"no Knative route serves the host {host!r} on the external gateway: it is cluster-local\n", \
                None, ""
        if found is None:
            if name is not None and (name in self.own_hosts or knative_shaped(name, self._domains) or not name):
                return 404, f"no Knative route serves the host {host!r}\n", None, ""
            return 400, (
                f"the gateway does not serve the host {host!r}: send a Knative route's host, such as "
                "<service>.<namespace>.<domain> or <service>.<namespace>.svc.cluster.local\n"
            ), None, ""
        route = self.store.get(ROUTE.key, found.namespace, found.route)
        if route is None:
            return 404, f"no Knative route serves the host {host!r}\n", None, ""
        traffic = [t for t in (route.get("status") or {}).get("traffic") or [] if t.get("revisionName")]
        if found.tag:
            traffic = [dict(t, percent=100) for t in traffic if t.get("tag") == found.tag][:1]
        where = f"{found.namespace}/{found.route}"
        if not traffic:
            return 503, f'Route "{where}" has no ready revision: {_reason(route)}\n', None, ""
        revision_name = self._draw(found.namespace, found.route, found.tag, traffic)
        if revision_name is None:
            return 503, f'Route "{where}" sends no traffic to any revision (every percent is 0)\n', None, ""
        target = self._target(found.namespace, revision_name)
        if target is None:
            return 503, f'Revision "{found.namespace}/{revision_name}" is gone\n', None, ""
        return 200, f"Hello {target}!\n", revision_name, found.namespace

    def _draw(self, namespace: str, route: str, tag: str, traffic: list[dict[str, Any]]) -> str | None:
        key: Traffic = tuple((t["revisionName"], int(t.get("percent") or 0)) for t in traffic)
        cached = self._decks.get((namespace, route, tag))
        if cached is None or cached[0] != key:
            cached = (key, Deck(key, self.rng))
            self._decks[(namespace, route, tag)] = cached
        return cached[1].draw()

    def _target(self, namespace: str, name: str) -> str | None:
        target = self._targets.get((namespace, name))
        if target is None:
            revision = self.store.get(REVISION.key, namespace, name)
            if revision is None:
                return None
            target = self._targets[(namespace, name)] = _target(revision)
        return target

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
        server = scope.get("server") or ("", 0)
        code, body, revision, where = self.pick(host, internal=server[1] in self.internal_ports)
        pod: str | None = None
        if revision:
            pod = await self.backends.acquire(where, revision)  # a cold start waits here, as the activator holds it
            if pod is None:
                code, body = 503, f'Revision "{where}/{revision}" did not start an instance in time\n'
        response_headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if revision:
            response_headers.append((b"x-knative-revision", revision.encode()))
        log.debug("%s %s %s -> %d %s", scope.get("http_version"), host, scope.get("path"), code, revision or "-")
        try:
            await send({"type": "http.response.start", "status": code, "headers": response_headers})
            await send({"type": "http.response.body", "body": body.encode()})
        finally:
            if revision and pod is not None:
                self.backends.release(where, revision, pod)


def _target(revision: dict[str, Any]) -> str:
    containers = (revision.get("spec") or {}).get("containers") or []
    serving = next((c for c in containers if isinstance(c, dict) and c.get("ports")), None)
    serving = serving or (containers[0] if containers and isinstance(containers[0], dict) else {})
    for env in serving.get("env") or []:
        if isinstance(env, dict) and env.get("name") == "TARGET" and isinstance(env.get("value"), str):
            return str(env["value"]) or "World"
    return "World"


def _reason(route: dict[str, Any]) -> str:
    for condition in (route.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("message"):
            return str(condition["message"])
    return "its revisions are not Ready yet"
