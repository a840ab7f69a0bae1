"""Browser-test helpers: `knative-console dev` in its own process on free loopback ports, the system
Chromium driven by Playwright, the page's console and page errors, and the gateway reached over HTTP."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright, expect

from tests.support import ROOT, kubectl_binary

# How long an `expect` waits for what it checks before it fails (Playwright's default: 5 s). A step passes as soon as
# its condition holds; the ceiling is for a loaded machine (the suite runs three workers on two cores), where a page
# that follows the cluster took longer than 5 s now and then.
expect.set_options(timeout=10_000)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
OUTPUT = ROOT / "test-output" / "browser"
CONSOLE_BIN = ROOT / ".venv" / "bin" / "knative-console"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@dataclass
class ConsoleProcess:
    """`knative-console dev` (the console plus its dev cluster child) with a data directory of its own."""

    data: Path
    port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    internal_gateway_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    cluster_pids: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data.parent / "console.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        """kubectl 1.33 against its dev cluster, through the kubeconfig `dev` wrote; its output."""
        result = subprocess.run([kubectl_binary("1.33"), "--kubeconfig", str(self.data / "kubeconfig"), *args],
                                capture_output=True, text=True, timeout=60, input=stdin)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self, timeout: float = 30.0) -> ConsoleProcess:
        executable = str(CONSOLE_BIN) if CONSOLE_BIN.exists() else shutil.which("knative-console")
        assert executable, "knative-console is not installed: run `make test` (pip install -e '.[test]')"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [executable, "dev", "--port", str(self.port), "--api-port", str(self.api_port),
                 "--gateway-port", str(self.gateway_port), "--internal-gateway-port", str(self.internal_gateway_port),
                 "--data", str(self.data)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"knative-console dev exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the console did not answer within {timeout:.0f} s:\n{self.log()}")
            time.sleep(0.1)
        self.cluster_pids = _children(self.process.pid)
        return self

    def stop(self, timeout: float = 15.0) -> list[str]:
        """Ctrl+C, as a user stops it; what did not go cleanly, as sentences (empty when all went well)."""
        problems: list[str] = []
        if self.process is None:
            return problems
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                problems.append(f"knative-console did not exit within {timeout:.0f} s of SIGINT; killed it")
                self.process.kill()
                self.process.wait()
        if self.process.returncode != 0:
            problems.append(f"knative-console exited with {self.process.returncode} after SIGINT")
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in self.cluster_pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in self.cluster_pids:
            if _alive(pid):
                problems.append(f"the dev cluster (pid {pid}) outlived the console; killed it")
                os.kill(pid, signal.SIGKILL)
        for port in (self.port, self.api_port, self.gateway_port, self.internal_gateway_port):
            if listening(port):
                problems.append(f"port {port} still answers after the console stopped")
        self.process = None
        return problems


@pytest.fixture
def console_server(tmp_path: Path) -> Iterator[ConsoleProcess]:
    server = ConsoleProcess(tmp_path / "devcluster").start()
    try:
        yield server
    finally:
        problems = server.stop()
        assert not problems, "\n".join(problems) + "\n" + server.log()[-4000:]


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


def chromium_path() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"the browser tests need the system Chromium at {CHROMIUM}: run `make test` (it runs "
                    "scripts/ensure-chromium.sh), or `apt-get install chromium`, or set CHROMIUM=/path/to/chromium.",
                    pytrace=False)
    return CHROMIUM


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class PageProblems:
    """Console errors and uncaught exceptions in the page: CSP violations and script errors land here."""

    console: list[str] = field(default_factory=list)
    uncaught: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console.append(f"{message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error: Error) -> None:
        self.uncaught.append(f"{error.name}: {error.message}")


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[tuple[Page, PageProblems]]:
    context = await browser.new_context(viewport={"width": 1400, "height": 1200})
    opened = await context.new_page()
    problems = PageProblems()
    opened.on("console", problems.on_console)
    opened.on("pageerror", problems.on_page_error)
    try:
        yield opened, problems
    finally:
        if problems.console or problems.uncaught:  # shown with a failure, whichever step it was in
            print("browser console errors:", *problems.console, "page errors:", *problems.uncaught, sep="\n  ")
        await context.close()


async def gateway_answers(gateway: str, host: str, count: int) -> Counter[str]:
    """`count` requests through the gateway for `host`, as curl would send them: how often each body came back."""
    answers: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=f"http://{gateway}", headers={"Host": host}, timeout=10,
                                 trust_env=False) as client:
        for _ in range(count):
            response = await client.get("/")
            answers[f"{response.status_code} {response.text.strip()}"] += 1
    return answers
