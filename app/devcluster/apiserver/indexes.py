"""What the store can find without decoding an object: by uid, by owner, pending deletions, and plugged-in indexes.

An index is a function from an object to the values it is found by (a label's value, the names a
Route's traffic points at); parts plugged into the API server add the ones they select on. Each
object's contribution is kept beside it, so that its next write or its deletion withdraws exactly
what it added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

IndexFunc = Callable[[dict[str, Any]], Iterable[str]]
Ref = tuple[str, str]  # (resource key, "namespace/name")


@dataclass(frozen=True, slots=True)
class Entry:
    rv: int
    uid: str
    owners: tuple[str, ...]
    deleting: bool
    values: tuple[tuple[str, str], ...]  # (index name, value)


def label_index(label: str) -> str:
    return f"label:{label}"


def card(obj: dict[str, Any]) -> list[Any]:
    """What the indexes need of an object when its only indexes are labels: uid, owners, whether it is being deleted,
    labels. The store keeps it beside the object's body, so that a restart need not decode the body to index it."""
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels")
    return [str(metadata.get("uid") or ""), _owners(metadata), bool(metadata.get("deletionTimestamp")),
            labels if isinstance(labels, dict) and labels else None]


def _owners(metadata: dict[str, Any]) -> list[str]:
    return [str(r["uid"]) for r in metadata.get("ownerReferences") or [] if isinstance(r, dict) and r.get("uid")]


class Indexes:
    def __init__(self) -> None:
        self._funcs: dict[str, dict[str, IndexFunc]] = {}
        self._labels: dict[str, dict[str, str]] = {}  # resource -> index name -> the label it indexes
        self._computed: set[str] = set()  # resources with an index of any other function: found from the body
        self._entries: dict[Ref, Entry] = {}
        self._uids: dict[str, Ref] = {}
        self._owned: dict[str, set[Ref]] = {}
        self._deleting: set[Ref] = set()
        self._values: dict[tuple[str, str, str], set[str]] = {}  # (resource, index, value) -> keys

    def add(self, resource: str, name: str, func: IndexFunc) -> None:
        self._funcs.setdefault(resource, {})[name] = func
        self._computed.add(resource)

    def add_label(self, resource: str, label: str) -> None:
        def values(obj: dict[str, Any]) -> list[str]:
            labels = (obj.get("metadata") or {}).get("labels")
            value = labels.get(label) if isinstance(labels, dict) else None
            return [value] if isinstance(value, str) else []

        self._funcs.setdefault(resource, {})[label_index(label)] = values
        self._labels.setdefault(resource, {})[label_index(label)] = label

    def from_card(self, resource: str) -> bool:
        """Whether `put_card` indexes this resource as `put` would: when its only indexes are labels."""
        return resource not in self._computed

    def has(self, resource: str, name: str) -> bool:
        return name in self._funcs.get(resource, {})

    # -- upkeep -----------------------------------------------------------------------------

    def put(self, resource: str, key: str, obj: dict[str, Any], rv: int) -> None:
        ref = (resource, key)
        self.remove(resource, key)
        metadata = obj.get("metadata") or {}
        values = tuple(
            (name, value) for name, func in self._funcs.get(resource, {}).items() for value in set(func(obj))
        )
        self._enter(ref, Entry(rv, str(metadata.get("uid") or ""), tuple(_owners(metadata)),
                               bool(metadata.get("deletionTimestamp")), values))

    def put_card(self, resource: str, key: str, card: list[Any], rv: int) -> None:
        """`put` from the object's card (see `card`), for a resource that `from_card`."""
        ref = (resource, key)
        self.remove(resource, key)
        uid, owners, deleting, labels = card
        values = tuple((name, labels[label]) for name, label in self._labels.get(resource, {}).items()
                       if labels and isinstance(labels.get(label), str))
        self._enter(ref, Entry(rv, uid, tuple(owners), deleting, values))

    def _enter(self, ref: Ref, entry: Entry) -> None:
        resource, key = ref
        uid, owners, values = entry.uid, entry.owners, entry.values
        self._entries[ref] = entry
        if uid:
            self._uids[uid] = ref
        for owner in owners:
            self._owned.setdefault(owner, set()).add(ref)
        if entry.deleting:
            self._deleting.add(ref)
        for name, value in values:
            self._values.setdefault((resource, name, value), set()).add(key)

    def remove(self, resource: str, key: str) -> None:
        ref = (resource, key)
        entry = self._entries.pop(ref, None)
        if entry is None:
            return
        if entry.uid and self._uids.get(entry.uid) == ref:
            del self._uids[entry.uid]
        for owner in entry.owners:
            _discard(self._owned, owner, ref)
        self._deleting.discard(ref)
        for name, value in entry.values:
            _discard(self._values, (resource, name, value), key)

    # -- lookups ----------------------------------------------------------------------------

    def rv(self, resource: str, key: str) -> int | None:
        entry = self._entries.get((resource, key))
        return entry.rv if entry is not None else None

    def lookup(self, resource: str, name: str, value: str) -> set[str]:
        return self._values.get((resource, name, value), set())

    def by_uid(self, uid: str) -> Ref | None:
        return self._uids.get(uid)

    def owned_by(self, uid: str) -> list[Ref]:
        return sorted(self._owned.get(uid, ()))

    def owners(self) -> list[str]:
        """Every uid some object names as its owner."""
        return list(self._owned)

    def deleting(self) -> list[Ref]:
        return sorted(self._deleting)

    def is_deleting(self, resource: str, key: str) -> bool:
        return (resource, key) in self._deleting


def _discard(index: dict[Any, set[Any]], bucket: Any, item: Any) -> None:
    members = index.get(bucket)
    if members is not None:
        members.discard(item)
        if not members:
            del index[bucket]
