"""The store in one process: etcd's key order and namespace ranges, indexes kept in step with writes, the
change history read from disk after a restart, the committed JSON served only for the stored object itself,
time-to-live expiry with DELETED events, a bounded subscriber cut off, and a store written before any of this
opening as it is."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.devcluster.apiserver import store as store_module
from app.devcluster.apiserver.store import Change, Event, Store, TooOld

CONFIGMAPS = "/configmaps"
EVENTS = "/events"


def configmap(namespace: str, name: str, **labels: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"k": "v"}}


def put(store: Store, obj: dict[str, Any], resource: str = CONFIGMAPS) -> dict[str, Any]:
    old = store.get(resource, obj["metadata"]["namespace"], obj["metadata"]["name"])
    store.commit([Change("MODIFIED" if old else "ADDED", resource, obj, old)])
    return obj


def delete(store: Store, namespace: str, name: str, resource: str = CONFIGMAPS) -> None:
    old = store.get(resource, namespace, name)
    assert old is not None
    store.commit([Change("DELETED", resource, json.loads(json.dumps(old)), old)])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "store.sqlite3", history=50)
    opened.add_label_index(CONFIGMAPS, "app")
    opened.open()
    yield opened
    opened.close()


def test_keys_follow_etcd_order_and_a_namespace_is_a_range(store: Store) -> None:
    for namespace, name in [("a-b", "x"), ("a", "y"), ("ab", "z"), ("a", "x"), ("a0", "w")]:
        put(store, configmap(namespace, name))
    assert store.keys(CONFIGMAPS) == ["a-b/x", "a/x", "a/y", "a0/w", "ab/z"]  # byte order of "namespace/name"
    assert store.keys(CONFIGMAPS, "a") == ["a/x", "a/y"]
    assert store.keys(CONFIGMAPS, "a-b") == ["a-b/x"]
    assert store.keys(CONFIGMAPS, "nope") == []
    delete(store, "a", "x")
    assert store.keys(CONFIGMAPS, "a") == ["a/y"]


def test_label_index_follows_every_write(store: Store) -> None:
    put(store, configmap("ns", "one", app="blue"))
    put(store, configmap("ns", "two", app="blue"))
    put(store, configmap("other", "three", app="blue"))
    assert store.indexed(CONFIGMAPS, "label:app", "blue", "ns") == ["ns/one", "ns/two"]
    assert store.indexed(CONFIGMAPS, "label:app", "blue") == ["ns/one", "ns/two", "other/three"]
    put(store, configmap("ns", "one", app="green"))
    assert store.indexed(CONFIGMAPS, "label:app", "blue", "ns") == ["ns/two"]
    assert store.indexed(CONFIGMAPS, "label:app", "green", "ns") == ["ns/one"]
    delete(store, "ns", "two")
    assert store.indexed(CONFIGMAPS, "label:app", "blue", "ns") == []
    assert store.label_indexed(CONFIGMAPS, "app") and not store.label_indexed(CONFIGMAPS, "tier")


def test_an_index_of_any_function_and_the_uid_and_owner_indexes(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite3")
    store.add_index(CONFIGMAPS, "keys", lambda obj: sorted((obj.get("data") or {}).keys()))
    store.open()
    owner = put(store, configmap("ns", "owner"))
    child = configmap("ns", "child")
    child["metadata"]["ownerReferences"] = [{"uid": owner["metadata"]["uid"], "kind": "ConfigMap", "name": "owner"}]
    child["data"] = {"a": "1", "b": "2"}
    put(store, child)
    assert store.indexed(CONFIGMAPS, "keys", "b") == ["ns/child"]
    assert [obj["metadata"]["name"] for _, obj in store.dependents(owner["metadata"]["uid"])] == ["child"]
    assert store.has_uid(child["metadata"]["uid"]) and store.by_uid(child["metadata"]["uid"])[0] == CONFIGMAPS
    delete(store, "ns", "child")
    assert store.indexed(CONFIGMAPS, "keys", "b") == [] and store.dependents(owner["metadata"]["uid"]) == []
    store.close()


def test_history_is_read_from_disk_after_a_restart(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite3", history=10)
    store.open()
    for index in range(25):
        put(store, configmap("ns", f"cm-{index % 5}"))
    store.close()

    reopened = Store(tmp_path / "store.sqlite3", history=10)
    reopened.open()
    assert reopened.rv == 25
    events = [event for page in reopened.history_since(20) for event in page]
    assert [event.rv for event in events] == [21, 22, 23, 24, 25]
    assert events[0].type == "MODIFIED" and events[0].old is not None
    assert json.loads(events[0].body) == events[0].obj
    with pytest.raises(TooOld):
        reopened.history_since(14)
    assert [e.rv for page in reopened.history_since(15) for e in page][0] == 16
    reopened.close()


def test_committed_json_is_served_only_for_the_stored_object(store: Store) -> None:
    stored = put(store, configmap("ns", "cm"))
    assert store.serialized(CONFIGMAPS, stored) == store.body(CONFIGMAPS, "ns/cm")
    # A dry run's object has the stored resourceVersion but not the stored content.
    dry_run = json.loads(json.dumps(stored))
    dry_run["data"] = {"k": "changed"}
    assert json.loads(store.serialized(CONFIGMAPS, dry_run))["data"] == {"k": "changed"}


def test_objects_with_a_time_to_live_are_deleted_with_an_event(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite3", ttls={EVENTS: 60.0})
    store.open()
    subscription = store.subscribe([EVENTS])
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e.1", "namespace": "ns"}, "reason": "R"}
    put(store, event, EVENTS)
    put(store, configmap("ns", "kept"))
    due = store.next_expiry()
    assert due is not None
    assert store.expire(due - 1) == 0
    assert store.expire(due + 1) == 1
    assert store.get(EVENTS, "ns", "e.1") is None and store.get(CONFIGMAPS, "ns", "kept") is not None
    seen = [subscription.queue.get_nowait().type for _ in range(2)]
    assert seen == ["ADDED", "DELETED"]
    store.close()


def test_a_rewrite_renews_the_time_to_live_and_a_restart_keeps_it(tmp_path: Path) -> None:
    now = [1000.0]
    store = Store(tmp_path / "store.sqlite3", ttls={EVENTS: 60.0}, clock=lambda: now[0])
    store.open()
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e.1", "namespace": "ns"}, "count": 1}
    put(store, event, EVENTS)
    now[0] = 1030.0
    put(store, dict(event, count=2), EVENTS)
    assert store.expire(1061.0) == 0  # the first deadline (1060) no longer stands for it
    store.close()
    reopened = Store(tmp_path / "store.sqlite3", ttls={EVENTS: 60.0}, clock=lambda: now[0])
    reopened.open()
    assert reopened.next_expiry() == 1090.0
    assert reopened.expire(1089.0) == 0 and reopened.expire(1090.0) == 1
    reopened.close()


async def test_a_subscriber_with_a_limit_is_cut_off_once() -> None:
    store = Store(Path("/nonexistent"))  # subscriptions need no open database
    cut: list[bool] = []
    subscription = store.subscribe([CONFIGMAPS], limit=3, on_cut_off=lambda: cut.append(True))
    for rv in range(5):
        obj = configmap("ns", f"cm-{rv}")
        subscription.deliver(Event("ADDED", CONFIGMAPS, rv + 1, obj, None, json.dumps(obj)))
    assert subscription.cut_off and cut == [True]
    assert await asyncio.wait_for(subscription.queue.get(), 1) is None
    assert subscription.queue.empty()


def test_a_store_written_before_expiry_opens_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE objects (resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
            rv INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (resource, namespace, name)) WITHOUT ROWID;
        CREATE TABLE events (rv INTEGER PRIMARY KEY, type TEXT NOT NULL, resource TEXT NOT NULL,
            body TEXT NOT NULL, old TEXT);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """
    )
    body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e.1", "namespace": "ns", "resourceVersion": "7"}}
    db.execute("INSERT INTO objects VALUES (?, ?, ?, ?, ?)", (EVENTS, "ns", "e.1", 7, json.dumps(body)))
    db.execute("INSERT INTO meta VALUES ('rv', '7')")
    db.commit()
    db.close()
    store = Store(path, ttls={EVENTS: 30.0})
    store.open()
    assert store.rv == 7 and store.get(EVENTS, "ns", "e.1")["metadata"]["resourceVersion"] == "7"
    assert store.next_expiry() is not None  # an Event of an old store expires like any other
    put(store, configmap("ns", "new"))
    assert store.rv == 8
    store.close()


