"""Keep-alive HTTP clients for benchmarks: the Kubernetes API, a watch on one object, load on a gateway."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

JSON = "application/json"
MERGE = "application/merge-patch+json"
WAIT_SECONDS = 30


class Api:
    """A Kubernetes API over one keep-alive session, as the dev cluster's admin (its token, its CA); every request
    must succeed."""

    def __init__(self, session: aiohttp.ClientSession, cluster: Any) -> None:
        self.session, self.url = session, cluster.api_url
        self.auth, self.tls = cluster.auth, cluster.tls()

    def acting_as(self, token: str) -> Api:
        """The same API, as the user of another bearer token."""
        other = copy.copy(self)
        other.auth = {"Authorization": f"Bearer {token}"}
        return other

    async def timed(self, method: str, path: str, body: Any = None, content_type: str = JSON) -> tuple[float, bytes]:
        """(seconds from sending to the last byte of the answer, the answer)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": JSON, **self.auth, **({"Content-Type": content_type} if data is not None else {})}
        start = time.perf_counter()
        async with self.session.request(method, self.url + path, data=data, headers=headers,
                                        ssl=self.tls) as response:
            payload = await response.read()
        elapsed = time.perf_counter() - start
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} answered {response.status}: {payload[:500]!r}")
        return elapsed, payload

    async def call(self, method: str, path: str, body: Any = None, content_type: str = JSON) -> dict[str, Any]:
        return json.loads((await self.timed(method, path, body, content_type))[1])

    async def settle(self, within: float = WAIT_SECONDS) -> None:
        """Wait until controllers stop writing: the cluster-wide resourceVersion holds for a moment. `within`: how
        long they may keep writing (longer after thousands of Services, whose revisions scale to zero for minutes)."""
        last = ""
        try:
            async with asyncio.timeout(within):
                while True:
                    listing = await self.call("GET", "/api/v1/namespaces/default/configmaps?limit=1")
                    if listing["metadata"]["resourceVersion"] == last:
                        return
                    last = listing["metadata"]["resourceVersion"]
                    await asyncio.sleep(0.3)
        except TimeoutError:
            raise RuntimeError(f"the cluster kept writing for {within:.0f} s") from None

    async def poll(self, path: str, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """GET `path` until the object satisfies `predicate`."""
        obj: dict[str, Any] = {}
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while True:
                    obj = await self.call("GET", path)
                    if predicate(obj):
                        return obj
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise RuntimeError(f"{path} did not show {what} in {WAIT_SECONDS} s: {obj.get('status')}") from None


class ObjectWatch:
    """A watch on one named object of a collection, noting when each event arrived."""

    def __init__(self, api: Api, collection: str, name: str, resource_version: str) -> None:
        self.api = api
        self.url = api.url + collection
        self.params = {"watch": "true", "fieldSelector": f"metadata.name={name}", "resourceVersion": resource_version}
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self._changed = asyncio.Event()
        self._response: aiohttp.ClientResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ObjectWatch:
        self._response = await self.api.session.get(
            self.url, params=self.params, timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
            headers=self.api.auth, ssl=self.api.tls,
        )
        self._response.raise_for_status()
        self._reader = asyncio.create_task(self._read(self._response))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._response is not None:
            self._response.close()

    async def _read(self, response: aiohttp.ClientResponse) -> None:
        async for line in response.content:
            if line.strip():
                event = json.loads(line)
                self.events.append((time.perf_counter(), event["type"], event["object"]))
                self._changed.set()

    def mark(self) -> int:
        """A position in the events: pass it to `arrival` to look only at later ones."""
        return len(self.events)

    async def arrival(self, since: int, match: Callable[[str, dict[str, Any]], bool]) -> float:
        """The perf_counter time at which the first event after `since` that `match`es arrived."""
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while True:
                    for arrived, kind, obj in self.events[since:]:
                        if match(kind, obj):
                            return arrived
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise RuntimeError(f"no matching watch event in {WAIT_SECONDS} s") from None


@dataclass
class Load:
    """What concurrent keep-alive clients saw sending GET / to a gateway."""

    seconds: float = 0.0
    client_cpu: float = 0.0  # CPU seconds this process used meanwhile
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    revisions: Counter[str] = field(default_factory=Counter)  # by X-Knative-Revision

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def failures(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != 200)


async def send_load(url: str, host: str, clients: int, seconds: float = 0.0, requests: int = 0) -> Load:
    """`clients` keep-alive clients sending GET / with this Host for `seconds`, or `requests` in all."""
    load = Load()
    remaining = requests
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:

        async def client(deadline: float) -> None:
            nonlocal remaining
            while (remaining > 0) if requests else (time.perf_counter() < deadline):
                remaining -= 1
                start = time.perf_counter()
                async with session.get(url, headers={"Host": host}) as response:
                    await response.read()
                load.latencies.append(time.perf_counter() - start)
                load.statuses[response.status] += 1
                load.revisions[response.headers.get("X-Knative-Revision", "-")] += 1

        cpu, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(client(start + seconds) for _ in range(clients)))
        load.seconds, load.client_cpu = time.perf_counter() - start, time.process_time() - cpu
    return load
