"""The console's uvicorn closes connections that never finish a request's headers (slowloris): 300 of them held
open by `knative-console serve` are all released within its keep-alive timeout, and the console still answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, DevClusterProcess, closed_by_peer, hold_connections, wait_ok

HELD = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def console(devcluster: DevClusterProcess, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    args = [sys.executable, "-m", "app.cli", "serve", "--kubeconfig", str(devcluster.kubeconfig),
            "--host", "127.0.0.1", "--port", str(port)]
    with open(tmp_path / "console.log", "wb") as log:
        process = subprocess.Popen(args, cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ok(url + "/healthz", time.monotonic() + 30)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_connections_that_never_finish_their_headers_are_released(console: str) -> None:
    port = int(console.rsplit(":", 1)[1])
    # Half of them send part of a request; the other half send nothing at all.
    held = hold_connections(port, HELD // 2, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    held += hold_connections(port, HELD // 2, b"")
    try:
        deadline = time.monotonic() + 30
        open_ones = list(held)
        while open_ones and time.monotonic() < deadline:
            time.sleep(0.2)
            open_ones = [sock for sock in open_ones if not closed_by_peer(sock)]
        assert open_ones == [], f"{len(open_ones)} of {HELD} held connections still open"
    finally:
        for sock in held:
            sock.close()
    wait_ok(console + "/healthz", time.monotonic() + 10)
