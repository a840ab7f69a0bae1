"""Kubernetes watches shared by the pages that follow them: one per (identity, namespace, resource kind).

A Feed is one watch, made with the identity's own client, and the queues of everyone who follows it. It
starts with the first follower at the collection's current resourceVersion, resumes from the last version it
saw after a dropped connection or the server's timeout, lists again after 410 (and tells followers to read
again), and ends a short grace period after the last follower leaves. Each identity (a user and their groups,
app.web.auth) brings a client with their own token, so what a feed carries is what that user's RBAC lets them
watch, and no other identity's followers ever see it. A follower with a newer client of the same identity (a
refreshed token) hands it to the feed, which connects with it from then on.

Kubernetes authorizes a watch when it starts and not while it runs, so a watch open when a user's rights are taken
away would go on carrying changes. Each watch therefore lasts WATCH_SECONDS (the server's `timeoutSeconds`) and
starts again from the last version it saw: a user who may no longer watch gets the cluster's 403 at that start
(Health.refused), their pages read again and drop what they showed when that is refused too (app.web.live), and the
caches fed by the watch stop answering for them. When the cluster lets one of a user's refused watches start again,
their other refused watches start again then too, instead of when each one's backoff is up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from app.cluster.client import Cluster
from app.cluster.errors import ClusterError, Expired, Forbidden, Unauthorized, Unreachable
from app.cluster.resources import Resource
from app.web.permissions import forbidden_text
from app.web.tasks import detached, end, end_soon

log = logging.getLogger("knative_console.live")
GRACE_SECONDS = 5.0  # a page reloaded or a tab moved to another page keeps the watch
BACKOFF = (0.25, 5.0)  # first and longest wait before connecting again
WATCH_SECONDS = 30  # each watch is authorized anew this often (app.web.permissions keeps its answers as long)


@dataclass(frozen=True)
class Change:
    """An object added, modified or deleted."""

    resource: Resource
    type: str
    obj: dict[str, Any]

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")

    @property
    def labels(self) -> dict[str, str]:
        return (self.obj.get("metadata") or {}).get("labels") or {}


@dataclass(frozen=True)
class Resync:
    """Changes may have been missed (410 after a long disconnection): read again what is shown."""

    resource: Resource


@dataclass(frozen=True)
class Health:
    """The watch is connected (`problem` "") or cannot be, and why; `refused` when the cluster refused the identity
    (403, 401): its rights were taken away, so what was read with them is no longer theirs to see."""

    resource: Resource
    problem: str
    refused: bool = False


Message = Change | Resync | Health
Key = tuple[str, str, Resource]  # identity, namespace, resource


def refused_text(error: ClusterError, resource: Resource) -> str:
    """Why the cluster will not send a watch's changes, and what that means for a page that follows it."""
    plainly = forbidden_text(error) if isinstance(error, Forbidden) else error.message
    if plainly != error.message:  # RBAC's refusal, in the words the pages use for it
        return f"{plainly.rstrip('.')}. Until then this page does not show their changes by itself: reload it to see " \
               "them."
    if isinstance(error, Unauthorized):
        return "The cluster no longer accepts the credentials this page follows it with (they expired or were " \
               "revoked), so it does not update by itself: reload it, and sign in again if asked."
    return f"The cluster refused to send live updates for {resource.plural}: {error.message}"


