"""A namespace's objects of one kind, listed once and kept current from the watch hub, so that a page can read
them without listing them again: a Service with 300 revisions opens as quickly as one with 10.

One Informer per (identity, namespace, kind), made with the identity's own client, so it holds only what that
identity may list. It is `fresh` while its watch is connected and nothing needs listing again; a reader that
finds it not fresh (or missing what it knows must be there) lists as before. It ends IDLE_SECONDS after its
last reader, and its watch after that, so nothing is kept for namespaces nobody looks at.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from app.cluster.client import Cluster
from app.cluster.errors import ClusterError
from app.cluster.resources import Resource
from app.web.hub import Change, Health, Message, Resync, WatchHub

log = logging.getLogger("knative_console.live")
IDLE_SECONDS = 60.0


class Informer:
    def __init__(self, hub: WatchHub, identity: str, cluster: Cluster, namespace: str, resource: Resource,
                 label: str) -> None:
        self.hub, self.identity, self.cluster = hub, identity, cluster
        self.namespace, self.resource, self.label = namespace, resource, label
        self.by_label: dict[str, dict[str, dict[str, Any]]] = {}  # label value → name → object
        self.labels: dict[str, str] = {}  # name → its label value
        self.fresh = False
        self.used = asyncio.get_running_loop().time()
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"informer {resource.plural} {namespace}")

    def labelled(self, value: str) -> list[dict[str, Any]] | None:
        """The objects whose label is `value`, or None when the cache cannot be trusted now (list instead)."""
        self.used = asyncio.get_running_loop().time()
        if not self.fresh:
            return None
        return list(self.by_label.get(value, {}).values())

    def _put(self, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        self._drop(name)
        value = str((meta.get("labels") or {}).get(self.label) or "")
        self.labels[name] = value
        self.by_label.setdefault(value, {})[name] = obj

    def _drop(self, name: str) -> None:
        value = self.labels.pop(name, None)
        if value is not None:
            group = self.by_label.get(value, {})
            group.pop(name, None)
            if not group:
                self.by_label.pop(value, None)

    async def _list(self) -> None:
        listed = await self.cluster.list(self.resource, self.namespace)  # the identity's newest client (`use`)
        self.by_label, self.labels = {}, {}
        for obj in listed.get("items") or []:
            self._put(obj)

    async def run(self) -> None:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        async with self.hub.follow(self.identity, self.cluster, self.namespace, self.resource, inbox) as feed:
            relist = True
            while True:
                if relist and not feed.problem:
                    try:
                        await self._list()
                        relist = False
                    except ClusterError as error:
                        log.info("informer of %s in %s could not list: %s", self.resource.plural, self.namespace,
                                 error.message)
                    else:
                        # What changed while listing, applied at once: readers see the list and every later change.
                        while not inbox.empty():
                            relist = self._apply(inbox.get_nowait()) or relist
                        self.fresh = not relist
                relist = self._apply(await inbox.get()) or relist

    def _apply(self, message: Message) -> bool:
        """Take one message in; True when the objects must be listed again."""
        if isinstance(message, Change):
            if message.type == "DELETED":
                self._drop(message.name)
            else:
                self._put(message.obj)
            return False
        if isinstance(message, Resync) or (isinstance(message, Health) and message.problem):
            # Changes were (or may be being) missed: list again once the watch is back.
            self.fresh = False
            return True
        return False


class Informers:
    """Every Informer of one app, each ended once idle."""

    def __init__(self, hub: WatchHub, idle: float = IDLE_SECONDS) -> None:
        self.hub, self.idle = hub, idle
        self.informers: dict[tuple[str, str, Resource], Informer] = {}
        self.sweeper: asyncio.Task[None] | None = None

    def get(self, identity: str, cluster: Cluster, namespace: str, resource: Resource, label: str) -> Informer:
        key = (identity, namespace, resource)
        informer = self.informers.get(key)
        if informer is None or informer.task.done():
            informer = self.informers[key] = Informer(self.hub, identity, cluster, namespace, resource, label)
            if self.sweeper is None or self.sweeper.done():
                self.sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="informer sweeper")
        informer.cluster = cluster
        return informer

    def use(self, identity: str, cluster: Cluster) -> None:
        """Every informer of this identity lists with this client from now on."""
        for key, informer in self.informers.items():
            if key[0] == identity:
                informer.cluster = cluster

    async def _sweep(self) -> None:
        while self.informers:
            await asyncio.sleep(min(self.idle, 5.0))
            now = asyncio.get_running_loop().time()
            for key, informer in list(self.informers.items()):
                if now - informer.used > self.idle:
                    del self.informers[key]
                    informer.task.cancel()

    async def close(self) -> None:
        informers, self.informers = list(self.informers.values()), {}
        if self.sweeper is not None:
            self.sweeper.cancel()
        for informer in informers:
            informer.task.cancel()
        for informer in informers:
            with suppress(asyncio.CancelledError):
                await informer.task
