"""Field ownership (`metadata.managedFields`) and server-side apply, in a simplified model.

A manager owns a set of leaf paths. Maps are walked key by key; lists are atomic, as every
list in the served CRD schemas is. Update operations take ownership of what they change; apply
operations own exactly what they send, remove what they sent before and no longer send, and
conflict with other managers that own a field they would set to a different value.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from app.devcluster.apiserver.errors import ApiError

Path = tuple[str, ...]

_IGNORED_TOP = {"apiVersion", "kind"}
_IGNORED_METADATA = {
    "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
}


def leaf_paths(obj: Any, subresource: str = "") -> set[Path]:
    """The owned-field paths of an object, without the fields the server sets itself."""
    paths: set[Path] = set()

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, dict) and value:
            for key, child in value.items():
                walk(child, (*path, key))
        else:
            paths.add(path)

    if not isinstance(obj, dict):
        return paths
    for key, value in obj.items():
        if key in _IGNORED_TOP:
            continue
        if subresource == "status" and key != "status":
            continue
        if subresource == "" and key == "status":
            continue
        if key == "metadata" and isinstance(value, dict):
            for mkey, mvalue in value.items():
                if mkey not in _IGNORED_METADATA:
                    walk(mvalue, ("metadata", mkey))
        else:
            walk(value, (key,))
    return paths


def value_at(obj: Any, path: Path) -> Any:
    current = obj
    for part in path:
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


class _Missing:
    pass


_MISSING = _Missing()


def _overlaps(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree


def from_fields_v1(tree: Any, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    if not isinstance(tree, dict):
        return paths
    children = {k: v for k, v in tree.items() if k.startswith("f:")}
    if not children and prefix:
        paths.add(prefix)
    for key, child in children.items():
        paths |= from_fields_v1(child, (*prefix, key[2:]))
    return paths


@dataclass
class Entry:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: str
    subresource: str
    paths: set[Path]

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.paths),
        }
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry

    def describe(self) -> str:
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == "Update":
            text += f" using {self.api_version} at {self.time}"
        return text


def read_entries(obj: dict[str, Any]) -> list[Entry]:
    entries = []
    for raw in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(raw, dict):
            continue
        entries.append(
            Entry(
                manager=str(raw.get("manager", "")),
                operation=str(raw.get("operation", "Update")),
                api_version=str(raw.get("apiVersion", "")),
                time=str(raw.get("time", "")),
                subresource=str(raw.get("subresource", "")),
                paths=from_fields_v1(raw.get("fieldsV1")),
            )
        )
    return entries


def _find(entries: list[Entry], manager: str, operation: str, subresource: str) -> Entry | None:
    return next(
        (e for e in entries if (e.manager, e.operation, e.subresource) == (manager, operation, subresource)),
        None,
    )


def _store(obj: dict[str, Any], entries: list[Entry]) -> None:
    kept = [e.to_json() for e in entries if e.paths]
    metadata = obj.setdefault("metadata", {})
    if kept:
        metadata["managedFields"] = kept
    else:
        metadata.pop("managedFields", None)


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    api_version: str,
    now: str,
    subresource: str = "",
) -> None:
    """Give `manager` the fields that changed from `old` to `new`; writes new.metadata.managedFields."""
    entries = read_entries(old) if old is not None else []
    old_paths = leaf_paths(old, subresource) if old is not None else set()
    new_paths = leaf_paths(new, subresource)
    changed = {p for p in new_paths if value_at(old, p) != value_at(new, p)} if old is not None else new_paths
    removed = {p for p in old_paths if value_at(new, p) is _MISSING}
    for entry in entries:
        entry.paths = {
            p for p in entry.paths
            if not any(_overlaps(p, c) for c in changed) and not any(p[: len(r)] == r for r in removed)
        }
    if changed:
        found = _find(entries, manager, "Update", subresource)
        if found is None:
            found = Entry(manager, "Update", api_version, now, subresource, set())
            entries.append(found)
        entry = found
        entry.paths |= changed
        entry.time = now
        entry.api_version = api_version
    _store(new, entries)


def _merge_applied(live: Any, applied: Any) -> Any:
    if isinstance(live, dict) and isinstance(applied, dict):
        merged = dict(live)
        for key, value in applied.items():
            merged[key] = _merge_applied(live.get(key), value)
        return merged
    return copy.deepcopy(applied)


def _remove_path(obj: dict[str, Any], path: Path) -> None:
    parents = []
    current: Any = obj
    for part in path[:-1]:
        if not isinstance(current, dict) or part not in current:
            return
        parents.append((current, part))
        current = current[part]
    if isinstance(current, dict):
        current.pop(path[-1], None)
    # Drop maps left empty by the removal, as the merge would not have created them.
    for parent, key in reversed(parents):
        if parent[key] == {}:
            del parent[key]
        else:
            break


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    api_version: str,
    now: str,
    force: bool,
    subresource: str = "",
) -> dict[str, Any]:
    """Server-side apply of `applied` by `manager` onto `live`; returns the merged object.

    Raises a 409 Conflict when another manager owns a field that would change, unless `force`.
    """
    entries = read_entries(live) if live is not None else []
    applied_paths = leaf_paths(applied, subresource)
    conflicts: list[tuple[Entry, Path]] = []
    if live is not None:
        for entry in entries:
            if (entry.manager, entry.operation, entry.subresource) == (manager, "Apply", subresource):
                continue
            for path in sorted(applied_paths):
                if value_at(applied, path) == value_at(live, path):
                    continue
                if any(_overlaps(path, owned) for owned in entry.paths):
                    conflicts.append((entry, path))
    if conflicts and not force:
        raise conflict_error(conflicts)
    for entry, path in conflicts:
        entry.paths = {p for p in entry.paths if not _overlaps(p, path)}

    result = copy.deepcopy(live) if live is not None else {}
    mine = _find(entries, manager, "Apply", subresource)
    if mine is not None:
        others = set().union(*(e.paths for e in entries if e is not mine))
        for path in mine.paths - applied_paths:
            if not any(_overlaps(path, owned) for owned in others) and not any(
                path[: len(a)] == a for a in applied_paths
            ):
                _remove_path(result, path)
    result = _merge_applied(result, {k: v for k, v in applied.items() if k not in ("status",) or subresource})
    if mine is None:
        mine = Entry(manager, "Apply", api_version, now, subresource, set())
        entries.append(mine)
    mine.paths = applied_paths
    mine.time = now
    mine.api_version = api_version
    _store(result, entries)
    return result


def conflict_error(conflicts: list[tuple[Entry, Path]]) -> ApiError:
    def dotted(path: Path) -> str:
        return "".join(f".{part}" for part in path)

    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {entry.describe()}", "field": dotted(path)}
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.describe()}: {dotted(path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(entry.describe(), []).append(dotted(path))
        lines = []
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {manager}:")
            lines.extend(f"- {p}" for p in by_manager[manager])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})


def strip_times(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy without managedFields timestamps, to tell a no-op write from a real one."""
    clone = dict(obj)
    metadata = dict(clone.get("metadata") or {})
    if "managedFields" in metadata:
        metadata["managedFields"] = [
            {k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e
            for e in metadata["managedFields"]
        ]
    clone["metadata"] = metadata
    return clone
