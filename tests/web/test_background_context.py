"""Background tasks shared by pages (watch feeds, informers, live views) run outside the request that happened to
start them: what they log (a cluster outage, say) does not carry that request's id, path or user."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

from app import logs
from app.cluster import resources as r
from app.cluster.client import Cluster
from app.web.hub import WatchHub


class Fields(logging.Handler):
    """Each record's request fields, read as it is logged (in the context it is logged from)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict[str, object]]] = []
        self.outage = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), logs._fields(record)))
        if "cannot reach" in record.getMessage():
            self.outage.set()


async def test_a_watch_started_by_a_request_logs_outside_it(tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens: every call is refused
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n"
        "contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n"
        "  user: {}\n")
    cluster = await Cluster.connect(str(kubeconfig), request_timeout=0.5)
    fields = Fields()
    logger = logging.getLogger("knative_console.cluster")
    logger.addHandler(fields)
    hub = WatchHub(grace=0.1)
    try:
        async def page() -> None:  # a request's handler, which opens the watch
            token = logs.bind(request_id="req-1", path="/live/namespaces/default/services", user="alice")
            try:
                async with hub.follow("me", cluster, "default", r.SERVICE, asyncio.Queue()):
                    await asyncio.sleep(100)
            finally:
                logs.unbind(token)

        opened = asyncio.create_task(page())
        async with asyncio.timeout(10):
            await fields.outage.wait()
        opened.cancel()
        said = next(found for message, found in fields.seen if "cannot reach" in message)
        assert "request_id" not in said and "user" not in said, said
    finally:
        logger.removeHandler(fields)
        await hub.close()
        await cluster.close()
