"""Deletes what has outlived its time to live (Events, after kube-apiserver's `--event-ttl`), a batch at a time."""

from __future__ import annotations

import asyncio
import logging

from app.devcluster.apiserver.store import Store
from app.devcluster.apiserver.tasks import cancel

log = logging.getLogger("devcluster.expiry")
BATCH = 100
IDLE_CHECK = 1.0  # seconds between looks when nothing is due


class Expiry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.store.ttls:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancel(self._task)

    async def _run(self) -> None:
        while True:
            try:
                deleted = self.store.expire(self.store.clock(), BATCH)
            except Exception:
                log.exception("deleting expired objects failed")
                deleted = 0
            if deleted == BATCH:
                await asyncio.sleep(0)  # more are due: after the others have had their turn
                continue
            due = self.store.next_expiry()
            wait = IDLE_CHECK if due is None else min(max(due - self.store.clock(), 0.01), IDLE_CHECK)
            await asyncio.sleep(wait)
