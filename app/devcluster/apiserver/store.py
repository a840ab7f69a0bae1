"""Durable object storage: SQLite in WAL mode, each object's committed JSON in memory, indexes and a change feed.

Every write gets the next value of one cluster-wide counter as its resourceVersion, like
etcd's revision. The counter, the objects and the change history are written in one
transaction, and a write is acknowledged only after that transaction commits, so a restart
(even after kill -9) loses no acknowledged write and never reuses a resourceVersion.

Memory holds each object once, as the compact JSON it was committed as: LIST, GET and watches
send that text as it is, and an object is decoded when someone reads it, the most recently used
ones kept decoded. The change history that watches resume from stays on disk. Objects are kept
in etcd's key order (`namespace/name`), so a namespace is a range, and `indexes.py` finds them by
uid, owner and whatever else the parts plugged into the server select on.

Resources given a time to live (Events: kube-apiserver's `--event-ttl`) are deleted, with a
DELETED event, that long after their last write, as etcd's leases delete them.

Resources named `packed` (the many, alike and seldom listed: Events, Pods, ReplicaSets, ...) are held in memory
zlib-compressed against the first of their kind as a preset dictionary, several times smaller than its JSON; reading
one costs a few microseconds more. They are stored compressed too (the dictionaries in `meta`), and each object's
row carries its index card (uid, owners, labels: `indexes.card`), so that a restart reads them into memory as they
are, without compressing or decoding them.
"""

from __future__ import annotations

import asyncio
import bisect
import builtins
import heapq
import json
import sqlite3
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from app.devcluster.apiserver.indexes import Entry, Indexes, IndexFunc, card, label_index

HISTORY = 20000
CACHE = 1024  # decoded objects kept
_PRUNE_EVERY = 100  # writes between trims of the history table: small trims, no long stall
_HISTORY_PAGE = 500


