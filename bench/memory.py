"""Where a dev cluster's memory goes: load a data directory's store under tracemalloc and sort what it holds.

`python -m bench.memory DATA_DIR` (e.g. a level kept by `BENCH_SCALE_KEEP`) opens a copy of
`DATA_DIR/store.sqlite3` in this process, as the dev cluster does when it starts, and prints the memory
tracemalloc saw allocated, by the line of the dev cluster that allocated it, and by the kind of thing held:
the objects (in memory), their serialized JSON, the change history, managedFields and Events.
"""

from __future__ import annotations

import argparse
import gc
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
    """(what, count, bytes) for the parts of a loaded store, shared parts counted once in the first row."""
    seen: set[int] = set()
    rows = []
    objects = [obj for bucket in store._objects.values() for obj in bucket.values()]
    events = [obj for obj in objects if obj.get("kind") == "Event"]
    managed = [obj["metadata"].get("managedFields") for obj in objects]
    rows.append(("managedFields of the stored objects", len(objects), sum(deep_size(m, seen) for m in managed)))
    rows.append(("Events (stored objects)", len(events), sum(deep_size(e, seen) for e in events)))
    rows.append(("other stored objects", len(objects) - len(events), sum(deep_size(o, seen) for o in objects)))
    serialized = getattr(store, "_json", {})
    rows.append(("serialized JSON kept per object", len(serialized), deep_size(serialized, seen)))
    history = getattr(store, "_history", [])
    rows.append(("change history (objects and their previous versions)", len(history),
                 sum(deep_size(e.obj, seen) + deep_size(e.old, seen) for e in history)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a dev cluster data directory (with store.sqlite3)")
    args = parser.parse_args(argv)
    from app.devcluster.apiserver.store import Store

    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        shutil.copy(args.data / "store.sqlite3", work / "store.sqlite3")
        db = sqlite3.connect(work / "store.sqlite3")
        sizes = {table_name: db.execute(f"SELECT count(*), coalesce(sum(length(body)), 0) FROM {table_name}").fetchone()
                 for table_name in ("objects", "events")}
        db.close()
        gc.collect()
        tracemalloc.start(1)
        store = Store(work / "store.sqlite3")
        store.open()
        snapshot = tracemalloc.take_snapshot()
        total = sum(stat.size for stat in snapshot.statistics("filename"))
        by_line = [stat for stat in snapshot.statistics("lineno") if "devcluster" in str(stat.traceback)]
        tracemalloc.stop()
        line_rows = [[f"{stat.traceback[0].filename.split('app/devcluster/')[-1]}:{stat.traceback[0].lineno}",
                      f"{stat.size / 2**20:.1f} MiB", f"{stat.count:,}"] for stat in by_line[:TOP]]
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
