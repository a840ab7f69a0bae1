"""Which stored objects a list or watch selects: by name, namespace range and label indexes first, then by
decoding only the objects those leave, for the rest of the label and field selectors."""

from __future__ import annotations

from typing import Any

from app.devcluster.apiserver.indexes import label_index
from app.devcluster.apiserver.resources import ResourceDef
from app.devcluster.apiserver.selectors import FieldSelector, LabelSelector, field_value
from app.devcluster.apiserver.store import Store, key_of, split_key

_KEY_FIELDS = ("metadata.name", "metadata.namespace")


def select(store: Store, resource: ResourceDef, namespace: str, labels: LabelSelector,
           fields: FieldSelector) -> list[str]:
    """Keys of the objects the selectors match, in key order."""
    keys = _candidates(store, resource, namespace, labels, fields)
    if any(term[0] in _KEY_FIELDS for term in fields.terms):
        keys = [key for key in keys if _key_matches(fields, key)]
    other_fields = FieldSelector(tuple(t for t in fields.terms if t[0] not in _KEY_FIELDS))
    if not labels.requirements and not other_fields.terms:
        return keys
    selected = []
    for key in keys:
        obj = store.load(resource.key, key)
        if obj is not None and labels.matches(obj) and other_fields.matches(obj, field_value):
            selected.append(key)
    return selected


def matches(obj: dict[str, Any] | None, namespace: str, labels: LabelSelector, fields: FieldSelector) -> bool:
    """Whether one object is in the selection (for watch events, which carry their object decoded)."""
    if obj is None:
        return False
    if namespace and obj["metadata"].get("namespace", "") != namespace:
        return False
    return labels.matches(obj) and fields.matches(obj, field_value)


def _candidates(store: Store, resource: ResourceDef, namespace: str, labels: LabelSelector,
                fields: FieldSelector) -> list[str]:
    name = fields.value_of("metadata.name")
    if name is not None and (namespace or not resource.namespaced):
        key = key_of(namespace, name)
        return [key] if store.body(resource.key, key) is not None else []
    found: set[str] | None = None
    for requirement in labels.requirements:
        if requirement.op in ("=", "in") and store.label_indexed(resource.key, requirement.key):
            keys: set[str] = set()
            for value in requirement.values:
                keys.update(store.indexed(resource.key, label_index(requirement.key), value, namespace or None))
            found = keys if found is None else found & keys
    if found is not None:
        return sorted(found)
    return store.keys(resource.key, namespace or None)


def _key_matches(fields: FieldSelector, key: str) -> bool:
    namespace, name = split_key(key)
    for field, op, value in fields.terms:
        if field in _KEY_FIELDS:
            actual = name if field == "metadata.name" else namespace
            if (actual == value) != (op == "="):
                return False
    return True
