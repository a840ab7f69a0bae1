"""Requests through the cluster's ingress gateway, as curl sends them: `GET /` with the Service's (or a tag's) host
in the Host header. For the traffic check; the gateway is the only thing here that is not the Kubernetes API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import suppress
from dataclasses import dataclass

import aiohttp

from app.cluster import errors

BODY_BYTES = 4096  # of each answer: enough to tell the revisions' answers apart
REVISION_HEADER = "X-Knative-Revision"
log = logging.getLogger("knative_console.cluster")


@dataclass(frozen=True)
class Reply:
    status: int  # 0: no answer
    revision: str = ""  # the X-Knative-Revision header
    body: str = ""
    error: str = ""  # why there was no answer


def _why(error: BaseException) -> str:
    """In a user's words (a check tallies them: "8 × connection refused …"); the library's own, to the log."""
    cause = errors.cause_of(error)
    log.info("no answer from the gateway (%s): %s", cause, errors.detail_of(error))
    return errors.BRIEFLY[cause]


async def replies(address: str, host: str, count: int, concurrency: int = 8,
                  request_timeout: float = 5.0) -> AsyncGenerator[Reply, None]:
    """`count` answers of the gateway at `address` (host:port) for `host`, as they come, `concurrency` at a time.
    Closing the iterator cancels the requests still out."""
    url = f"http://{address}/"
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    queue: asyncio.Queue[Reply] = asyncio.Queue()
    left = count

    async def one(session: aiohttp.ClientSession) -> Reply:
        try:
            async with session.get(url, headers={"Host": host}, allow_redirects=False) as response:
                body = await response.content.read(BODY_BYTES)
                return Reply(response.status, response.headers.get(REVISION_HEADER, ""),
                             body.decode("utf-8", errors="replace"))
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            return Reply(0, error=_why(error))

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            queue.put_nowait(await one(session))

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as session:
        workers = [asyncio.ensure_future(worker(session)) for _ in range(min(concurrency, count))]
        try:
            for _ in range(count):
                yield await queue.get()
        finally:
            for task in workers:
                task.cancel()
            for task in workers:
                with suppress(asyncio.CancelledError):
                    await task
