"""The garbage collector and the namespace controller, driven by the store's change feed.

- An owner deleted in the background takes its dependents with it (ownerReferences by uid).
- `orphan` and `foregroundDeletion` finalizers are processed and then removed.
- A terminating namespace is emptied, then removed.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from app.devcluster.apiserver.errors import ApiError
from app.devcluster.apiserver.resources import NAMESPACE, Registry, ResourceDef
from app.devcluster.apiserver.rest import Rest
from app.devcluster.apiserver.store import Event
from app.devcluster.apiserver.tasks import cancel

log = logging.getLogger("devcluster.gc")
MANAGER = "generic-garbage-collector"
NAMESPACE_BATCH = 200  # objects a terminating namespace loses in one turn
FEED_BATCH = 100  # changes looked at in one turn


class GarbageCollector:
    def __init__(self, rest: Rest, registry: Registry) -> None:
        self.rest = rest
        self.registry = registry
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        subscription = self.rest.store.subscribe()
        self._task = asyncio.create_task(self._run(subscription.queue))
        self.sweep()

    async def stop(self) -> None:
        await cancel(self._task)

    async def _run(self, queue: asyncio.Queue[Event | None]) -> None:
        handled = 0
        while True:
            event = await queue.get()
            if event is None:
                return
            try:
                self.handle(event)
            except Exception:
                log.exception("garbage collection after %s %s failed", event.type, event.name)
            handled += 1
            if handled % FEED_BATCH == 0:
                # Keep up with the feed (a backlog holds every change it has not seen), but let the rest run.
                await asyncio.sleep(0)

    def sweep(self) -> None:
        """Finish what a restart interrupted: dangling dependents and pending finalizers."""
        store = self.rest.store
        for resource_key, key in store.indexes.deleting():
            obj = store.load(resource_key, key)
            if obj is not None:
                self._finalize(self.registry.by_key(resource_key), obj)
        for owner in store.indexes.owners():
            if not store.has_uid(owner):
                for resource_key, obj in store.dependents(owner):
                    self._collect_if_orphaned(self.registry.by_key(resource_key), obj)

    def handle(self, event: Event) -> None:
        resource = self.registry.by_key(event.resource)
        metadata = event.obj["metadata"]
        if event.type == "DELETED":
            self._owner_gone(metadata.get("uid", ""), event.namespace)
            for owner in self._owners_waiting_on(event.obj):
                self._finalize(*owner)
        elif metadata.get("deletionTimestamp"):
            self._finalize(resource, event.obj)

    # -- dependents -------------------------------------------------------------------------

    def _dependents(self, uid: str, namespace: str) -> list[tuple[ResourceDef, dict[str, Any]]]:
        return [
            (self.registry.by_key(key), obj)
            for key, obj in self.rest.store.dependents(uid)
            if obj["metadata"].get("namespace", "") == namespace or not namespace
        ]

    def _exists(self, uid: str) -> bool:
        return self.rest.store.has_uid(uid)

    def _owner_gone(self, uid: str, namespace: str) -> None:
        for resource, obj in self._dependents(uid, namespace):
            current = self.rest.store.get(resource.key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if current is None:
                continue
            self._collect_if_orphaned(resource, current)

    def _collect_if_orphaned(self, resource: ResourceDef, obj: dict[str, Any]) -> None:
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs or obj["metadata"].get("deletionTimestamp"):
            return
        alive = [r for r in refs if isinstance(r, dict) and self._exists(str(r.get("uid", "")))]
        if len(alive) == len(refs):
            return
        if alive:
            new = copy.deepcopy(obj)
            new["metadata"]["ownerReferences"] = alive
            self._write(resource, new, obj)
        else:
            self._delete(resource, obj)

    def _owners_waiting_on(self, dependent: dict[str, Any]) -> list[tuple[ResourceDef, dict[str, Any]]]:
        waiting = []
        namespace = dependent["metadata"].get("namespace", "")
        for ref in dependent["metadata"].get("ownerReferences") or []:
            if not isinstance(ref, dict):
                continue
            for resource in self.registry.resources:
                if resource.kind != ref.get("kind") or not str(ref.get("apiVersion", "")).startswith(
                    resource.group or "v1"
                ):
                    continue
                owner = self.rest.store.get(resource.key, namespace if resource.namespaced else "", ref.get("name", ""))
                if owner is not None and owner["metadata"].get("deletionTimestamp"):
                    waiting.append((resource, owner))
        if namespace:
            ns = self.rest.store.get(NAMESPACE.key, "", namespace)
            if ns is not None and ns["metadata"].get("deletionTimestamp"):
                waiting.append((NAMESPACE, ns))
        return waiting

    # -- finalizers -------------------------------------------------------------------------

    def _finalize(self, resource: ResourceDef, obj: dict[str, Any]) -> None:
        metadata = obj["metadata"]
        finalizers = list(metadata.get("finalizers") or [])
        uid, namespace = metadata.get("uid", ""), metadata.get("namespace", "")
        if resource is NAMESPACE:
            self._empty_namespace(obj)
            return
        if "orphan" in finalizers:
            for dep_resource, dependent in self._dependents(uid, namespace):
                new = copy.deepcopy(dependent)
                new["metadata"]["ownerReferences"] = [
                    r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != uid
                ]
                if not new["metadata"]["ownerReferences"]:
                    del new["metadata"]["ownerReferences"]
                self._write(dep_resource, new, dependent)
            self._remove_finalizer(resource, obj, "orphan")
        elif "foregroundDeletion" in finalizers:
            dependents = self._dependents(uid, namespace)
            for dep_resource, dependent in dependents:
                if not dependent["metadata"].get("deletionTimestamp"):
                    self._delete(dep_resource, dependent)
            if not self._dependents(uid, namespace):
                self._remove_finalizer(resource, obj, "foregroundDeletion")

    def _remove_finalizer(self, resource: ResourceDef, obj: dict[str, Any], name: str) -> None:
        current = self.rest.store.get(resource.key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if current is None:
            return
        new = copy.deepcopy(current)
        new["metadata"]["finalizers"] = [f for f in current["metadata"].get("finalizers") or [] if f != name]
        if not new["metadata"]["finalizers"]:
            del new["metadata"]["finalizers"]
        self._write(resource, new, current)

    def _empty_namespace(self, namespace: dict[str, Any]) -> None:
        name = namespace["metadata"]["name"]
        store, deleted = self.rest.store, 0
        namespaced = [r for r in self.registry.resources if r.namespaced]
        for resource in namespaced:
            for key in store.keys(resource.key, name):
                if deleted >= NAMESPACE_BATCH:
                    # The rest after other work has had its turn: a big namespace must not stall the server.
                    asyncio.get_running_loop().call_soon(self._continue_emptying, name)
                    return
                if not store.indexes.is_deleting(resource.key, key) and (obj := store.load(resource.key, key)):
                    self._delete(resource, obj)
                    deleted += 1
        if any(store.keys(r.key, name) for r in namespaced):
            return  # objects with finalizers: their deletion brings this namespace back here
        current = self.rest.store.get(NAMESPACE.key, "", name)
        if current is None:
            return
        new = copy.deepcopy(current)
        if isinstance(new.get("spec"), dict):
            new["spec"]["finalizers"] = []
        if new["metadata"].get("finalizers"):
            self._write(NAMESPACE, new, current, subresource="finalize")
            return
        self.rest.system_delete(NAMESPACE, current)

    def _continue_emptying(self, name: str) -> None:
        namespace = self.rest.store.get(NAMESPACE.key, "", name)
        if namespace is not None and namespace["metadata"].get("deletionTimestamp"):
            try:
                self._empty_namespace(namespace)
            except Exception:
                log.exception("emptying namespace %s failed", name)

    # -- writes -----------------------------------------------------------------------------

    def _write(self, resource: ResourceDef, new: dict[str, Any], old: dict[str, Any], subresource: str = "") -> None:
        try:
            self.rest.system_write(resource, new, old, MANAGER, subresource=subresource)
        except ApiError as error:
            log.warning("could not update %s %s: %s", resource.kind, old["metadata"]["name"], error.message)

    def _delete(self, resource: ResourceDef, obj: dict[str, Any]) -> None:
        current = self.rest.store.get(resource.key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if current is not None and current["metadata"].get("uid") == obj["metadata"].get("uid"):
            self.rest.system_delete(resource, current)