def key_of(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.partition("/")
    return namespace, name


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """JSON as `json.loads` reads it, with orjson where it can (three times as fast on an object); what orjson refuses
    and json takes (integers past 64 bits, lone surrogates, NaN) goes to json."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


@dataclass(frozen=True, slots=True)
class Event:
    """One change: ADDED, MODIFIED or DELETED, with the object before it when known, and the committed JSON."""

    type: str
    resource: str  # ResourceDef.key, e.g. "/configmaps" or "apps/deployments"
    rv: int
    obj: dict[str, Any]
    old: dict[str, Any] | None = None
    body: str = ""

    @property
    def namespace(self) -> str:
        return self.obj.get("metadata", {}).get("namespace", "") or ""

    @property
    def name(self) -> str:
        return str(self.obj.get("metadata", {}).get("name", ""))


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
    """A consumer of the change feed. One with a `limit` is cut off when that many events wait for it."""

    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    resources: frozenset[str] | None = None  # None means every resource
    limit: int = 0
    on_cut_off: Callable[[], None] | None = None
    cut_off: bool = False

    def wants(self, event: Event) -> bool:
        return self.resources is None or event.resource in self.resources

    def deliver(self, event: Event) -> None:
        if self.cut_off:
            return
        if self.limit and self.queue.qsize() >= self.limit:
            self.cut_off = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            if self.on_cut_off is not None:
                self.on_cut_off()
            return
        self.queue.put_nowait(event)


class Reader(Protocol):
    """The store as a part that only reads sees it."""

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]: ...

    def subscribe(
        self, resources: Iterable[str] | None = None, limit: int = 0, on_cut_off: Callable[[], None] | None = None
    ) -> Subscription: ...

    def unsubscribe(self, subscription: Subscription) -> None: ...


class Store:
    def __init__(
        self, path: Path, history: int = HISTORY, ttls: dict[str, float] | None = None, cache: int = CACHE,
        clock: Callable[[], float] = time.time, packed: Iterable[str] = (),
    ) -> None:
        self.path = path
        self.clock = clock  # wall-clock seconds, for times to live (they outlast a restart)
        self.history = history
        self.ttls = dict(ttls or {})
        self.indexes = Indexes()
        self.rv = 0
        self._db: sqlite3.Connection | None = None
        self._bodies: dict[str, dict[str, str | bytes]] = {}  # resource -> key -> JSON (packed: compressed)
        self.packed = frozenset(packed)
        self._dictionaries: dict[str, bytes] = {}  # packed resource -> its preset dictionary
        self._unsaved: dict[str, bytes] = {}  # dictionaries chosen and not yet in `meta`
        self._order: dict[str, list[str]] = {}  # resource -> sorted keys
        self._decoded: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._cache = cache
        self._expiry: list[tuple[float, str, str, int]] = []  # heap of (when, resource, key, rv)
        self._subscriptions: list[Subscription] = []
        self._writes = 0

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
        columns = {row[1] for row in db.execute("PRAGMA table_info(objects)")}
        if "expires" not in columns:
            db.execute("ALTER TABLE objects ADD COLUMN expires REAL")  # stores written before Event expiry
        if "card" not in columns:
            db.execute("ALTER TABLE objects ADD COLUMN card TEXT")  # stores written before index cards
        self._db = db
        counter = db.execute("SELECT value FROM meta WHERE key = 'rv'").fetchone()
        self.rv = int(counter[0]) if counter else 0
        for key, value in db.execute("SELECT key, value FROM meta WHERE key LIKE 'zdict:%'"):
            self._dictionaries[key.removeprefix("zdict:")] = value
        self._load(db.execute("SELECT resource, namespace, name, rv, body, expires, card FROM objects"))
        self._save_dictionaries()
        # Trim the history and fold the write-ahead log now, before serving, rather than in some write's time.
        db.execute("DELETE FROM events WHERE rv <= ?", (self.oldest_retained,))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _load(self, rows: Iterable[tuple[str, str, str, int, str | bytes, float | None, str | None]]) -> None:
        now = self.clock()
        indexes = self.indexes
        rewrite = []  # rows of an older store: written back packed and with their cards, once
        for resource, namespace, name, rv, stored, expires, index_card in rows:
            key = key_of(namespace, name)
            if isinstance(stored, bytes) and resource not in self.packed:  # packed by an earlier configuration
                stored = self._unpack(resource, stored)
            held = self._pack(resource, stored) if isinstance(stored, str) else stored
            self._bodies.setdefault(resource, {})[key] = held
            if index_card is not None and indexes.from_card(resource):
                indexes.put_card(resource, key, loads(index_card), rv)
                if held is not stored:  # a kind packed since it was written
                    rewrite.append((held, index_card, resource, namespace, name))
            else:
                obj = loads(stored if isinstance(stored, str) else self._unpack(resource, stored))
                indexes.put(resource, key, obj, rv)
                if index_card is None or held is not stored:
                    rewrite.append((held, dumps(card(obj)), resource, namespace, name))
            if resource in self.ttls:
                heapq.heappush(self._expiry, (expires or now + self.ttls[resource], resource, key, rv))
        self._order = {resource: sorted(bodies) for resource, bodies in self._bodies.items()}
        if rewrite:
            assert self._db is not None, "store is not open"
            with self._db:  # the rows and the dictionaries they were packed with, in one transaction
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "UPDATE objects SET body = ?, card = ? WHERE resource = ? AND namespace = ? AND name = ?", rewrite
                )
                self._save_dictionaries(clear=False)

    def _save_dictionaries(self, clear: bool = True) -> None:
        """Write the dictionaries chosen since the last save (`clear=False`: in a transaction that may roll back)."""
        assert self._db is not None, "store is not open"
        for resource, dictionary in self._unsaved.items():
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (f"zdict:{resource}", dictionary))
        if clear:
            self._unsaved.clear()

    def close(self) -> None:
        for subscription in self._subscriptions:
            subscription.queue.put_nowait(None)
        self._subscriptions.clear()
        if self._db is not None:
            self._db.close()
            self._db = None

    def add_index(self, resource: str, name: str, func: IndexFunc) -> None:
        """Index `resource` by what `func` returns for each object; add indexes before `open`."""
        self.indexes.add(resource, name, func)

    def add_label_index(self, resource: str, label: str) -> None:
        self.indexes.add_label(resource, label)

    # -- reads ------------------------------------------------------------------------------

    def keys(self, resource: str, namespace: str | None = None) -> builtins.list[str]:
        """Keys (`namespace/name`) in etcd's order; one namespace's are a range of them."""
        order = self._order.get(resource, [])
        if namespace is None:
            return builtins.list(order)
        start = bisect.bisect_left(order, f"{namespace}/")
        end = bisect.bisect_left(order, f"{namespace}0")  # "0" is the character after "/"
        return order[start:end]

    def body(self, resource: str, key: str) -> str | None:
        stored = self._bodies.get(resource, {}).get(key)
        if stored is None or isinstance(stored, str):
            return stored
        return self._unpack(resource, stored)

    def _unpack(self, resource: str, stored: bytes) -> str:
        return zlib.decompressobj(zdict=self._dictionaries[resource]).decompress(stored).decode()

    def _pack(self, resource: str, body: str) -> str | bytes:
        if resource not in self.packed:
            return body
        data = body.encode()
        dictionary = self._dictionaries.get(resource)
        if dictionary is None:
            dictionary = self._dictionaries[resource] = self._unsaved[resource] = data
        packer = zlib.compressobj(1, zdict=dictionary)
        return packer.compress(data) + packer.flush()

    def load(self, resource: str, key: str) -> dict[str, Any] | None:
        """The stored object, decoded. Callers must not mutate it: copy first."""
        cached = self._decoded.get((resource, key))
        if cached is not None:
            self._decoded.move_to_end((resource, key))
            return cached
        body = self.body(resource, key)
        if body is None:
            return None
        obj: dict[str, Any] = loads(body)
        self._remember(resource, key, obj)
        return obj

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.load(resource, key_of(namespace, name))

    def list(self, resource: str, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        """Objects in key order, decoded: for the few callers that need every one of them."""
        return [obj for key in self.keys(resource, namespace) if (obj := self.load(resource, key)) is not None]

    def indexed(self, resource: str, name: str, value: str, namespace: str | None = None) -> builtins.list[str]:
        keys = self.indexes.lookup(resource, name, value)
        if namespace is not None:
            prefix = f"{namespace}/"
            keys = {key for key in keys if key.startswith(prefix)}
        return sorted(keys)

    def label_indexed(self, resource: str, label: str) -> bool:
        return self.indexes.has(resource, label_index(label))

    def serialized(self, resource: str, obj: dict[str, Any]) -> str:
        """The object as compact JSON: the committed text when `obj` is the stored object itself."""
        metadata = obj["metadata"]
        key = key_of(metadata.get("namespace", "") or "", metadata["name"])
        if self._decoded.get((resource, key)) is obj:
            body = self.body(resource, key)
            if body is not None:
                return body
        return dumps(obj)

    def count(self, resource: str) -> int:
        return len(self._bodies.get(resource, {}))

    def size_bytes(self) -> int:
        """Bytes the database takes on disk, its write-ahead log included."""
        total = 0
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                total += path.stat().st_size
            except OSError:
                pass
        return total

    def by_uid(self, uid: str) -> tuple[str, dict[str, Any]] | None:
        """(resource, object) of the live object with this uid."""
        ref = self.indexes.by_uid(uid)
        obj = self.load(*ref) if ref is not None else None
        return (ref[0], obj) if ref is not None and obj is not None else None

    def has_uid(self, uid: str) -> bool:
        return self.indexes.by_uid(uid) is not None

    def dependents(self, owner_uid: str) -> builtins.list[tuple[str, dict[str, Any]]]:
        """(resource, object) pairs whose ownerReferences name this uid."""
        return [(ref[0], obj) for ref in self.indexes.owned_by(owner_uid) if (obj := self.load(*ref)) is not None]

    def history_since(self, rv: int, resources: Iterable[str] | None = None) -> Iterator[builtins.list[Event]]:
        """Pages of the events after `rv`; raises TooOld at once when some of them are no longer retained."""
        if rv < self.oldest_retained:
            raise TooOld(rv, self.oldest_retained + 1)
        wanted = frozenset(resources) if resources is not None else None
        return self._history_pages(rv, self.rv, wanted)

    def _history_pages(self, after: int, upto: int, wanted: frozenset[str] | None) -> Iterator[builtins.list[Event]]:
        assert self._db is not None, "store is not open"
        while True:
            rows = self._db.execute(
                "SELECT rv, type, resource, body, old FROM events WHERE rv > ? AND rv <= ? ORDER BY rv LIMIT ?",
                (after, upto, _HISTORY_PAGE),
            ).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield [
                Event(kind, resource, event_rv, loads(body), loads(old) if old else None, body)
                for event_rv, kind, resource, body, old in rows
                if wanted is None or resource in wanted
            ]

    @property
    def oldest_retained(self) -> int:
        """Watches may resume from this resourceVersion or any later one."""
        return max(self.rv - self.history, 0)

    # -- writes -----------------------------------------------------------------------------

    def commit(self, changes: Iterable[Change]) -> builtins.list[Event]:
        """Write changes in one transaction; each gets its own resourceVersion."""
        assert self._db is not None, "store is not open"
        events: builtins.list[Event] = []
        rv = self.rv
        now = self.clock()
        rows_put, rows_del, rows_ev = [], [], []
        held: builtins.list[str | bytes] = []  # each event's body as memory and the objects table hold it
        for change in changes:
            rv += 1
            obj = change.obj
            obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
            meta = obj["metadata"]
            namespace, name = meta.get("namespace", "") or "", meta["name"]
            body = dumps(obj)
            ttl = self.ttls.get(change.resource)
            if change.type == "DELETED":
                rows_del.append((change.resource, namespace, name))
                held.append(body)
            else:
                held.append(self._pack(change.resource, body))
                rows_put.append((change.resource, namespace, name, rv, held[-1], now + ttl if ttl else None,
                                 dumps(card(obj))))
            old = self.serialized(change.resource, change.old) if change.old else None  # as stored, when it is
            rows_ev.append((rv, change.type, change.resource, body, old))
            events.append(Event(change.type, change.resource, rv, obj, change.old, body))
        if not events:
            return []
        self._transaction(rows_put, rows_del, rows_ev, rv)
        for event, stored in zip(events, held, strict=True):
            self._apply(event, stored, now)
        self._writes += len(events)
        if self._writes >= min(_PRUNE_EVERY, self.history):
            self._writes = 0
            self._db.execute("DELETE FROM events WHERE rv <= ?", (self.oldest_retained,))
        for subscription in builtins.list(self._subscriptions):
            for event in events:
                if subscription.wants(event):
                    subscription.deliver(event)
        return events

    def _transaction(self, rows_put: builtins.list[Any], rows_del: builtins.list[Any], rows_ev: builtins.list[Any],
                     rv: int) -> None:
        assert self._db is not None, "store is not open"
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if rows_put:
                db.executemany(
                    "INSERT OR REPLACE INTO objects (resource, namespace, name, rv, body, expires, card) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows_put,
                )
            if rows_del:
                db.executemany("DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?", rows_del)
            db.executemany("INSERT INTO events (rv, type, resource, body, old) VALUES (?, ?, ?, ?, ?)", rows_ev)
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?)", (str(rv),))
            self._save_dictionaries(clear=False)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._unsaved.clear()
        self.rv = rv

    def _apply(self, event: Event, stored: str | bytes, now: float) -> None:
        resource, key = event.resource, key_of(event.namespace, event.name)
        bodies = self._bodies.setdefault(resource, {})
        order = self._order.setdefault(resource, [])
        if event.type == "DELETED":
            if bodies.pop(key, None) is not None:
                del order[bisect.bisect_left(order, key)]
            self.indexes.remove(resource, key)
            self._decoded.pop((resource, key), None)
            return
        if key not in bodies:
            bisect.insort(order, key)
        bodies[key] = stored
        self.indexes.put(resource, key, event.obj, event.rv)
        self._remember(resource, key, event.obj)
        ttl = self.ttls.get(resource)
        if ttl:
            heapq.heappush(self._expiry, (now + ttl, resource, key, event.rv))

    def _remember(self, resource: str, key: str, obj: dict[str, Any]) -> None:
        self._decoded[(resource, key)] = obj
        self._decoded.move_to_end((resource, key))
        while len(self._decoded) > self._cache:
            self._decoded.popitem(last=False)

    def expire(self, now: float, limit: int = 100) -> int:
        """Delete up to `limit` objects whose time to live has passed; how many were deleted."""
        changes: builtins.list[Change] = []
        while self._expiry and self._expiry[0][0] <= now and len(changes) < limit:
            _, resource, key, rv = heapq.heappop(self._expiry)
            if self.indexes.rv(resource, key) != rv:
                continue  # written again since: a later entry stands for it
            obj = self.load(resource, key)
            if obj is not None:
                changes.append(Change("DELETED", resource, json.loads(self.body(resource, key) or "{}"), obj))
        self.commit(changes)
        return len(changes)

    def next_expiry(self) -> float | None:
        return self._expiry[0][0] if self._expiry else None

    # -- change feed ------------------------------------------------------------------------

    def subscribe(
        self, resources: Iterable[str] | None = None, limit: int = 0, on_cut_off: Callable[[], None] | None = None
    ) -> Subscription:
        subscription = Subscription(
            resources=frozenset(resources) if resources is not None else None, limit=limit, on_cut_off=on_cut_off
        )
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)


__all__ = ["Change", "Entry", "Event", "Reader", "Store", "Subscription", "TooOld", "key_of", "split_key"]
