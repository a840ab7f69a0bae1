"""The command line: `--help` of both programs, and `knative-console dev` stopping the dev cluster it
started whether it is stopped with Ctrl+C (SIGINT) or SIGTERM (kill, systemd, containers), and passing its
`--log-format json` on, so that the dev cluster's lines are JSON in the console's JSON stream too."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.browser.conftest import _alive, _children, free_port, listening
from tests.support import ROOT


def test_help_texts() -> None:
    for args in (["-m", "app.cli", "--help"], ["-m", "app.cli", "serve", "--help"], ["-m", "app.cli", "dev", "--help"],
                 ["-m", "app.devcluster", "--help"]):
        result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and "usage:" in result.stdout, result.stderr


@pytest.mark.parametrize(("sig", "log_format"), [(signal.SIGINT, "text"), (signal.SIGTERM, "json")])
def test_dev_stops_what_it_started(tmp_path, sig: signal.Signals, log_format: str) -> None:  # noqa: ANN001
    ports = [free_port() for _ in range(4)]
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dev", "--port", str(ports[0]), "--api-port", str(ports[1]),
         "--gateway-port", str(ports[2]), "--internal-gateway-port", str(ports[3]), "--data", str(tmp_path / "data"),
         "--log-format", log_format],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not all(listening(p) for p in ports):
            assert process.poll() is None and time.monotonic() < deadline, "knative-console dev did not start"
            time.sleep(0.1)
        children = _children(process.pid)
        assert children, "the dev cluster runs as a child process"
        process.send_signal(sig)
        assert process.wait(20) == 0
        output = process.stdout.read() if process.stdout else ""
        assert f"Knative Console   http://127.0.0.1:{ports[0]}" in output
        assert f"kubectl --kubeconfig {tmp_path / 'data'}/kubeconfig get ksvc" in output
        cluster_lines = [line for line in output.splitlines() if "devcluster" in line and "API server on" in line]
        assert cluster_lines, output
        if log_format == "json":
            line = json.loads(cluster_lines[0])
            assert line["logger"] == "devcluster" and line["level"] == "info" and line["time"].endswith("Z")
        else:
            assert " INFO devcluster API server on https://127.0.0.1:" in cluster_lines[0]
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) or any(listening(p) for p in ports):
            assert time.monotonic() < deadline, "the dev cluster outlived the console"
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
