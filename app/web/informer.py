"""A namespace's objects of one kind, listed once and kept current from the watch hub, so that a page can read
them without listing them again: a Service with 300 revisions opens as quickly as one with 10, and the Service
list of a namespace with 5,000 Services is read without a LIST.

One Informer per (identity, namespace, kind), made with the identity's own client, so it holds only what that
identity may list. It is `fresh` while its watch is connected and nothing needs listing again; a reader that
finds it not fresh (or missing what it knows must be there, or behind a write it must show) lists as before. It
ends IDLE_SECONDS after its last reader, and its watch after that, so nothing is kept for namespaces nobody looks
at.

Like client-go's reflector it takes in only what is newer than what it has: the hub's watch may start before the
list, so the changes that arrive while listing include some the list already has, and are skipped by their
resourceVersion (app.cluster.versions). A resourceVersion it cannot compare makes it vouch for nothing.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

from app.cluster.client import Cluster
from app.cluster.errors import ClusterError
from app.cluster.resources import Resource
from app.cluster.versions import Version, comparable
from app.knative.changes import added_later
from app.web.hub import Change, Feed, Health, Message, Resync, WatchHub
from app.web.lookups import LIST_CHUNK
from app.web.tasks import detached, end, end_soon

log = logging.getLogger("knative_console.live")
IDLE_SECONDS = 60.0
_serials = itertools.count(1)  # each informer's own number: stamps of two informers never compare equal


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _version(obj: dict[str, Any]) -> Version | None:
    return comparable((obj.get("metadata") or {}).get("resourceVersion"))


def _slim(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without its managedFields (as client-go's informers are often told to drop them): they are much of
    an object's size, and pages need them only to tell a revision's template labels and annotations from those added
    later (`changes.added_later`), so an object that has such keeps them. A copy: the hub hands the same object to
    every follower."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta and not added_later(meta):
        return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


class Informer:
    def __init__(self, hub: WatchHub, identity: str, cluster: Cluster, namespace: str, resource: Resource,
                 label: str = "") -> None:
        self.hub, self.identity, self.cluster = hub, identity, cluster
        self.namespace, self.resource, self.label = namespace, resource, label
        self.objects: dict[str, dict[str, Any]] = {}  # name → object
        self.names: list[str] = []  # sorted: the order the API lists a namespace in
        self.by_label: dict[str, dict[str, dict[str, Any]]] = {}  # label value → name → object (when `label`)
        self.labels: dict[str, str] = {}  # name → its label value (when `label`)
        self.version: Version | None = None  # the newest resourceVersion taken in, by the list or a change
        # What `stamp` answers from: a count of the changes taken in, and when each label value's objects last changed.
        self.serial, self.lists, self.changes = next(_serials), 0, 0
        self.touched: dict[str, int] = {}  # label value → `changes` when one of its objects last came, changed or went
        self.fresh = False
        self.feed: Feed | None = None  # the watch that keeps it current (its problem: it vouches for nothing)
        self.unversioned = False  # a resourceVersion that cannot be compared came: vouch for nothing
        self.moved = asyncio.Event()  # set (and replaced) each time `version` or `fresh` changes
        self.used = asyncio.get_running_loop().time()
        self.task = detached(self.run(), f"informer {resource.plural} {namespace}")

    # -- reading -------------------------------------------------------------------------------

    @property
    def trusted(self) -> bool:
        # The feed's problem, not only the Health that tells `run` of it: from the moment the cluster refuses the
        # watch, whichever task reads first (a live page reading again, say) finds nothing here.
        return self.fresh and not self.unversioned and self.version is not None and \
            self.feed is not None and not self.feed.problem

    def labelled(self, value: str) -> list[dict[str, Any]] | None:
        """The objects whose label is `value`, or None when the cache cannot be trusted now (list instead)."""
        self.used = asyncio.get_running_loop().time()
        if not self.trusted:
            return None
        return list(self.by_label.get(value, {}).values())

    def stamp(self, value: str) -> tuple[int, int, int] | None:
        """What `labelled(value)` answers now, in three numbers: equal stamps, equal objects (this informer, the same
        list, no change to an object with that label since). None when the cache cannot be trusted now."""
        if not self.trusted:
            return None
        return self.serial, self.lists, self.touched.get(value, 0)

    def vouches(self, floor: Version | None = None, gone: Iterable[tuple[str, str]] = ()) -> bool:
        """Whether it may answer for the namespace now, for a reader who wrote there: it has taken in everything up to
        `floor` (the newest resourceVersion the reader's own writes answered with), and holds none of the objects the
        reader deleted (name, uid)."""
        self.used = asyncio.get_running_loop().time()
        if not self.trusted or (floor is not None and self.version is not None and self.version < floor):
            return False
        for name, uid in gone:
            held = self.objects.get(name)
            if held is not None and str((held.get("metadata") or {}).get("uid") or "") == uid:
                return False
        return True

    def window(self, start: int, count: int) -> list[dict[str, Any]]:
        """`count` objects from the `start`th, in the API's order (by name): check `vouches` first."""
        return [self.objects[name] for name in self.names[start:start + count]]

    def everything(self) -> list[dict[str, Any]]:
        """Every object, in the API's order: check `vouches` first."""
        return [self.objects[name] for name in self.names]

    async def reaches(self, version: Version | None, within: float) -> bool:
        """Wait (at most `within` seconds) until it is trusted and has taken in `version`; whether it has. A live page
        that saw a change on its own feed waits here for this informer to take in the same change."""
        deadline = asyncio.get_running_loop().time() + within
        while not self.vouches(version):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or self.task.done():
                return False
            with suppress(TimeoutError):
                await asyncio.wait_for(self.moved.wait(), left)
        return True

    # -- keeping it current --------------------------------------------------------------------

    def _moved(self) -> None:
        self.moved.set()
        self.moved = asyncio.Event()

    def _put(self, obj: dict[str, Any]) -> None:
        name = _name(obj)
        if name not in self.objects:
            bisect.insort(self.names, name)
        elif self.label:
            self._unlabel(name)
        obj = _slim(obj)
        self.objects[name] = obj
        if self.label:
            value = str(((obj.get("metadata") or {}).get("labels") or {}).get(self.label) or "")
            self.labels[name] = value
            self.by_label.setdefault(value, {})[name] = obj
            self._touch(value)

    def _drop(self, name: str) -> None:
        if self.objects.pop(name, None) is None:
            return
        del self.names[bisect.bisect_left(self.names, name)]
        if self.label:
            self._unlabel(name)

    def _touch(self, value: str) -> None:
        self.changes += 1
        self.touched[value] = self.changes

    def _unlabel(self, name: str) -> None:
        value = self.labels.pop(name, None)
        if value is not None:
            self._touch(value)
            group = self.by_label.get(value, {})
            group.pop(name, None)
            if not group:
                self.by_label.pop(value, None)

    async def _list(self) -> None:
        """Everything, read in pages of LIST_CHUNK (with the identity's newest client, `use`), as of the first
        page's resourceVersion: the pages that follow it continue the same list."""
        self.objects, self.names, self.by_label, self.labels = {}, [], {}, {}
        self.lists += 1  # a label value whose objects all went while the watch was down is stamped anew too
        version, first = None, True
        async for listed in self.cluster.pages(self.resource, self.namespace, limit=LIST_CHUNK):
            if first:
                version, first = comparable((listed.get("metadata") or {}).get("resourceVersion")), False
                self.unversioned = self.unversioned or version is None
            for obj in listed.get("items") or []:
                if isinstance(obj, dict):
                    self._put(obj)
        self.version = version

    async def run(self) -> None:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        async with self.hub.follow(self.identity, self.cluster, self.namespace, self.resource, inbox) as feed:
            self.feed = feed
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
                        # What changed while listing, taken in at once: readers see the list and every later change.
                        while not inbox.empty():
                            relist = self._apply(inbox.get_nowait()) or relist
                        self.fresh = not relist
                        self._moved()
                relist = self._apply(await inbox.get()) or relist
                if not inbox.qsize():
                    self._moved()

    def _apply(self, message: Message) -> bool:
        """Take one message in; True when the objects must be listed again."""
        if isinstance(message, Change):
            version = _version(message.obj)
            if version is None:
                self.unversioned = True
                return False
            if self.version is not None and version <= self.version:
                return False  # the list (or an earlier change) has this already
            self.version = version
            held = self.objects.get(message.name)
            known = _version(held) if held is not None else None
            if known is not None and version <= known:
                return False  # a later page of the list had a newer one
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

    def get(self, identity: str, cluster: Cluster, namespace: str, resource: Resource, label: str = "") -> Informer:
        key = (identity, namespace, resource)
        informer = self.informers.get(key)
        if informer is None or informer.task.done():
            informer = self.informers[key] = Informer(self.hub, identity, cluster, namespace, resource, label)
            if self.sweeper is None or self.sweeper.done():
                self.sweeper = detached(self._sweep(), "informer sweeper")
        informer.cluster = cluster
        return informer

    def running(self, identity: str, namespace: str, resource: Resource) -> Informer | None:
        informer = self.informers.get((identity, namespace, resource))
        return informer if informer is not None and not informer.task.done() else None

    def holding(self, resource: Resource) -> int:
        """How many objects of `resource` the informers hold together."""
        return sum(len(i.objects) for (_, _, kind), i in self.informers.items() if kind == resource)

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
                    end_soon(informer.task)

    async def close(self) -> None:
        informers, self.informers = list(self.informers.values()), {}
        sweeper = [self.sweeper] if self.sweeper is not None else []
        await end([*sweeper, *(informer.task for informer in informers)])
