"""Live pages stay bounded: `knative-console serve` in its own process holds 200 open streams (10 tabs on each of
20 details pages) through 2,000 changes made by another client, every tab sees the last change of its page, and
the console's resident memory does not grow between the first 200 changes and the last."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.browser.conftest import free_port
from tests.support import ROOT, DevClusterProcess, ksvc_manifest, wait_ok
from tests.web.conftest import KSVC

SERVICES, TABS, CHANGES, WARM_UP = 20, 10, 2000, 200
GROWTH_LIMIT = 20 * 2**20  # bytes: far below what keeping each change (or a queue per tab) would cost


def rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024


class Tab:
    """One open details page's stream: the last tag its traffic region showed. Like a browser's EventSource, it
    reconnects when the console ends its stream (a tab that falls behind, as this test's reader can on a loaded
    machine, is cut and catches up from the last event it got: View.catch_up)."""

    def __init__(self) -> None:
        self.last_tag = ""
        self.last_id = ""
        self.events = 0
        self.reconnects = 0

    async def read(self, session: aiohttp.ClientSession, url: str, opened: asyncio.Event) -> None:
        while True:
            headers = {"Last-Event-ID": self.last_id} if self.last_id else {}
            async with session.get(url, headers=headers) as response:
                assert response.status == 200
                name = ""
                async for raw in response.content:
                    line = raw.decode().rstrip("\n")
                    opened.set()
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("id: "):
                        self.last_id = line[4:]
                    elif line.startswith("data: ") and name == "traffic":
                        found = re.search(r'<code class="tag" title="Traffic tag">(t\d+)</code>', line)
                        if found:
                            self.last_tag = found.group(1)
                    elif not line and name:
                        self.events += 1
                        name = ""
            self.reconnects += 1


@pytest.fixture
def served_console(devcluster: DevClusterProcess, tmp_path: Path) -> Iterator[tuple[int, str]]:
    """`knative-console serve` in its own process: (pid, url). It must stop within 15 s of SIGTERM, streams open."""
    port = free_port()
    env = dict(os.environ, KNATIVE_CONSOLE_LIVE_MAX_STREAMS_PER_USER="1000", KNATIVE_CONSOLE_LIVE_HEARTBEAT="2",
               KNATIVE_CONSOLE_SECRET_KEY="memory-test-" + "k" * 32)
    log = tmp_path / "console.log"
    with open(log, "wb") as output:
        console = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--kubeconfig",
                                    str(devcluster.kubeconfig), "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ok(url + "/healthz", time.monotonic() + 20)
        yield console.pid, url
    finally:
        console.terminate()
        try:
            console.wait(15)
        except subprocess.TimeoutExpired:
            console.kill()
            raise AssertionError("the console did not stop within 15 s of SIGTERM with streams open") from None
    # uvicorn raises the signal again once it has shut down cleanly: SIGTERM's own exit status is a clean stop.
    assert console.returncode in (0, -signal.SIGTERM), log.read_text()[-3000:]
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.mark.timeout(240)
async def test_200_streams_through_2000_changes_keep_memory_flat(devcluster: DevClusterProcess,
                                                                 served_console: tuple[int, str]) -> None:
    ns = devcluster.new_namespace("mem")
    names = [f"svc-{index:02d}" for index in range(SERVICES)]
    for name in names:
        code, _, body = devcluster.request("POST", KSVC.format(ns=ns), ksvc_manifest(name, ns))
        assert code == 201, body
    pid, url = served_console
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        paths = {}
        for name in names:
            async with session.get(f"{url}/namespaces/{ns}/services/{name}") as page:
                text = await page.text()
            paths[name] = re.search(r'sse-connect="([^"]+)"', text).group(1).replace("&amp;", "&")
        tabs = {name: [Tab() for _ in range(TABS)] for name in names}
        opened = [asyncio.Event() for _ in range(SERVICES * TABS)]
        readers = [asyncio.create_task(tab.read(session, url + paths[name], opened[i * TABS + j]))
                   for i, name in enumerate(names) for j, tab in enumerate(tabs[name])]
        async with asyncio.timeout(60):
            for event in opened:
                await event.wait()
        async with session.get(url + "/metrics") as metrics:
            assert re.search(r"^knative_console_live_streams (\d+)", await metrics.text(), re.M).group(1) == \
                str(SERVICES * TABS)

        tls = devcluster.tls()  # one context: connections to the dev cluster are kept alive and reused

        async def change(index: int) -> None:
            name = names[index % SERVICES]
            patch = {"spec": {"traffic": [{"latestRevision": True, "percent": 100, "tag": f"t{index}"}]}}
            async with session.patch(f"{devcluster.api_url}{KSVC.format(ns=ns)}/{name}", data=json.dumps(patch),
                                     headers={"Content-Type": "application/merge-patch+json", **devcluster.auth},
                                     ssl=tls) as answer:
                assert answer.status == 200, await answer.text()

        async def changes(first: int, last: int) -> None:
            queue = iter(range(first, last))

            async def worker() -> None:
                for index in queue:
                    await change(index)

            await asyncio.gather(*(worker() for _ in range(4)))
            final = {name: f"t{max(i for i in range(first, last) if i % SERVICES == n)}"
                     for n, name in enumerate(names)}
            def behind() -> list[str]:
                return [f"{name} tab {j}: {tab.last_tag} not {final[name]}"
                        f"{' (its reader ended)' if readers[i * TABS + j].done() else ''}"
                        for i, name in enumerate(names) for j, tab in enumerate(tabs[name]) if tab.last_tag != final[name]]

            deadline = asyncio.get_running_loop().time() + 90
            while late := behind():
                assert asyncio.get_running_loop().time() < deadline, \
                    f"{len(late)} of {SERVICES * TABS} tabs never showed their page's last change: {late[:10]}"
                await asyncio.sleep(0.1)

        await changes(0, WARM_UP)
        settled = rss(pid)
        await changes(WARM_UP, CHANGES)
        grown = rss(pid) - settled
        reconnects = sum(tab.reconnects for name in names for tab in tabs[name])
        print(f"RSS {settled / 2**20:.1f} MiB after {WARM_UP} changes, {grown / 2**20:+.1f} MiB after {CHANGES}; "
              f"{reconnects} streams cut and reconnected")
        assert grown < GROWTH_LIMIT, f"the console grew by {grown / 2**20:.1f} MiB over {CHANGES - WARM_UP} changes"
        assert all(tab.events >= 2 for name in names for tab in tabs[name])
        for reader in readers:
            reader.cancel()
