"""Knative Serving's controllers in the dev cluster, driven by the store's change feed.

Each change becomes keys to reconcile (the object, its owner, what routes to it); keys are
de-duplicated and reconciled in order. Reconcilers are plain functions over the current
state that write only what differs, so a reconcile that changes nothing writes nothing and
the loop settles.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.devcluster.errors import ApiError
from app.devcluster.resources import CONFIGMAP, CONFIGURATION, EVENT, REVISION, ROUTE, SERVICE, ResourceDef
from app.devcluster.rest import Rest
from app.devcluster.store import Event

log = logging.getLogger("devcluster.controller")
MANAGER = "controller"
LABEL_SERVICE = "serving.knative.dev/service"
LABEL_CONFIGURATION = "serving.knative.dev/configuration"
Key = tuple[str, str, str]  # (resource key, namespace, name)


@dataclass
class Context:
    """What reconcilers may use: the store, writes, events, timers and the clock."""

    rest: Rest
    start_delay: float
    schedule: Callable[[Key, float], None]
    # When each revision (by uid) was first seen, in loop time: readiness follows the start-up delay.
    first_seen: dict[str, float] = field(default_factory=dict)

    def clock(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def store(self):  # noqa: ANN201 - the Store
        return self.rest.store

    def now(self) -> str:
        return self.rest.now()

    def get(self, resource: ResourceDef, namespace: str, name: str) -> dict[str, Any] | None:
        return self.rest.store.get(resource.key, namespace, name)

    def list(self, resource: ResourceDef, namespace: str) -> list[dict[str, Any]]:
        return self.rest.store.list(resource.key, namespace)

    def write(
        self, resource: ResourceDef, new: dict[str, Any], old: dict[str, Any] | None, subresource: str = ""
    ) -> dict[str, Any] | None:
        try:
            return self.rest.system_write(resource, new, old, MANAGER, subresource)
        except ApiError as error:
            # A concurrent user write won the race, or the namespace is going away: the
            # change feed brings the object back for another pass.
            log.info("%s %s/%s: %s", resource.kind, new["metadata"].get("namespace"), new["metadata"].get("name"),
                     error.message)
            return None

    def write_status(self, resource: ResourceDef, obj: dict[str, Any], status: dict[str, Any]) -> None:
        if obj.get("status") == status:
            return
        new = copy.deepcopy(obj)
        new["status"] = status
        self.write(resource, new, obj, "status")

    def record(self, involved: dict[str, Any], reason: str, message: str, kind: str = "Normal") -> None:
        """A core v1 Event about `involved`, as Knative's controllers record them."""
        metadata = involved["metadata"]
        stamp = self.now()
        component = f"{str(involved.get('kind', '')).lower()}-controller"  # as Knative names its controllers
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{metadata['name']}.{secrets.token_hex(8)}", "namespace": metadata["namespace"]},
            "involvedObject": {
                "kind": involved["kind"], "namespace": metadata["namespace"], "name": metadata["name"],
                "uid": metadata.get("uid", ""), "apiVersion": involved["apiVersion"],
                "resourceVersion": metadata.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": kind,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        try:
            self.rest.system_write(EVENT, event, None, MANAGER)
        except ApiError as error:
            log.info("could not record event %s: %s", message, error.message)


def controller_reference(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controlled_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    return any(
        isinstance(r, dict) and r.get("controller") and r.get("uid") == owner["metadata"]["uid"]
        for r in obj["metadata"].get("ownerReferences") or []
    )


class KnativeController:
    """Runs the Service, Configuration, Revision and Route reconcilers."""

    def __init__(self, rest: Rest, start_delay: float = 1.0) -> None:
        from app.devcluster import reconcile_configuration, reconcile_revision, reconcile_route, reconcile_service

        self.rest = rest
        self.context = Context(rest, start_delay, self.schedule)
        self.reconcilers: dict[str, Callable[[Context, str, str], None]] = {
            SERVICE.key: reconcile_service.reconcile,
            CONFIGURATION.key: reconcile_configuration.reconcile,
            REVISION.key: reconcile_revision.reconcile,
            ROUTE.key: reconcile_route.reconcile,
        }
        self._pending: dict[Key, None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._feed: asyncio.Task[None] | None = None
        self._timers: list[asyncio.TimerHandle] = []

    def start(self) -> None:
        subscription = self.rest.store.subscribe(
            [SERVICE.key, CONFIGURATION.key, REVISION.key, ROUTE.key, CONFIGMAP.key]
        )
        for resource in (SERVICE, CONFIGURATION, REVISION, ROUTE):
            for obj in self.rest.store.list(resource.key):
                self._add((resource.key, obj["metadata"]["namespace"], obj["metadata"]["name"]))
        self._feed = asyncio.create_task(self._follow(subscription.queue))
        self._task = asyncio.create_task(self._work())

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for task in (self._feed, self._task):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass

    def schedule(self, key: Key, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._timers = [t for t in self._timers if not t.cancelled() and t.when() > loop.time()]
        self._timers.append(loop.call_later(delay, self._add, key))

    def _add(self, key: Key) -> None:
        self._pending[key] = None
        self._wake.set()

    async def _follow(self, queue: asyncio.Queue[Event | None]) -> None:
        while True:
            event = await queue.get()
            if event is None:
                return
            for key in self.keys_for(event):
                self._add(key)

    def keys_for(self, event: Event) -> list[Key]:
        """What must be looked at again after this change."""
        namespace, name = event.namespace, event.name
        obj = event.obj
        if event.resource == CONFIGMAP.key:
            if namespace == "knative-serving" and name in ("config-domain", "config-network"):
                return [(ROUTE.key, r["metadata"]["namespace"], r["metadata"]["name"])
                        for r in self.rest.store.list(ROUTE.key)]
            return []
        keys: list[Key] = [(event.resource, namespace, name)]
        labels = obj["metadata"].get("labels") or {}
        if event.resource in (CONFIGURATION.key, ROUTE.key) and labels.get(LABEL_SERVICE):
            keys.append((SERVICE.key, namespace, labels[LABEL_SERVICE]))
        if event.resource == CONFIGURATION.key:
            keys += [(ROUTE.key, namespace, r) for r in self._routes_referencing(namespace, configuration=name)]
        if event.resource == REVISION.key:
            if labels.get(LABEL_CONFIGURATION):
                keys.append((CONFIGURATION.key, namespace, labels[LABEL_CONFIGURATION]))
            keys += [(ROUTE.key, namespace, r) for r in self._routes_referencing(
                namespace, revision=name, configuration=labels.get(LABEL_CONFIGURATION, ""))]
        if event.resource == ROUTE.key:
            keys += [(REVISION.key, namespace, r) for r in sorted(referenced_revisions(obj, event.old))]
        return keys

    def _routes_referencing(self, namespace: str, revision: str = "", configuration: str = "") -> list[str]:
        names = []
        for route in self.rest.store.list(ROUTE.key, namespace):
            for target in (route.get("spec") or {}).get("traffic") or []:
                if not isinstance(target, dict):
                    continue
                if (revision and target.get("revisionName") == revision) or (
                    configuration and target.get("configurationName") == configuration
                ):
                    names.append(route["metadata"]["name"])
                    break
        return names

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Let the feed deliver everything a burst of writes produced before reconciling.
            await asyncio.sleep(0)
            while self._pending:
                key = next(iter(self._pending))
                del self._pending[key]
                resource_key, namespace, name = key
                try:
                    self.reconcilers[resource_key](self.context, namespace, name)
                except Exception:
                    log.exception("reconciling %s %s/%s failed", resource_key, namespace, name)
                if len(self._pending) > 0 and not self._wake.is_set():
                    await asyncio.sleep(0)


def referenced_revisions(*routes: dict[str, Any] | None) -> set[str]:
    """Revision names a route's spec or status traffic points at."""
    names: set[str] = set()
    for route in routes:
        if route is None:
            continue
        for part in ("spec", "status"):
            for target in (route.get(part) or {}).get("traffic") or []:
                if isinstance(target, dict) and isinstance(target.get("revisionName"), str):
                    names.add(target["revisionName"])
    return names
