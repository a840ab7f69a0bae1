"""Background tasks end when asked, even when the HTTP client took the cancellation for its own timeout.

A cancellation that arrives as a call's own timeout fires is turned into that timeout by the client (aiohttp on
Python 3.11, seen in CI: the console's shutdown waited past 300 s for a watch feed), and a loop that retries after
timeouts goes on as if it had never been cancelled. Every closer cancels again until its tasks have ended."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import Unreachable
from app.web.hub import WatchHub
from app.web.tasks import end

TRIES = 20  # the cancellation is lost in about half of them on the code before (54 of 100 measured)


@asynccontextmanager
async def silent_cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """A client of an API server that accepts connections and never answers, with a 0.1 s request timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: "
        f"http://127.0.0.1:{listener.getsockname()[1]}\ncontexts:\n- name: c\n  context:\n    cluster: c\n"
        "    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n")
    cluster = await Cluster.connect(str(kubeconfig), request_timeout=0.1)
    try:
        yield cluster
    finally:
        await cluster.close()
        listener.close()


async def _timed_out_list(cluster: Cluster) -> None:
    """A LIST sent with the feed's first one, so that it times out as that one does: what to close on."""
    try:
        await cluster.list(r.SERVICE, "default", limit=50)
    except Unreachable:
        return
    raise AssertionError("the silent server answered")


async def test_closing_the_hub_ends_a_feed_whose_cancellation_met_its_timeout(tmp_path: Path) -> None:
    for _ in range(TRIES):
        async with silent_cluster(tmp_path) as cluster:
            hub = WatchHub()
            follower = asyncio.ensure_future(_follow(hub, cluster))
            await _timed_out_list(cluster)
            await _ends(hub.close())
            assert _feeds() == []
            follower.cancel()


async def test_end_cancels_again_until_the_task_has_ended() -> None:
    lost: list[int] = []

    async def deaf(times: int) -> None:
        """Takes `times` cancellations for something else (as the client takes one for its timeout)."""
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if len(lost) >= times:
                    raise
                lost.append(1)

    task = asyncio.ensure_future(deaf(2))
    await asyncio.sleep(0)
    await asyncio.wait_for(end([task], every=0.05), 2)
    assert task.cancelled() and len(lost) == 2


async def _ends(closing: Coroutine[Any, Any, None]) -> None:
    """The closer ends within 3 s; waited for without cancelling it (which would cancel, again, what it waits for)."""
    task = asyncio.ensure_future(closing)
    done, _ = await asyncio.wait({task}, timeout=3)
    if not done:
        task.cancel()
        raise AssertionError("the close waited for a task that went on after it was cancelled")


async def _follow(hub: WatchHub, cluster: Cluster) -> None:
    async with hub.follow("me", cluster, "default", r.SERVICE, asyncio.Queue()):
        await asyncio.sleep(100)


def _feeds() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name().startswith("watch ")]
