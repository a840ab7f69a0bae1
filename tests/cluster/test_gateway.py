"""Requests through the gateway (app.cluster.gateway) and the client's field selectors, against the dev cluster over
HTTP."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.gateway import replies
from tests.support import DevClusterProcess, ksvc_manifest


@pytest.fixture
async def cluster(devcluster: DevClusterProcess) -> AsyncIterator[Cluster]:
    connected = await Cluster.connect(str(devcluster.kubeconfig), request_timeout=5)
    yield connected
    await connected.close()


async def _ready(cluster: Cluster, ns: str, name: str) -> dict:
    for _ in range(300):
        obj = await cluster.get(r.SERVICE, name, ns)
        if any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or []):
            return obj
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} did not become Ready")


async def test_replies_name_their_revision_and_follow_the_split(cluster: Cluster, devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("gw")
    await cluster.create(r.SERVICE, ksvc_manifest("probe", ns, env={"TARGET": "Probe"}), ns)
    obj = await _ready(cluster, ns, "probe")
    host = obj["status"]["url"].split("://")[1]
    address = devcluster.gateway_url.removeprefix("http://")
    got = [reply async for reply in replies(address, host, 30, concurrency=4)]
    assert len(got) == 30 and {(g.status, g.revision, g.body) for g in got} == {(200, "probe-00001", "Hello Probe!\n")}
    unknown = [reply async for reply in replies(address, "nobody.example.com", 2)]
    assert {(g.status, g.revision) for g in unknown} == {(404, "")} and "no Knative route" in unknown[0].body


async def test_a_gateway_that_does_not_answer_and_closing_early() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    refused = [reply async for reply in replies(f"127.0.0.1:{port}", "x.example.com", 3, request_timeout=2)]
    assert [(g.status, g.error) for g in refused] == [(0, "connection refused (nothing listens at that address)")] * 3

    opened, closed = asyncio.Event(), asyncio.Event()
    connections = 0

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 4:
            opened.set()
        while await reader.read(1024):  # reads the request, answers nothing, until the client hangs up
            pass
        connections -= 1
        if not connections:
            closed.set()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    silent = server.sockets[0].getsockname()[1]
    try:
        stream = replies(f"127.0.0.1:{silent}", "x.example.com", 100, concurrency=4, request_timeout=30)
        waiting = asyncio.ensure_future(stream.__anext__())
        await asyncio.wait_for(opened.wait(), 10)  # four requests out, none answered
        waiting.cancel()  # as when the browser closes the check's stream
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.wait_for(closed.wait(), 10)  # every request was cancelled: none waits for its 30 s
    finally:
        server.close()
        await server.wait_closed()


async def test_field_selectors(cluster: Cluster, devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("who")
    name = f"ev-{uuid.uuid4().hex[:6]}"
    for involved in (name, "other"):
        await cluster.create(r.EVENT, {"apiVersion": "v1", "kind": "Event",
                                       "metadata": {"name": f"{involved}.{uuid.uuid4().hex[:8]}", "namespace": ns},
                                       "involvedObject": {"kind": "Service", "name": involved, "namespace": ns},
                                       "reason": "Test", "message": "m", "type": "Normal"}, ns)
    listed = await cluster.list(r.EVENT, ns, field_selector=f"involvedObject.name={name}")
    assert Counter(e["involvedObject"]["name"] for e in listed["items"]) == {name: 1}