@dataclass(eq=False)
class Feed:
    key: Key
    cluster: Cluster
    followers: set[asyncio.Queue[Message]] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    stopping: asyncio.TimerHandle | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)  # the first version is known (or failed)
    problem: str = ""  # why it is not connected, "" when it is
    refused: bool = False  # the cluster refused the identity (Health.refused)
    resource_version: str = ""
    watch_seconds: int = WATCH_SECONDS
    backoff: tuple[float, float] = BACKOFF
    retry: asyncio.Event = field(default_factory=asyncio.Event)  # connect again now, without waiting out the backoff
    # called when the cluster lets the identity watch again after refusing it (the hub wakes its other feeds)
    allowed_again: Callable[[Feed], None] | None = None
    attempts: int = 0  # connections begun
    settled: int = 0  # the last of them whose outcome is reported
    tried: asyncio.Event = field(default_factory=asyncio.Event)  # set (and replaced) when an outcome is reported

    @property
    def namespace(self) -> str:
        return self.key[1]

    @property
    def resource(self) -> Resource:
        return self.key[2]

    def send(self, message: Message) -> None:
        for queue in self.followers:
            queue.put_nowait(message)

    def report(self, problem: str, refused: bool = False) -> None:
        self.settled = self.attempts
        tried, self.tried = self.tried, asyncio.Event()
        tried.set()
        if (problem, refused) != (self.problem, self.refused):
            was_refused = self.refused
            self.problem, self.refused = problem, refused
            self.send(Health(self.resource, problem, refused))
            if was_refused and not problem and self.allowed_again is not None:
                self.allowed_again(self)

    async def wait(self, delay: float) -> None:
        """`delay` seconds, or less if asked to connect again (`retry`)."""
        self.retry.clear()
        with suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self.retry.wait()

    async def try_again(self, within: float) -> None:
        """Connect again now, without waiting out the backoff, and return once a connection begun after this call has
        an outcome (`problem`, `refused`), or after `within` seconds."""
        begun = self.attempts
        with suppress(TimeoutError):
            async with asyncio.timeout(within):
                while self.settled <= begun:  # one begun before this call may have had the old rights
                    tried = self.tried
                    self.retry.set()
                    await tried.wait()

    async def current_version(self) -> str:
        listed = await self.cluster.list(self.resource, self.namespace, limit=1)
        return str((listed.get("metadata") or {}).get("resourceVersion") or "")

    async def run(self) -> None:
        delay = self.backoff[0]
        resync = False
        while True:
            self.attempts += 1
            try:
                if not self.resource_version:
                    self.resource_version = await self.current_version()
                    self.started.set()
                    if resync:  # only now: whatever a follower reads again is at least this new
                        self.send(Resync(self.resource))
                        resync = False
                async with self.cluster.watch(self.resource, self.namespace, self.resource_version,
                                              timeout_seconds=self.watch_seconds) as events:
                    self.report("")
                    delay = self.backoff[0]
                    async for kind, obj in events:
                        version = (obj.get("metadata") or {}).get("resourceVersion")
                        if version:
                            self.resource_version = str(version)
                        if kind in ("ADDED", "MODIFIED", "DELETED"):
                            self.send(Change(self.resource, kind, obj))
                continue  # the server's timeout: resume from the last version, authorized anew
            except Expired:
                log.info("watch of %s in %s expired at %s: listing again", self.resource.plural, self.namespace,
                         self.resource_version)
                self.resource_version, resync = "", True
                continue
            except Unreachable as error:
                self.report(f"{error.message}. Live updates resume when it answers again.")
            except ClusterError as error:
                self.report(refused_text(error, self.resource), refused=isinstance(error, Forbidden | Unauthorized))
            except (ValueError, TypeError, KeyError, AttributeError):  # an answer not shaped like Kubernetes'
                log.exception("watch of %s in %s failed", self.resource.plural, self.namespace)
                self.report(f"Live updates for {self.resource.plural} stopped on an answer the console could not "
                            "read; they are retried.")
            self.started.set()
            await self.wait(delay)
            delay = min(delay * 2, self.backoff[1])


class WatchHub:
    """Every open Feed, keyed by (identity, namespace, resource)."""

    def __init__(self, grace: float = GRACE_SECONDS, watch_seconds: int = WATCH_SECONDS,
                 backoff: tuple[float, float] = BACKOFF) -> None:
        self.grace, self.watch_seconds, self.backoff = grace, watch_seconds, backoff
        self.feeds: dict[Key, Feed] = {}

    @asynccontextmanager
    async def follow(self, identity: str, cluster: Cluster, namespace: str, resource: Resource,
                     queue: asyncio.Queue[Message]) -> AsyncIterator[Feed]:
        """Messages about `resource` in `namespace` go to `queue` while inside; entered once the feed knows the
        version it started from, so that anything read afterwards is at least as new as where it starts."""
        key = (identity, namespace, resource)
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = Feed(key, cluster, watch_seconds=self.watch_seconds, backoff=self.backoff,
                                          allowed_again=self._allowed_again)
            feed.task = detached(feed.run(), f"watch {resource.plural} {namespace}")
        feed.cluster = cluster  # the newest follower's client: the same identity, its latest credentials
        if feed.stopping is not None:
            feed.stopping.cancel()
            feed.stopping = None
        feed.followers.add(queue)
        try:
            await feed.started.wait()
            if feed.problem:
                queue.put_nowait(Health(resource, feed.problem, feed.refused))
            yield feed
        finally:
            feed.followers.discard(queue)
            if not feed.followers:
                feed.stopping = asyncio.get_running_loop().call_later(self.grace, self._stop, feed)

    def use(self, identity: str, cluster: Cluster) -> None:
        """Every feed of this identity connects with this client from now on."""
        for feed in self.feeds.values():
            if feed.key[0] == identity:
                feed.cluster = cluster

    def _allowed_again(self, feed: Feed) -> None:
        """The cluster let this identity watch again after refusing it: its rights are back, so its other refused
        feeds connect now instead of when their backoff is up (up to BACKOFF[1] s), which would leave a page that
        has filled again saying, meanwhile, that the user may not read it."""
        for other in self.feeds.values():
            if other is not feed and other.key[0] == feed.key[0] and other.refused:
                other.retry.set()

    def _stop(self, feed: Feed) -> None:
        if feed.followers or self.feeds.get(feed.key) is not feed:
            return
        del self.feeds[feed.key]
        if feed.task is not None:
            end_soon(feed.task)

    async def close(self) -> None:
        feeds, self.feeds = list(self.feeds.values()), {}
        for feed in feeds:
            if feed.stopping is not None:
                feed.stopping.cancel()
        await end(feed.task for feed in feeds if feed.task is not None)
