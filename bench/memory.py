"""Where a dev cluster's memory goes: load a data directory's store under tracemalloc and sort what it holds.

`python -m bench.memory DATA_DIR` (e.g. a level kept by `BENCH_SCALE_KEEP`) opens a copy of
`DATA_DIR/store.sqlite3` in this process, as the dev cluster does when it starts, and prints the memory
tracemalloc saw allocated, by the line of the dev cluster that allocated it, and by the kind of thing held:
the objects (in memory), their serialized JSON, the change history, managedFields and Events.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sqlite3
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from bench.report import table

TOP = 12


def deep_size(value: Any, seen: set[int]) -> int:
    """Bytes of a JSON-like value and everything it holds, each object counted once."""
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        size += sum(deep_size(item, seen) for item in value)
    return size


def census(store: Any) -> list[tuple[str, int, int]]:
    """(what, count, bytes) for the parts of a loaded store, shared parts counted once in the first row.

    Knows both layouts: objects kept decoded with their JSON and a decoded history (before issue 9), and
    objects kept as their JSON with a cache of decoded ones and the history on disk (after).
    """
    seen: set[int] = set()
    rows = []
    if hasattr(store, "_objects"):
        objects = [obj for bucket in store._objects.values() for obj in bucket.values()]
    else:
        objects = [json.loads(store.body(resource, key)) for resource, bucket in store._bodies.items()
                   for key in bucket]
    events = [obj for obj in objects if obj.get("kind") == "Event"]
    managed = [obj["metadata"].get("managedFields") for obj in objects]
    if hasattr(store, "_objects"):
        rows.append(("managedFields of the stored objects", len(objects), sum(deep_size(m, seen) for m in managed)))
        rows.append(("Events (stored objects)", len(events), sum(deep_size(e, seen) for e in events)))
        rows.append(("other stored objects", len(objects) - len(events), sum(deep_size(o, seen) for o in objects)))
        rows.append(("serialized JSON kept per object", len(store._json), deep_size(store._json, seen)))
        rows.append(("change history (objects and their previous versions)", len(store._history),
                     sum(deep_size(e.obj, seen) + deep_size(e.old, seen) for e in store._history)))
        return rows
    bodies = [body for bucket in store._bodies.values() for body in bucket.values()]
    event_bodies = [b for b in store._bodies.get("/events", {}).values()]
    rows.append(("JSON of Events (as held: compressed where packed)", len(event_bodies),
                 sum(deep_size(b, seen) for b in event_bodies)))
    rows.append(("JSON of the other objects (likewise)", len(bodies) - len(event_bodies),
                 sum(deep_size(b, seen) for b in bodies)))
    rows.append(("decoded objects cached", len(store._decoded), deep_size(store._decoded, seen)))
    rows.append(("indexes", len(store.indexes._entries), deep_size(vars(store.indexes), seen)))
    rows.append(("key order", sum(len(o) for o in store._order.values()), deep_size(store._order, seen)))
    return rows


def first_frames(snapshot: tracemalloc.Snapshot) -> list[tuple[str, int, int]]:
    """(the dev cluster's line that led to an allocation, bytes, blocks), largest first."""
    totals: dict[str, list[int]] = {}
    for stat in snapshot.statistics("traceback"):
        frame = next((f for f in stat.traceback if "app/devcluster/" in f.filename), None)
        where = f"{frame.filename.split('app/devcluster/')[-1]}:{frame.lineno}" if frame else "(elsewhere)"
        total = totals.setdefault(where, [0, 0])
        total[0] += stat.size
        total[1] += stat.count
    return sorted(((w, size, count) for w, (size, count) in totals.items()), key=lambda r: -r[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a dev cluster data directory (with store.sqlite3)")
    args = parser.parse_args(argv)
    try:
        from app.devcluster.apiserver.store import Store
    except ImportError:  # the flat layout before issue 9, to measure the same way before and after
        from app.devcluster.store import Store  # type: ignore[no-redef]

    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        shutil.copy(args.data / "store.sqlite3", work / "store.sqlite3")
        db = sqlite3.connect(work / "store.sqlite3")
        sizes = {table_name: db.execute(f"SELECT count(*), coalesce(sum(length(body)), 0) FROM {table_name}").fetchone()
                 for table_name in ("objects", "events")}
        db.close()
        gc.collect()
        tracemalloc.start(8)
        try:  # held as the dev cluster holds it (issue 10: some resources compressed)
            from app.devcluster.cluster import PACKED
            store = Store(work / "store.sqlite3", packed=PACKED)
        except ImportError:
            store = Store(work / "store.sqlite3")
        store.open()
        snapshot = tracemalloc.take_snapshot()
        total = sum(stat.size for stat in snapshot.statistics("filename"))
        by_line = first_frames(snapshot)
        tracemalloc.stop()
        line_rows = [[where, f"{size / 2**20:.1f} MiB", f"{count:,}"] for where, size, count in by_line[:TOP]]
        census_rows = [[what, f"{count:,}", f"{size / 2**20:.1f} MiB"] for what, count, size in census(store)]
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join([
        f"## Memory of the store in {args.data}",
        "",
        f"On disk: {sizes['objects'][0]:,} objects ({sizes['objects'][1] / 2**20:.1f} MiB of JSON), "
        f"{sizes['events'][0]:,} history rows ({sizes['events'][1] / 2**20:.1f} MiB).",
        f"tracemalloc: {total / 2**20:.1f} MiB allocated by opening the store.",
        "",
        table(["allocated at", "size", "blocks"], line_rows),
        "",
        table(["held", "count", "size (deep, each object once)"], census_rows),
    ]))


if __name__ == "__main__":
    main()
