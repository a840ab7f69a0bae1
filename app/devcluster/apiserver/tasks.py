"""Background tasks the server's parts run beside it."""

from __future__ import annotations

import asyncio
import contextlib


async def cancel(*tasks: asyncio.Task[None] | None) -> None:
    """Cancel the tasks and wait until each has stopped."""
    for task in tasks:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
