"""Watch clients that stop reading: each is cut off once `--watch-buffer` events wait for it (its stream ends, as
kube-apiserver ends an unresponsive watcher), a client that reads keeps every event, twenty stalled clients
during 1,500 writes of 64 KiB leave the server's memory within 50 MB of where it was (a scaled-down run of
bench/scale.py's 50 clients and 24,000 writes; before the cut-off, this grew it by about 100 MB), and a client
that goes away is one info line in the log."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support import DevClusterProcess, start_cluster, wait_for

BUFFER = 50
STALLED, WRITES, SIZE = 20, 1500, 65536


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterProcess]:
    # A short history: what a stalled watcher would hold on to is then not kept for resuming watches anyway.
    cluster = start_cluster(Path(tmp_path_factory.mktemp("slow")), "--watch-buffer", str(BUFFER),
                            "--watch-history", "100", "--without-knative")
    yield cluster
    assert cluster.stop() == 0, cluster.log()[-3000:]


def _configmaps(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/configmaps"


def _stalled(cluster: DevClusterProcess, path: str) -> socket.socket:
    """A watch whose client sends its request and then reads nothing."""
    host, port = cluster.api_url.removeprefix("https://").rsplit(":", 1)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((host, int(port)))
    sock = cluster.tls().wrap_socket(raw, server_hostname=host)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {cluster.token}\r\n\r\n"
                 .encode())
    return sock


def _ended_by_server(sock: socket.socket, timeout: float = 10.0) -> bool:
    """Read what the server sent; whether it then ended the stream (EOF, or a reset)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(1 << 16):
            pass
        return True
    except TimeoutError:
        return False
    except OSError:
        return True
    finally:
        sock.close()


def _write(cluster: DevClusterProcess, ns: str, count: int, size: int = 4096, workers: int = 4) -> None:
    def one(index: int) -> None:
        code, _, body = cluster.request("PATCH", f"{_configmaps(ns)}/cm-{index % 20}",
                                        {"data": {"v": f"{index:08d}" * (size // 8)}},
                                        content_type="application/merge-patch+json")
        assert code == 200, body

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(count)))


def _prepare(cluster: DevClusterProcess, prefix: str) -> str:
    ns = cluster.new_namespace(prefix)
    for index in range(20):
        code, _, body = cluster.request("POST", _configmaps(ns), {"metadata": {"name": f"cm-{index}"}})
        assert code == 201, body
    return ns


def _rss_mb(cluster: DevClusterProcess) -> float:
    assert cluster.process is not None
    for line in Path(f"/proc/{cluster.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_stalled_watcher_is_cut_off_and_a_reading_one_keeps_every_event(cluster: DevClusterProcess) -> None:
    ns = _prepare(cluster, "cut")
    start_rv = cluster.get(_configmaps(ns))["metadata"]["resourceVersion"]
    stalled = _stalled(cluster, f"{_configmaps(ns)}?watch=true&resourceVersion={start_rv}")
    received: list[dict] = []

    def read() -> None:
        url = f"{cluster.api_url}{_configmaps(ns)}?watch=true&resourceVersion={start_rv}&timeoutSeconds=60"
        with httpx.Client(timeout=90, trust_env=False, verify=cluster.tls(), headers=cluster.auth) as http, \
                http.stream("GET", url) as response:
            for line in response.iter_lines():
                if line:
                    received.append(json.loads(line))
                    if len(received) == 1500:
                        return

    reader = threading.Thread(target=read)
    reader.start()
    _write(cluster, ns, 1500)
    reader.join(60)
    assert len(received) == 1500 and {e["type"] for e in received} == {"MODIFIED"}
    assert _ended_by_server(stalled)
    wait_for(lambda: "cut off: 50 events waited for a client that reads too slowly" in cluster.log(),
             message="the cut-off logged")


def test_stalled_watchers_do_not_grow_the_server(cluster: DevClusterProcess) -> None:
    ns = _prepare(cluster, "rss")
    _write(cluster, ns, 200, SIZE)  # the server's steady size for this kind of write
    before = _rss_mb(cluster)
    stalled = [_stalled(cluster, f"{_configmaps(ns)}?watch=true") for _ in range(STALLED)]
    try:
        _write(cluster, ns, WRITES, SIZE)
        grown = _rss_mb(cluster) - before
        assert grown < 50, f"RSS grew by {grown:.0f} MB with {STALLED} stalled watchers"
        assert sum(_ended_by_server(sock, timeout=2) for sock in stalled) == STALLED
    finally:
        for sock in stalled:
            sock.close()


def test_a_client_that_goes_away_is_one_info_line(cluster: DevClusterProcess) -> None:
    ns = _prepare(cluster, "gone")
    sock = _stalled(cluster, f"{_configmaps(ns)}?watch=true")
    sock.recv(100)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset, not a goodbye
    sock.close()
    before = cluster.log().count("ended: the client went away")
    _write(cluster, ns, 5, workers=1)
    wait_for(lambda: cluster.log().count("ended: the client went away") == before + 1, message="the info line")
    time.sleep(0.2)
    log = cluster.log()
    assert log.count("ended: the client went away") == before + 1
    assert "Traceback" not in log and " ERROR " not in log
