"""What the operator's log says while the API server cannot be reached: the outage once (with the client library's
own account of the first failure), a reminder every minute while it lasts with the count of failed calls, and once
when the server answers again; a user's Cluster shares its parent's outage. Against real sockets: a port where
nothing listens, then a server answering there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import Unreachable
from app.cluster.outage import OutageLog
from tests.cluster.test_unreachable import free_port, kubeconfig

LOGGER = "knative_console.cluster"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


def test_an_outage_is_said_once_reminded_every_minute_and_its_end_said_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    clock = Clock()
    outages = OutageLog(logging.getLogger(LOGGER), clock=clock)
    server = "https://api.example.com:6443"
    outages.answered(server)  # nothing was down: nothing to say
    for _ in range(12):  # a minute of watches retrying every 5 s, and pages asking
        outages.failed(server, "refused", "ClientConnectorError: Connect call failed")
        outages.failed(server, "refused", "ClientConnectorError: Connect call failed")
        clock.now += 4.9
    assert said(caplog) == [
        f"cannot reach the Kubernetes API server at {server} (refused): ClientConnectorError: Connect call failed. "
        "Calls are retried; this is said again every 1 min while it lasts, and once it answers again"]
    clock.now = 1060.0
    outages.failed(server, "timeout", "TimeoutError")
    outages.failed(server, "timeout", "TimeoutError")
    assert said(caplog)[1:] == [f"still cannot reach the Kubernetes API server at {server}, for 1 min now "
                                "(25 failed calls); the last: (timeout) TimeoutError"]
    clock.now = 1185.0
    outages.answered(server)
    outages.answered(server)
    assert said(caplog)[2:] == [f"the Kubernetes API server at {server} answers again, after 3 min 5 s unreachable "
                                "(26 failed calls)"]
    assert all(record.levelno == logging.WARNING for record in caplog.records)
    outages.failed(server, "cut-off", "ClientPayloadError")  # a new outage: said again at once
    assert said(caplog)[3].startswith(f"cannot reach the Kubernetes API server at {server} (cut-off): "
                                      "ClientPayloadError. ")


@asynccontextmanager
async def answering_lists(port: int) -> AsyncIterator[None]:
    """An API server, as far as a LIST of ConfigMaps goes, on `port`."""
    body = b'{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}'

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def test_the_client_says_an_outage_once_for_all_its_users_and_when_it_ends(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    client = await Cluster.connect(str(kubeconfig(tmp_path / "kubeconfig", server)), request_timeout=2)
    clock = Clock()
    client.outages.clock = clock
    alice = client.as_user("alice-token", "alice")
    try:
        for who in (client, alice) * 10:
            with pytest.raises(Unreachable):
                await who.list(r.CONFIGMAP, "default")
            with pytest.raises(Unreachable):
                async with who.watch(r.CONFIGMAP, "default"):
                    pass
        lines = said(caplog)
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"cannot reach the Kubernetes API server at {server} (refused): ")
        clock.now += 61
        with pytest.raises(Unreachable):
            await alice.list(r.CONFIGMAP, "default")
        assert said(caplog)[1].startswith(f"still cannot reach the Kubernetes API server at {server}, for 1 min 1 s "
                                          "now (41 failed calls); the last: (refused) ")
        async with answering_lists(port):
            await alice.list(r.CONFIGMAP, "default")
            await client.list(r.CONFIGMAP, "default")
        assert said(caplog)[2:] == [f"the Kubernetes API server at {server} answers again, after 1 min 1 s "
                                    "unreachable (41 failed calls)"]
    finally:
        await client.close()