def test_packed_resources_are_held_compressed_and_read_as_committed(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite3", ttls={EVENTS: 60.0}, packed=[EVENTS], cache=1)
    store.open()
    events = [{"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"pod-{i}.{i:x}", "namespace": "ns"},
               "involvedObject": {"kind": "Pod", "name": f"pod-{i}"}, "reason": "Started",
               "message": "Started container user-container"} for i in range(50)]
    for event in events:
        put(store, event, EVENTS)
    put(store, configmap("ns", "plain"))
    texts = [store.body(EVENTS, f"ns/pod-{i}.{i:x}") for i in range(50)]
    assert [json.loads(t or "") for t in texts] == events  # the committed JSON, resourceVersions included
    held = store._bodies[EVENTS]
    assert all(isinstance(b, bytes) for b in held.values())
    assert sum(map(len, held.values())) * 4 < sum(len(t or "") for t in texts)  # well under a quarter
    assert isinstance(store._bodies[CONFIGMAPS]["ns/plain"], str)
    assert store.get(EVENTS, "ns", "pod-7.7") == events[7]
    delete(store, "ns", "pod-7.7", EVENTS)
    assert store.get(EVENTS, "ns", "pod-7.7") is None
    assert store.expire(store.next_expiry() or 0) == 1  # expiry reads a packed body too
    store.close()
    reopened = Store(tmp_path / "store.sqlite3", ttls={EVENTS: 60.0}, packed=[EVENTS])
    reopened.open()
    assert reopened.get(EVENTS, "ns", "pod-9.9") == events[9]
    assert isinstance(reopened._bodies[EVENTS]["ns/pod-9.9"], bytes)
    reopened.close()


def indexed_state(store: Store) -> tuple[Any, ...]:
    indexes = store.indexes
    return (indexes._entries, indexes._uids, indexes._owned, indexes._values, indexes._deleting)


def event(i: int, owner: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": f"pod-{i}.{i:x}", "namespace": "ns", "uid": f"e-{i}", "labels": {"app": "a"}}
    if owner:
        metadata["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": owner}]
    return {"apiVersion": "v1", "kind": "Event", "metadata": metadata, "reason": "Started", "message": f"m {i}"}


def test_a_restart_reads_packed_objects_as_stored_without_decoding_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.sqlite3"
    store = Store(path, ttls={EVENTS: 60.0}, packed=[EVENTS])
    store.add_label_index(EVENTS, "app")
    store.open()
    written = [put(store, event(i, owner="owner-uid" if i % 2 else ""), EVENTS) for i in range(20)]
    put(store, configmap("ns", "plain", app="a"))
    before, held = indexed_state(store), dict(store._bodies[EVENTS])
    store.close()
    rows = sqlite3.connect(path).execute("SELECT resource, typeof(body), card FROM objects").fetchall()
    assert {(resource, kind) for resource, kind, _ in rows} == {(EVENTS, "blob"), (CONFIGMAPS, "text")}
    assert all(card for _, _, card in rows)
    decoded: list[str | bytes] = []
    real_loads = store_module.loads
    monkeypatch.setattr(store_module, "loads", lambda text: decoded.append(text) or real_loads(text))
    reopened = Store(path, ttls={EVENTS: 60.0}, packed=[EVENTS])
    reopened.add_label_index(EVENTS, "app")
    reopened.open()
    assert reopened._bodies[EVENTS] == held  # the very bytes: nothing compressed again
    assert indexed_state(reopened) == before  # uid, owner, label and deletion indexes as before the restart
    assert all(len(text) < 100 for text in decoded)  # index cards only, no object's body
    assert reopened.indexed(EVENTS, "label:app", "a") == sorted(store._bodies[EVENTS])
    new = put(reopened, event(99), EVENTS)  # packed with the stored dictionary: old and new read back
    assert reopened.get(EVENTS, "ns", "pod-3.3") == written[3]
    assert reopened.get(EVENTS, "ns", "pod-99.63") == new
    reopened.close()


def test_an_index_of_a_function_is_found_from_the_body_after_a_restart(tmp_path: Path) -> None:
    def open_store() -> Store:
        store = Store(tmp_path / "store.sqlite3", packed=[CONFIGMAPS])
        store.add_index(CONFIGMAPS, "keys", lambda obj: sorted((obj.get("data") or {}).keys()))
        store.open()
        return store

    store = open_store()
    put(store, configmap("ns", "one"))
    store.close()
    reopened = open_store()
    assert reopened.indexed(CONFIGMAPS, "keys", "k") == ["ns/one"]
    reopened.close()


def test_an_older_store_is_written_back_packed_with_cards_once(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = Store(path, ttls={EVENTS: 60.0})  # an older dev cluster: nothing packed
    store.open()
    written = [put(store, event(i), EVENTS) for i in range(5)]
    store._db.execute("UPDATE objects SET card = NULL")  # type: ignore[union-attr]  # as before cards
    store.close()
    upgraded = Store(path, ttls={EVENTS: 60.0}, packed=[EVENTS])
    upgraded.open()
    assert upgraded.get(EVENTS, "ns", "pod-2.2") == written[2]
    upgraded.close()
    rows = sqlite3.connect(path).execute("SELECT typeof(body), card FROM objects").fetchall()
    assert rows and all(kind == "blob" and card for kind, card in rows)
    again = Store(path, ttls={EVENTS: 60.0}, packed=[EVENTS])
    again.open()
    assert [again.get(EVENTS, "ns", f"pod-{i}.{i:x}") for i in range(5)] == written
    again.close()
    unpacked = Store(path, ttls={EVENTS: 60.0})  # and a configuration that no longer packs them reads them
    unpacked.open()
    assert unpacked.get(EVENTS, "ns", "pod-4.4") == written[4]
    assert isinstance(unpacked._bodies[EVENTS]["ns/pod-4.4"], str)
    unpacked.close()


def test_an_upgrade_cut_short_after_its_rewrite_leaves_a_readable_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows an older store is rewritten with are packed with dictionaries that are saved in the same
    transaction: a process that dies right after the rewrite leaves nothing it cannot read."""
    path = tmp_path / "store.sqlite3"
    old = Store(path, ttls={EVENTS: 60.0})
    old.open()
    written = [put(old, event(i), EVENTS) for i in range(3)]
    old.close()
    real = Store._save_dictionaries

    def dies_after_the_rewrite(self: Store, clear: bool = True) -> None:
        if clear:
            raise SystemExit("killed")  # the save that follows the rewrite never happens
        real(self, clear)

    monkeypatch.setattr(Store, "_save_dictionaries", dies_after_the_rewrite)
    with pytest.raises(SystemExit):
        Store(path, ttls={EVENTS: 60.0}, packed=[EVENTS]).open()
    monkeypatch.setattr(Store, "_save_dictionaries", real)
    reopened = Store(path, ttls={EVENTS: 60.0}, packed=[EVENTS])
    reopened.open()
    assert [reopened.get(EVENTS, "ns", f"pod-{i}.{i:x}") for i in range(3)] == written
    reopened.close()
