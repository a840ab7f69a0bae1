"""Knative Serving's controllers in the dev cluster, driven by the store's change feed.

Each change becomes keys to reconcile (the object, its owner, what routes to it); keys are
de-duplicated and reconciled in order. The keys of the initial list (every object, at start-up) wait
behind those of changes, timers and requests, as controller-runtime's priority queue gives items of an
informer's initial list its low priority (pkg/controller/priorityqueue, pkg/handler/eventhandler.go):
after a restart with thousands of objects, a request waiting for a cold start is not queued behind them
all. Reconcilers are plain functions over the current
state that write only what differs, so a reconcile that changes nothing writes nothing and
the loop settles.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from app.devcluster.apiserver.podlogs import ContainerLogs
from app.devcluster.apiserver.resources import CONFIGMAP, DEPLOYMENT, LIMIT_RANGE, POD, REPLICASET, RESOURCE_QUOTA
from app.devcluster.apiserver.rest import Rest
from app.devcluster.apiserver.store import Event, split_key
from app.devcluster.apiserver.tasks import cancel
from app.devcluster.controllers import config, kubelet
from app.devcluster.controllers.autoscaler import ACTIVATION_BUFFER, Autoscaler
from app.devcluster.controllers.configuration import reconcile as reconcile_configuration
from app.devcluster.controllers.context import Context, Key
from app.devcluster.controllers.deployment import (
    REPLICA_FAILURE,
    is_ready,
    reconcile_deployment,
    reconcile_replicaset,
)
from app.devcluster.controllers.indexes import SPEC_TRAFFIC, add_indexes
from app.devcluster.controllers.labels import LABEL_CONFIGURATION, LABEL_REVISION, LABEL_ROUTE, LABEL_SERVICE
from app.devcluster.controllers.revision import reconcile as reconcile_revision
from app.devcluster.controllers.route import reconcile as reconcile_route
from app.devcluster.controllers.service import reconcile as reconcile_service
from app.devcluster.crds.resources import CONFIGURATION, INGRESS, REVISION, ROUTE, SERVICE

log = logging.getLogger("devcluster.controller")


RESOURCES = (SERVICE, CONFIGURATION, REVISION, ROUTE, DEPLOYMENT, REPLICASET, POD)


class KnativeController:
    """Runs Knative's reconcilers (Service, Configuration, Revision, Route, with the autoscaler) and the parts of
    Kubernetes they rely on (the Deployment and ReplicaSet controllers, the scheduler and the kubelet)."""

    def __init__(self, rest: Rest, start_delay: float = 1.0, cold_start_delay: float = 1.0,
                 logs: ContainerLogs | None = None, crash_backoff: float = 10.0,
                 activation_buffer: float = ACTIVATION_BUFFER) -> None:
        add_indexes(rest.store)
        self.rest = rest
        self.context = Context(rest, start_delay, self.schedule, cold_start_delay=cold_start_delay,
                               logs=logs or ContainerLogs())
        self.autoscaler = Autoscaler(self.context.logs, lambda key: self.schedule((REVISION.key, *key), 0.0),
                                     activation_buffer)
        self.kubelet = kubelet.Kubelet(backoff=crash_backoff)
        self.reconcilers: dict[str, Callable[[Context, str, str], None]] = {
            SERVICE.key: reconcile_service,
            CONFIGURATION.key: reconcile_configuration,
            REVISION.key: lambda ctx, ns, name: reconcile_revision(ctx, self.autoscaler, ns, name),
            ROUTE.key: reconcile_route,
            DEPLOYMENT.key: reconcile_deployment,
            REPLICASET.key: reconcile_replicaset,
            POD.key: lambda ctx, ns, name: kubelet.reconcile(ctx, self.kubelet, ns, name),
        }
        self._pending: dict[Key, None] = {}
        self._initial: dict[Key, None] = {}  # the initial list's keys not yet reconciled: after every other key
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._feed: asyncio.Task[None] | None = None
        self._timers: dict[Key, asyncio.TimerHandle] = {}  # the next wake-up of each key that has one

    def start(self) -> None:
        subscription = self.rest.store.subscribe([*(r.key for r in RESOURCES), CONFIGMAP.key, INGRESS.key,
                                                   RESOURCE_QUOTA.key, LIMIT_RANGE.key])
        for pod in self.rest.store.list(POD.key):
            self._observe_pod("ADDED", pod)
        for resource in RESOURCES:
            for key in self.rest.store.keys(resource.key):
                self._initial[(resource.key, *split_key(key))] = None
        self._wake.set()
        self._feed = asyncio.create_task(self._follow(subscription.queue))
        self._task = asyncio.create_task(self._work())

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        await cancel(self._feed, self._task)

    def schedule(self, key: Key, delay: float) -> None:
        """Reconcile `key` in `delay` seconds. One timer per key, the earliest: each reconcile schedules again
        whatever it still waits for, so a later wake-up asked for meanwhile is not lost."""
        if delay <= 0:
            self._add(key)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        timer = self._timers.get(key)
        if timer is not None:
            if timer.when() <= when:
                return
            timer.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self._add(key)

    def _add(self, key: Key) -> None:
        self._initial.pop(key, None)
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
                return [(ROUTE.key, *split_key(key)) for key in self.rest.store.keys(ROUTE.key)]
            if namespace == config.KNATIVE_NAMESPACE and name in (config.AUTOSCALER, config.DEPLOYMENT):
                return [(REVISION.key, *split_key(key)) for key in self.rest.store.keys(REVISION.key)]
            return []
        if event.resource in (RESOURCE_QUOTA.key, LIMIT_RANGE.key):
            # A quota raised (or its usage down, its pods gone) or a limit range changed: the ReplicaSets refused a
            # pod try again now.
            return [(REPLICASET.key, namespace, rs["metadata"]["name"])
                    for rs in self.rest.store.list(REPLICASET.key, namespace)
                    if any(isinstance(c, dict) and c.get("type") == REPLICA_FAILURE
                           for c in (rs.get("status") or {}).get("conditions") or [])]
        labels = obj["metadata"].get("labels") or {}
        if event.resource == INGRESS.key:
            return [(ROUTE.key, namespace, labels[LABEL_ROUTE])] if labels.get(LABEL_ROUTE) else []
        keys: list[Key] = [(event.resource, namespace, name)]
        if event.resource in (DEPLOYMENT.key, REPLICASET.key, POD.key):
            if event.resource == POD.key:
                self._observe_pod(event.type, obj)
            owner = next((r for r in obj["metadata"].get("ownerReferences") or []
                          if isinstance(r, dict) and r.get("controller")), None)
            if owner is not None and owner.get("kind") in ("Deployment", "ReplicaSet"):
                keys.append((DEPLOYMENT.key if owner["kind"] == "Deployment" else REPLICASET.key, namespace,
                             str(owner.get("name"))))
            if labels.get(LABEL_REVISION) and event.resource != REPLICASET.key:
                keys.append((REVISION.key, namespace, labels[LABEL_REVISION]))
            return keys
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

    def _observe_pod(self, kind: str, pod: dict[str, Any]) -> None:
        """Keep the autoscaler's view of which instances can take requests."""
        meta = pod["metadata"]
        revision = (meta.get("labels") or {}).get(LABEL_REVISION)
        if kind == "DELETED":
            # The scheduler's room comes back when the pod is gone, not when its deletion starts.
            for namespace, name in self.kubelet.scheduler.gone(pod):
                self.schedule((POD.key, namespace, name), 0.0)
        else:
            self.kubelet.scheduler.observe(pod)
        if kind == "DELETED" or meta.get("deletionTimestamp"):
            self.autoscaler.pod_gone(meta["namespace"], meta["name"])
            self.kubelet.forget(meta.get("uid", ""))
        elif revision:
            self.autoscaler.pod_seen(meta["namespace"], meta["name"], revision, is_ready(pod),
                                     kubelet.serving_container(pod))

    def _routes_referencing(self, namespace: str, revision: str = "", configuration: str = "") -> list[str]:
        """Routes whose spec sends traffic to the revision, or to the configuration's latest revision."""
        store, keys = self.rest.store, set()
        if revision:
            keys.update(store.indexed(ROUTE.key, SPEC_TRAFFIC, f"revision/{revision}", namespace))
        if configuration:
            keys.update(store.indexed(ROUTE.key, SPEC_TRAFFIC, f"configuration/{configuration}", namespace))
        return sorted(split_key(key)[1] for key in keys)

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Let the feed deliver everything a burst of writes produced before reconciling.
            await asyncio.sleep(0)
            while self._pending or self._initial:
                queue = self._pending or self._initial
                key = next(iter(queue))
                del queue[key]
                resource_key, namespace, name = key
                try:
                    self.reconcilers[resource_key](self.context, namespace, name)
                except Exception:
                    log.exception("reconciling %s %s/%s failed", resource_key, namespace, name)
                # Whatever is pending, the API and the gateway get their turn between two keys.
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
