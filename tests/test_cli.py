"""The command line: `--help` of both programs, a secret key too short and a kubeconfig that cannot be loaded refused
in one line, the warning of a shared console without a secret key, and `knative-console dev` stopping the dev cluster it
started whether it is stopped with Ctrl+C (SIGINT) or SIGTERM (kill, systemd, containers), and passing its
`--log-format json` on, so that the dev cluster's lines are JSON in the console's JSON stream too."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import fields

import pytest

from app.cli import _warn_without_secret_key, main, parser
from app.settings import Settings
from tests.browser.conftest import _alive, _children, free_port, listening
from tests.support import ROOT


def test_help_texts() -> None:
    for args in (["-m", "app.cli", "--help"], ["-m", "app.cli", "serve", "--help"], ["-m", "app.cli", "dev", "--help"],
                 ["-m", "app.devcluster", "--help"]):
        result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=30,
                                env={**os.environ, "COLUMNS": "80"})
        assert result.returncode == 0 and "usage:" in result.stdout, result.stderr
        # No flag is cut at a line's end ("--insecure-" / "allow-unauthenticated" was).
        assert not re.search(r"--[a-z-]*-$", result.stdout, re.M), result.stdout


@pytest.mark.parametrize(("sig", "log_format", "node"), [
    (signal.SIGINT, "text", ()), (signal.SIGTERM, "json", ("--node-cpu", "3500m", "--node-memory", "2Gi", "--node-pods", "7"))])
def test_dev_stops_what_it_started(tmp_path, sig: signal.Signals, log_format: str, node: tuple[str, ...]) -> None:  # noqa: ANN001
    ports = [free_port() for _ in range(4)]
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dev", "--port", str(ports[0]), "--api-port", str(ports[1]),
         "--gateway-port", str(ports[2]), "--internal-gateway-port", str(ports[3]), "--data", str(tmp_path / "data"),
         "--log-format", log_format, *node],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    children: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while not all(listening(p) for p in ports):
            assert process.poll() is None and time.monotonic() < deadline, "knative-console dev did not start"
            time.sleep(0.1)
        children = _children(process.pid)
        # The node's size reaches the dev cluster (found by a walkthrough: only python -m app.devcluster took it).
        shown = subprocess.run(["kubectl", "--kubeconfig", str(tmp_path / "data" / "kubeconfig"), "get", "node",
                                "devcluster", "-o", "jsonpath={.status.capacity}"], capture_output=True, text=True,
                               timeout=30, check=True).stdout
        capacity = json.loads(shown)
        assert (capacity["cpu"], capacity["memory"], capacity["pods"]) == (
            ("3500m", "2Gi", "7") if node else ("8", "16Gi", "110")), capacity
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
        for child in children:  # a failed assertion above leaves no dev cluster behind (it has a session of its own)
            if _alive(child):
                os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--node-pods", "0", "'0' is not a whole number of pods, at least 1"),
    ("--node-cpu", "lots", "'lots' is not a quantity"),
    ("--node-memory", "0", "'0' is not above zero")])
def test_dev_refuses_a_node_size_it_cannot_use_before_starting_anything(tmp_path, flag: str, value: str,  # noqa: ANN001
                                                                        message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "app.cli", "dev", "--port", str(free_port()), "--data",
                             str(tmp_path / "data"), flag, value], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and f"knative-console dev: error: argument {flag}: {message}" in result.stderr, \
        result.stderr
    assert not (tmp_path / "data").exists()  # no dev cluster was started


def _serve(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    environ = {key: value for key, value in os.environ.items() if not key.startswith("KNATIVE_CONSOLE_")}
    return subprocess.run([sys.executable, "-m", "app.cli", "serve", "--port", str(free_port()), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, env={**environ, "HOME": str(tmp_path), **env})


@pytest.mark.parametrize("key", ["", "   ", "changeme", "x" * 31])
def test_a_secret_key_too_short_to_sign_with_is_refused(tmp_path, key: str) -> None:  # noqa: ANN001
    """An empty key (a Secret created with an empty literal, say) signed every form with a key anyone knows."""
    result = _serve(tmp_path, KNATIVE_CONSOLE_SECRET_KEY=key)
    assert result.returncode == 2, result.stderr
    assert (f"KNATIVE_CONSOLE_SECRET_KEY is {len(key.strip())} characters long: it signs every form and encrypts the "
            "sessions, so it must be at least 32 random characters, the same on every replica. Make one with "
            "`openssl rand -base64 32`.") in result.stderr


@pytest.mark.parametrize(("settings", "warned"), [
    (Settings(auth="token"), True),
    (Settings(auth="proxy"), True),
    # One person's console (docker compose's too): a form open across a restart is all that is lost.
    (Settings(), False),
    (Settings(host="0.0.0.0", insecure_allow_unauthenticated=True), False),  # noqa: S104
])
def test_a_shared_console_without_a_secret_key_says_what_that_costs(caplog: pytest.LogCaptureFixture,
                                                                     settings: Settings, warned: bool) -> None:
    caplog.set_level(logging.WARNING, "knative_console")
    _warn_without_secret_key(settings, {})
    _warn_without_secret_key(settings, {"KNATIVE_CONSOLE_SECRET_KEY": "k" * 44})
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ([
        "KNATIVE_CONSOLE_SECRET_KEY is not set: this process made a random key, so sign-ins and open forms end when it "
        "restarts, and replicas behind one address refuse each other's (their forms get 403 and users are signed "
        "out). Set the same key on every replica: `openssl rand -base64 32`."] if warned else [])


@pytest.mark.parametrize(("content", "why"), [
    ("garbage: [\n", "expected the node content"),
    ("[1, 2]\n", "could not load the cluster configuration from"),
    ("apiVersion: v1\n", "Expected key current-context"),
    (None, "Is a directory"),
])
def test_a_kubeconfig_that_cannot_be_loaded_is_said_in_one_line(tmp_path, content: str | None, why: str) -> None:  # noqa: ANN001
    """Not a traceback from the app's start-up (uvicorn's "Application startup failed" after 20 lines of it)."""
    path = tmp_path / "kubeconfig"
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    result = _serve(tmp_path, "--kubeconfig", str(path))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"knative-console: could not load the cluster configuration from {path}: "), result.stderr
    assert why in line
    assert line.endswith("Name a readable kubeconfig with --kubeconfig (or KUBECONFIG), or run the console in a pod "
                         "with a service account.")


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("KNATIVE_CONSOLE_PORT", "abc", "KNATIVE_CONSOLE_PORT must be a whole number, not 'abc'"),
    ("KNATIVE_CONSOLE_SESSION_IDLE", "30m", "KNATIVE_CONSOLE_SESSION_IDLE must be a number, not '30m'"),
    ("KNATIVE_CONSOLE_LIVE_HEARTBEAT", "nan", "KNATIVE_CONSOLE_LIVE_HEARTBEAT must be a finite number, not 'nan'"),
    ("KNATIVE_CONSOLE_INSECURE_ALLOW_UNAUTHENTICATED", "maybe", "KNATIVE_CONSOLE_INSECURE_ALLOW_UNAUTHENTICATED must "
     "be true or false (1/0, yes/no, on/off), not 'maybe'"),
    ("KNATIVE_CONSOLE_PORT", "0", "--port (KNATIVE_CONSOLE_PORT) must be a port, 1–65535, not 0"),
    ("KNATIVE_CONSOLE_REQUEST_TIMEOUT", "0", "KNATIVE_CONSOLE_REQUEST_TIMEOUT must be a number of seconds above 0, "
     "not 0.0"),
    ("KNATIVE_CONSOLE_LIVE_HEARTBEAT", "-1", "KNATIVE_CONSOLE_LIVE_HEARTBEAT must be a number of seconds above 0, "
     "not -1.0"),
    ("KNATIVE_CONSOLE_PAGE_SIZE", "0", "KNATIVE_CONSOLE_PAGE_SIZE must be a whole number, 1 or more, not 0"),
    ("KNATIVE_CONSOLE_LIVE_MAX_STREAMS", "0", "KNATIVE_CONSOLE_LIVE_MAX_STREAMS must be a whole number, 1 or more, "
     "not 0"),
    ("KNATIVE_CONSOLE_LIVE_MAX_STREAMS_PER_USER", "-5", "KNATIVE_CONSOLE_LIVE_MAX_STREAMS_PER_USER must be a whole "
     "number, 1 or more, not -5"),
    ("KNATIVE_CONSOLE_LIST_CACHE_SERVICES", "-1", "KNATIVE_CONSOLE_LIST_CACHE_SERVICES must be a whole number, 0 (no "
     "caches) or more, not -1"),
    ("KNATIVE_CONSOLE_SESSION_IDLE", "0", "--session-idle (KNATIVE_CONSOLE_SESSION_IDLE) must be a number of seconds "
     "above 0, not 0.0"),
])
def test_a_setting_that_cannot_work_is_refused_naming_its_variable(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str], variable: str,
                                                                   value: str, said: str) -> None:
    """Before, a word where a number goes ended in a ValueError traceback, and 0 or less started a console that
    could not work (every call timed out at once, a list of 0 per page, heartbeats in a busy loop)."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--kubeconfig", "/nonexistent/kubeconfig"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"knative-console: error: {said}"


