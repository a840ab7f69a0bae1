"""Starting the console's background tasks (watch feeds, informers, live pages) outside the request that happens to
need them first, and ending them for certain.

A cancellation that arrives just as an HTTP call's own timeout fires is taken by the client for that timeout (seen
with aiohttp 3.14 on Python 3.11: the task gets the client's timeout error, not CancelledError), and a loop that
retries after timeouts goes on as if it had never been cancelled. Cancelled once, such a task kept running, and a
shutdown that waited for it waited for ever (a CI run of the suite waited past 300 s). `end` cancels again until
every task has ended; `end_soon` does it in the background for a task let go of from a callback.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

log = logging.getLogger("knative_console.live")
AGAIN_SECONDS = 0.5  # between cancellations of a task that has not ended
_ending: set[asyncio.Task[None]] = set()  # the tasks of end_soon, kept from the garbage collector until done


def detached(work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """A task shared by pages, run in a context of its own: not the request's that started it, whose id, path and
    user would otherwise be on every line it logs for as long as it runs (a cluster outage seen by a watch)."""
    return asyncio.get_running_loop().create_task(work, name=name, context=contextvars.Context())


async def end(tasks: Iterable[asyncio.Task[Any]], every: float = AGAIN_SECONDS) -> None:
    """Cancel each task, and again every `every` seconds while it has not ended; an error it ended with is logged."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s ended with an error", task.get_name(), exc_info=task.exception())


def end_soon(task: asyncio.Task[Any]) -> None:
    """`end` for one task, from code that cannot wait for it (a timer's callback)."""
    if task.done():
        return
    ending = asyncio.get_running_loop().create_task(end([task]), name=f"ending {task.get_name()}")
    _ending.add(ending)
    ending.add_done_callback(_ending.discard)
