"""Durable object storage: SQLite in WAL mode, an in-memory copy, and a change feed.

Every write gets the next value of one cluster-wide counter as its resourceVersion, like
etcd's revision. The counter, the objects and the event history are written in one
transaction, and a write is acknowledged only after that transaction commits, so a restart
(even after kill -9) loses no acknowledged write and never reuses a resourceVersion.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HISTORY = 20000
_PRUNE_EVERY = 1000


@dataclass(frozen=True)
class Event:
    """One change: ADDED, MODIFIED or DELETED, with the object before it when known."""

    type: str
    resource: str  # ResourceDef.key, e.g. "/configmaps" or "apps/deployments"
    rv: int
    obj: dict[str, Any]
    old: dict[str, Any] | None = None

    @property
    def namespace(self) -> str:
        return self.obj.get("metadata", {}).get("namespace", "") or ""

    @property
    def name(self) -> str:
        return self.obj.get("metadata", {}).get("name", "")


@dataclass
class Change:
    """A write to make: the full new object (or the deleted one) and what it was before."""

    type: str
    resource: str
    obj: dict[str, Any]
    old: dict[str, Any] | None = None


class TooOld(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass
class Subscription:
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    resources: frozenset[str] | None = None  # None means every resource

    def wants(self, event: Event) -> bool:
        return self.resources is None or event.resource in self.resources


_Key = tuple[str, str]  # (namespace, name)


class Store:
    def __init__(self, path: Path, history: int = HISTORY) -> None:
        self.path = path
        self.history = history
        self._db: sqlite3.Connection | None = None
        self._objects: dict[str, dict[_Key, dict[str, Any]]] = {}
        self._sorted: dict[str, list[dict[str, Any]]] = {}
        self._history: deque[Event] = deque()
        self._history_start = 0  # every event with rv > this is in _history
        self._subscriptions: list[Subscription] = []
        self._writes = 0
        self._uids: dict[str, tuple[str, dict[str, Any]]] = {}
        # The compact JSON each stored object was committed as, so that a LIST does not encode it again.
        self._json: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._owned: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = {}
        self.rv = 0

    # -- lifecycle --------------------------------------------------------------------------

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives the process being killed (it is in the WAL
        # before COMMIT returns), though not a power cut; see README, "Dev cluster storage".
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(
            """
            CREATE TABLE IF NOT EXISTS objects (
                resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                rv INTEGER NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY (resource, namespace, name)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS events (
                rv INTEGER PRIMARY KEY, type TEXT NOT NULL, resource TEXT NOT NULL,
                body TEXT NOT NULL, old TEXT
            );
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )
        self._db = db
        counter = db.execute("SELECT value FROM meta WHERE key = 'rv'").fetchone()
        self.rv = int(counter[0]) if counter else 0
        for resource, namespace, name, body in db.execute("SELECT resource, namespace, name, body FROM objects"):
            obj = json.loads(body)
            self._objects.setdefault(resource, {})[(namespace, name)] = obj
            self._json[(resource, namespace, name)] = (obj["metadata"].get("resourceVersion", ""), body)
            self._index(resource, obj, None)
        rows = db.execute(
            "SELECT rv, type, resource, body, old FROM events ORDER BY rv DESC LIMIT ?", (self.history,)
        ).fetchall()
        for rv, type_, resource, body, old in reversed(rows):
            self._history.append(Event(type_, resource, rv, json.loads(body), json.loads(old) if old else None))
        self._history_start = self._history[0].rv - 1 if self._history else self.rv

    def close(self) -> None:
        for subscription in self._subscriptions:
            subscription.queue.put_nowait(None)
        self._subscriptions.clear()
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- reads ------------------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object. Callers must not mutate it: copy first."""
        return self._objects.get(resource, {}).get((namespace, name))

    def list(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects ordered by namespace then name, as etcd's keys order them."""
        items = self._sorted.get(resource)
        if items is None:
            by_key = self._objects.get(resource, {})
            items = [by_key[k] for k in sorted(by_key)]
            self._sorted[resource] = items
        if namespace is None:
            return items
        return [o for o in items if o["metadata"].get("namespace", "") == namespace]

    def serialized(self, resource: str, obj: dict[str, Any]) -> str:
        """The object as compact JSON: the committed text when `obj` is the stored version."""
        metadata = obj["metadata"]
        cached = self._json.get((resource, metadata.get("namespace", "") or "", metadata["name"]))
        if cached is not None and cached[0] == metadata.get("resourceVersion"):
            return cached[1]
        return json.dumps(obj, separators=(",", ":"))

    def count(self, resource: str) -> int:
        return len(self._objects.get(resource, {}))

    def by_uid(self, uid: str) -> tuple[str, dict[str, Any]] | None:
        """(resource, object) of the live object with this uid."""
        return self._uids.get(uid)

    def dependents(self, owner_uid: str) -> list[tuple[str, dict[str, Any]]]:
        """(resource, object) pairs whose ownerReferences name this uid."""
        return [(key[0], obj) for key, obj in self._owned.get(owner_uid, {}).items()]

    def _index(self, resource: str, obj: dict[str, Any] | None, previous: dict[str, Any] | None) -> None:
        for item, adding in ((previous, False), (obj, True)):
            if item is None:
                continue
            metadata = item.get("metadata", {})
            key = (resource, metadata.get("namespace", "") or "", metadata.get("name", ""))
            uid = metadata.get("uid")
            if uid:
                if adding:
                    self._uids[uid] = (resource, item)
                elif self._uids.get(uid, (None, None))[1] is item:
                    del self._uids[uid]
            for ref in metadata.get("ownerReferences") or []:
                owner = ref.get("uid") if isinstance(ref, dict) else None
                if not owner:
                    continue
                if adding:
                    self._owned.setdefault(owner, {})[key] = item
                else:
                    bucket = self._owned.get(owner)
                    if bucket is not None and bucket.get(key) is item:
                        del bucket[key]
                        if not bucket:
                            del self._owned[owner]

    def history_since(self, rv: int) -> list[Event]:
        """Events after `rv`; raises TooOld when some of them are no longer retained."""
        if rv < self._history_start:
            raise TooOld(rv, self._history_start + 1)
        return [e for e in self._history if e.rv > rv]

    @property
    def oldest_retained(self) -> int:
        return self._history_start

    # -- writes -----------------------------------------------------------------------------

    def commit(self, changes: Iterable[Change]) -> list[Event]:
        """Write changes in one transaction; each gets its own resourceVersion."""
        assert self._db is not None, "store is not open"
        events: list[Event] = []
        rv = self.rv
        rows_put, rows_del, rows_ev = [], [], []
        for change in changes:
            rv += 1
            obj = change.obj
            obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
            meta = obj["metadata"]
            key = (meta.get("namespace", "") or "", meta["name"])
            body = json.dumps(obj, separators=(",", ":"))
            old = json.dumps(change.old, separators=(",", ":")) if change.old is not None else None
            if change.type == "DELETED":
                rows_del.append((change.resource, key[0], key[1]))
            else:
                rows_put.append((change.resource, key[0], key[1], rv, body))
            rows_ev.append((rv, change.type, change.resource, body, old))
            events.append(Event(change.type, change.resource, rv, obj, change.old))
            if change.type == "DELETED":
                self._json.pop((change.resource, *key), None)
            else:
                self._json[(change.resource, *key)] = (str(rv), body)
        if not events:
            return []
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if rows_put:
                db.executemany(
                    "INSERT OR REPLACE INTO objects (resource, namespace, name, rv, body) VALUES (?, ?, ?, ?, ?)",
                    rows_put,
                )
            if rows_del:
                db.executemany("DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?", rows_del)
            db.executemany("INSERT INTO events (rv, type, resource, body, old) VALUES (?, ?, ?, ?, ?)", rows_ev)
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?)", (str(rv),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.rv = rv
        for event in events:
            bucket = self._objects.setdefault(event.resource, {})
            key = (event.namespace, event.name)
            previous = bucket.get(key)
            if event.type == "DELETED":
                bucket.pop(key, None)
                self._index(event.resource, None, previous)
            else:
                bucket[key] = event.obj
                self._index(event.resource, event.obj, previous)
            self._sorted.pop(event.resource, None)
            self._history.append(event)
        while len(self._history) > self.history:
            self._history_start = self._history.popleft().rv
        self._writes += len(events)
        if self._writes >= min(_PRUNE_EVERY, self.history):
            self._writes = 0
            db.execute("DELETE FROM events WHERE rv <= ?", (self._history_start,))
        for subscription in self._subscriptions:
            for event in events:
                if subscription.wants(event):
                    subscription.queue.put_nowait(event)
        return events

    # -- change feed ------------------------------------------------------------------------

    def subscribe(self, resources: Iterable[str] | None = None) -> Subscription:
        subscription = Subscription(resources=frozenset(resources) if resources is not None else None)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
