"""Storage durability: a dev cluster killed with SIGKILL in the middle of a stream of writes keeps every
acknowledged write after a restart, and never hands out a resourceVersion twice."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from tests.support import DevClusterProcess, start_cluster


def _writer(cluster: DevClusterProcess, worker: int, acknowledged: dict[str, str], stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        name = f"w{worker}-{i}"
        try:
            code, _, body = cluster.request("POST", "/api/v1/namespaces/default/configmaps",
                                            {"metadata": {"name": name}, "data": {"n": str(i)}})
        except OSError:
            return
        if code == 201:
            acknowledged[name] = body["metadata"]["resourceVersion"]
        i += 1


def test_sigkill_mid_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cluster = start_cluster(data)
    acknowledged: dict[str, str] = {}
    stop = threading.Event()
    writers = [threading.Thread(target=_writer, args=(cluster, w, acknowledged, stop)) for w in range(4)]
    for thread in writers:
        thread.start()
    time.sleep(1.5)
    cluster.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
    cluster.process.wait(10)  # type: ignore[union-attr]
    stop.set()
    for thread in writers:
        thread.join(10)
    assert len(acknowledged) > 50, "the writers should have made progress before the kill"

    restarted = start_cluster(data)
    try:
        listed = restarted.get("/api/v1/namespaces/default/configmaps")
        stored = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in listed["items"]}
        missing = set(acknowledged) - set(stored)
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"
        assert all(stored[name] == rv for name, rv in acknowledged.items())
        highest = max(int(rv) for rv in acknowledged.values())
        code, _, created = restarted.request("POST", "/api/v1/namespaces/default/configmaps",
                                             {"metadata": {"name": "after-restart"}})
        assert code == 201 and int(created["metadata"]["resourceVersion"]) > highest
        assert int(listed["metadata"]["resourceVersion"]) >= highest
    finally:
        assert restarted.stop() == 0


def test_clean_restart_keeps_objects_and_seeds_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cluster = start_cluster(data)
    cluster.request("PATCH", "/api/v1/namespaces/knative-serving/configmaps/config-domain",
                    {"data": {"example.com": None, "mine.dev": ""}}, content_type="application/merge-patch+json")
    assert cluster.stop() == 0
    again = start_cluster(data)
    try:
        domain = again.get("/api/v1/namespaces/knative-serving/configmaps/config-domain")
        assert domain["data"] == {"mine.dev": ""}  # a user's change survives; seeding does not undo it
        namespaces = [n["metadata"]["name"] for n in again.get("/api/v1/namespaces")["items"]]
        assert namespaces.count("default") == 1
    finally:
        assert again.stop() == 0
