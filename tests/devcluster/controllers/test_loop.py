"""The controller loop in one process: it reconciles one key at a time and gives every other task a turn between
two keys, even while new changes keep arriving (the wake flag set), so that a backlog never freezes the API or
the gateway; and the Knative indexes it adds find Routes by the revisions and configurations they name."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.devcluster.apiserver.rest import Rest
from app.devcluster.apiserver.store import Change, Store
from app.devcluster.controllers.context import Context
from app.devcluster.controllers.indexes import SPEC_TRAFFIC, STATUS_TRAFFIC
from app.devcluster.controllers.loop import KnativeController
from app.devcluster.crds.resources import REVISION, ROUTE, SERVICE

BACKLOG = 200


async def test_other_tasks_run_between_every_two_keys_while_changes_keep_coming(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite3")
    store.open()
    controller = KnativeController(Rest(store))
    done: list[str] = []

    def record(_: Context, namespace: str, name: str) -> None:
        done.append(name)

    controller.reconcilers = dict.fromkeys(controller.reconcilers, record)
    for index in range(BACKLOG):
        controller._add((SERVICE.key, "ns", f"s{index}"))
    gaps: list[int] = []

    async def other_work() -> None:
        last = len(done)
        while len(done) < BACKLOG:
            controller._add((REVISION.key, "ns", f"r{len(done)}"))  # a change arrives: the wake flag is set again
            await asyncio.sleep(0)
            gaps.append(len(done) - last)
            last = len(done)

    worker = asyncio.create_task(controller._work())
    try:
        await asyncio.wait_for(other_work(), 10)
    finally:
        worker.cancel()
        store.close()
    assert len(gaps) >= BACKLOG // 2
    assert max(gaps) <= 2, f"{max(gaps)} keys reconciled without a turn for anyone else"


def test_routes_are_found_by_the_revisions_and_configurations_they_name(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite3")
    KnativeController(Rest(store))  # adds its indexes
    store.open()
    route = {
        "apiVersion": "serving.knative.dev/v1", "kind": "Route",
        "metadata": {"name": "r", "namespace": "ns", "uid": "u1"},
        "spec": {"traffic": [{"revisionName": "r-00001", "percent": 50}, {"configurationName": "c", "percent": 50}]},
        "status": {"traffic": [{"revisionName": "r-00001", "percent": 50}, {"revisionName": "c-00002", "percent": 50}]},
    }
    store.commit([Change("ADDED", ROUTE.key, route)])
    assert store.indexed(ROUTE.key, SPEC_TRAFFIC, "revision/r-00001", "ns") == ["ns/r"]
    assert store.indexed(ROUTE.key, SPEC_TRAFFIC, "configuration/c", "ns") == ["ns/r"]
    assert store.indexed(ROUTE.key, STATUS_TRAFFIC, "c-00002", "ns") == ["ns/r"]
    assert store.indexed(ROUTE.key, STATUS_TRAFFIC, "c-00002", "other") == []
    moved = dict(route, spec={"traffic": [{"revisionName": "r-00003", "percent": 100}]})
    store.commit([Change("MODIFIED", ROUTE.key, moved, route)])
    assert store.indexed(ROUTE.key, SPEC_TRAFFIC, "revision/r-00001", "ns") == []
    assert store.indexed(ROUTE.key, SPEC_TRAFFIC, "revision/r-00003", "ns") == ["ns/r"]
    store.close()


async def test_a_key_keeps_one_timer_the_earliest(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite3")
    controller = KnativeController(Rest(store))
    store.open()
    key = (REVISION.key, "ns", "r")
    try:
        for delay in (30.0, 0.05, 60.0, 0.2):  # thousands of Pods rescheduling would otherwise pile timers up
            controller.schedule(key, delay)
        controller.schedule((REVISION.key, "ns", "other"), 30.0)
        assert len(controller._timers) == 2
        assert controller._timers[key].when() - asyncio.get_running_loop().time() <= 0.05
        for _ in range(1000):  # up to 10 s on a busy machine; done as soon as it fires
            if key in controller._pending:
                break
            await asyncio.sleep(0.01)
        assert key in controller._pending  # the earliest fired
        assert key not in controller._timers  # and left no timer behind
    finally:
        await controller.stop()
        store.close()


async def test_changes_go_before_the_initial_list(tmp_path: Path) -> None:
    """After a restart every object is reconciled once; a key that a change (or a request waiting for a cold start)
    asks for meanwhile is reconciled next, not after the thousands of keys listed at start-up."""
    store = Store(tmp_path / "store.sqlite3")
    store.open()
    for index in range(BACKLOG):
        service = {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                   "metadata": {"name": f"s{index:03d}", "namespace": "ns", "uid": f"u{index}"}}
        store.commit([Change("ADDED", SERVICE.key, service)])
    controller = KnativeController(Rest(store))
    done: list[str] = []
    urgent = (REVISION.key, "ns", "cold-start")

    def record(_: Context, namespace: str, name: str) -> None:
        done.append(name)
        if len(done) == 10:
            controller._add(urgent)
            controller._add((SERVICE.key, "ns", "s150"))  # changed meanwhile: reconciled now, and only once

    controller.reconcilers = dict.fromkeys(controller.reconcilers, record)
    controller.start()
    try:
        for _ in range(1000):
            if len(done) >= BACKLOG + 1:
                break
            await asyncio.sleep(0.01)
    finally:
        await controller.stop()
        store.close()
    assert done[:10] == [f"s{index:03d}" for index in range(10)]  # the initial list, in key order
    assert done[10:12] == ["cold-start", "s150"]
    assert len(done) == BACKLOG + 1 and done.count("s150") == 1
