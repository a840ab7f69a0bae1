"""The console's logs, from a real `knative-console serve` process: `--log-format json` gives one JSON object a
line with time, level, logger, message, request id, route, status, duration and user; in either format no
token, cookie, CSRF token or secret key appears anywhere in a run's output. Also the formatters themselves."""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from app.cli import main
from app.cluster.client import service_account
from app.logs import JsonFormatter, TextFormatter, bind, unbind
from app.web.security import COOKIE, token_for
from tests.browser.conftest import free_port
from tests.support import ROOT, DevClusterProcess


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_run_logs_requests_and_no_secrets(devcluster: DevClusterProcess, tmp_path: Path, log_format: str) -> None:
    secret_key, client_token = (f"{what}-{uuid.uuid4().hex}" for what in ("secretkey", "bearer"))
    namespace = devcluster.new_namespace("logs")
    token = devcluster.service_account_token(namespace, "ci-robot", "edit")
    kubeconfig = devcluster.kubeconfig_for(tmp_path / "kubeconfig", token)
    port = free_port()
    output = tmp_path / "console.log"
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--kubeconfig", str(kubeconfig), "--port", str(port),
             "--log-format", log_format],
            cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
            env={**os.environ, "KNATIVE_CONSOLE_SECRET_KEY": secret_key},
        )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, output.read_text()
                try:
                    if http.get("/livez").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the console did not start"
                time.sleep(0.1)
            page = http.get(f"/namespaces/{namespace}/services", headers={"X-Request-ID": "log-test-page",
                                                                          "Authorization": f"Bearer {client_token}"})
            assert page.status_code == 200 and page.headers["X-Request-ID"] == "log-test-page"
            cookie = http.cookies[COOKIE]
            csrf = token_for(secret_key, cookie)
            created = http.post(f"/namespaces/{namespace}/services", headers={"X-Request-ID": "log-test-write"}, data={
                "csrf_token": csrf, "name": "logged", "image": "ghcr.io/knative/helloworld-go:latest",
                "protocol": "http", "port": "8080", "visibility": "public", "action": "create"})
            assert created.status_code == 303
            refused = http.post(f"/namespaces/{namespace}/services", data={"csrf_token": "forged", "name": "x"},
                                headers={"X-Request-ID": "log-test-forged"})
            assert refused.status_code == 403
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    text = output.read_text()
    for secret in (token, secret_key, client_token, cookie, csrf):
        assert secret not in text, f"a secret is in the logs:\n{text}"
    if log_format == "text":
        assert (f"request_id=log-test-page route=/namespaces/{{namespace}}/services "
                f"user=system:serviceaccount:{namespace}:ci-robot") in text
        assert f"POST /namespaces/{namespace}/services 303" in text
        return
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON, uvicorn's too
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any(line["logger"] == "uvicorn.error" and "Uvicorn running" in line["message"] for line in lines)
    by_id = {line["request_id"]: line for line in lines if line["logger"] == "knative_console.access"}
    page_line = by_id["log-test-page"]
    assert page_line["route"] == "/namespaces/{namespace}/services" and page_line["status"] == 200
    assert page_line["method"] == "GET" and page_line["path"] == f"/namespaces/{namespace}/services"
    assert page_line["user"] == f"system:serviceaccount:{namespace}:ci-robot"  # who the cluster sees
    assert page_line["level"] == "info"
    assert isinstance(page_line["duration_ms"], float) and page_line["duration_ms"] > 0
    assert page_line["time"].endswith("Z")
    assert (by_id["log-test-write"]["status"], by_id["log-test-forged"]["status"]) == (303, 403)


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("knative_console.web", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_formatters_take_the_request_fields_from_context() -> None:
    token = bind(request_id="r-1", route="/namespaces/{namespace}/services", user="alice", method="GET", path="/x")
    try:
        line = json.loads(JsonFormatter().format(_record("cluster answered 409")))
        text = TextFormatter().format(_record("cluster answered 409"))
    finally:
        unbind(token)
    assert line["request_id"] == "r-1" and line["user"] == "alice" and line["level"] == "warning"
    assert line["message"] == "cluster answered 409" and "status" not in line
    assert text.endswith("cluster answered 409 request_id=r-1 route=/namespaces/{namespace}/services user=alice")
    outside = json.loads(JsonFormatter().format(_record("started")))
    assert "request_id" not in outside and "user" not in outside


def test_bearer_tokens_in_messages_are_masked() -> None:
    record = _record("calling with Authorization: Bearer eyJhbGciOi.abc-def_ghi, then %s", "bearer sha256~xyz")
    for formatted in (JsonFormatter().format(record), TextFormatter().format(record)):
        assert "eyJhbGciOi" not in formatted and "sha256~xyz" not in formatted
        assert formatted.count("[redacted]") == 2


def test_an_unknown_log_format_is_refused_with_what_to_use(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KNATIVE_CONSOLE_LOG_FORMAT", "xml")
    with pytest.raises(SystemExit) as stopped:
        main(["serve"])
    assert stopped.value.code == 2
    assert "the log format must be text or json, not 'xml' (KNATIVE_CONSOLE_LOG_FORMAT)" in capsys.readouterr().err


def test_the_in_cluster_user_is_the_tokens_subject() -> None:
    claims = base64.urlsafe_b64encode(json.dumps({"sub": "system:serviceaccount:ops:knative-console"}).encode())
    token = f"eyJhbGciOiJSUzI1NiJ9.{claims.decode().rstrip('=')}.c2lnbmF0dXJl"
    assert service_account(token) == "system:serviceaccount:ops:knative-console"
    assert service_account("not-a-jwt") == "in-cluster service account"