def test_flags_and_spaces_around_numbers() -> None:
    settings = Settings.from_env({"KNATIVE_CONSOLE_PORT": " 8080\n", "KNATIVE_CONSOLE_INSECURE_ALLOW_UNAUTHENTICATED": "",
                                  "KNATIVE_CONSOLE_SECRET_KEY": " kept as it is \n"}, port=9000)
    assert (settings.port, settings.insecure_allow_unauthenticated) == (9000, False)  # the flag wins
    assert settings.secret_key == " kept as it is \n"
    assert Settings.from_env({"KNATIVE_CONSOLE_PORT": " 8080\n"}).port == 8080
    assert Settings().problems() == []


def test_serve_help_names_every_setting_and_every_flag_has_its_variable() -> None:
    """`serve --help` is what an operator reads: before, it named no environment variable (the secret key above all),
    and the top-level help said every flag had one, which dev's own have not."""
    commands = next(action for action in parser()._actions if action.dest == "command")  # noqa: SLF001
    serve, dev = commands.choices["serve"], commands.choices["dev"]
    shown = " ".join(serve.format_help().split())
    settings = {item.name for item in fields(Settings)} - {"dev_cluster"}  # set by `dev` itself
    flags = {option[2:].replace("-", "_") for action in serve._actions for option in action.option_strings  # noqa: SLF001
             if option.startswith("--") and option != "--help"}
    assert flags <= settings, flags - settings  # KNATIVE_CONSOLE_<FLAG> is read for each
    for name in sorted(settings - flags):
        assert f"KNATIVE_CONSOLE_{name.upper()} (" in shown, name
    dev_only = {option for action in dev._actions for option in action.option_strings  # noqa: SLF001
                if option[2:].replace("-", "_") not in settings and option not in ("-h", "--help")}
    dev_help = " ".join(dev.format_help().split())
    assert dev_only and all(f"{option}," in dev_help or f"{option})" in dev_help for option in dev_only), dev_only
    assert "are flags only" in dev_help
