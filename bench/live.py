"""Change → visible: a Service's details page open in headless Chromium, a change made with kubectl, and the time
from kubectl's exit to the page showing it (a MutationObserver in the page notes when), for a settled page and for
one whose newest revision is still deploying. Part of `bench.console`; its own dev cluster (revisions take
ROLLOUT_SECONDS to become Ready, so that a page can be caught mid-rollout) and console, on free loopback ports."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Page, async_playwright

from bench.report import percentile
from tests.support import DevClusterProcess, ksvc_manifest, kubectl_binary, wait_for

ROLLOUT_SECONDS = 20  # how long a new revision deploys: the window for the mid-rollout samples
SAMPLES = 20
LIMIT = 3.0  # seconds a change may take to show before it counts as not shown
GIVE_UP = 3  # changes not shown, none shown yet, before a kind of page is written off
PHASE = 2.0  # a random pause up to this long before each change: the interval of a page that polls
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SERVICE = "live"
# Notes the wall-clock time at which the traffic table first shows the watched text, whatever replaced it.
OBSERVER = """
window.__watch = null; window.__seen = null;
new MutationObserver(() => {
  if (!window.__watch || window.__seen) return;
  const table = document.querySelector("table.traffic-now");
  if (table && table.textContent.includes(window.__watch)) window.__seen = Date.now();
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@dataclass
class LiveResults:
    settled: list[float] = field(default_factory=list)  # seconds from kubectl's exit to the page showing it
    settled_missed: int = 0
    rollout: list[float] = field(default_factory=list)
    rollout_missed: int = 0
    tried: dict[str, int] = field(default_factory=dict)

    def line(self, key: str) -> list[str]:
        shown: list[float] = getattr(self, key)
        missed: int = getattr(self, f"{key}_missed")
        if not shown:
            return [f"0 of {self.tried.get(key, 0)}", "never", "never"]
        return [f"{len(shown)} of {self.tried.get(key, 0)}" + (f" ({missed} not within {LIMIT:.0f} s)" if missed
                                                               else ""),
                f"{percentile(shown, 50) * 1000:.0f} ms", f"{percentile(shown, 95) * 1000:.0f} ms"]


def progress(message: str) -> None:
    print(f"[bench console] {message}", flush=True, file=sys.stderr)


async def measure_live(parent: Path) -> LiveResults:
    from bench.console import ConsoleProcess  # the same console process helper

    data = Path(tempfile.mkdtemp(prefix="bench-live-", dir=parent))
    cluster = DevClusterProcess(data, ["--revision-start-delay", str(ROLLOUT_SECONDS), "--log-level", "warning"])
    console = ConsoleProcess(data)
    results = LiveResults()
    try:
        progress(f"change → visible: a dev cluster whose revisions take {ROLLOUT_SECONDS} s to become Ready")
        cluster.start()
        kubectl(cluster, "apply", "-f", "-", stdin=json.dumps(ksvc_manifest(SERVICE)))
        wait_for(lambda: ready(cluster), timeout=ROLLOUT_SECONDS + 30, interval=0.2, message="the Service Ready")
        console.start(cluster.kubeconfig)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                tab = await browser.new_page()
                await tab.add_init_script(OBSERVER)
                url = f"{console.url}/namespaces/default/services/{SERVICE}"
                await tab.goto(url)
                await asyncio.sleep(1)  # the stream (if any) connected
                progress(f"change → visible, settled page: up to {SAMPLES} kubectl changes")
                await sample(cluster, tab, results, "settled", SAMPLES)
                progress(f"change → visible, mid-rollout page: {SAMPLES} kubectl changes")
                window = 0
                while len(results.rollout) + results.rollout_missed < SAMPLES and results.rollout_missed < GIVE_UP:
                    window += 1
                    kubectl(cluster, "patch", "ksvc", SERVICE, "--type", "merge", "-p", json.dumps(
                        {"spec": {"template": {"spec": {"containers": [
                            {"image": "ghcr.io/knative/helloworld-go:latest",
                             "env": [{"name": "TARGET", "value": f"rollout {window}"}]}]}}}}))
                    await tab.goto(url)  # opened while the new revision deploys
                    await asyncio.sleep(1)
                    deadline = time.monotonic() + ROLLOUT_SECONDS - 4
                    while time.monotonic() < deadline and len(results.rollout) < SAMPLES:
                        if not await sample(cluster, tab, results, "rollout", 1):
                            break
                    wait_for(lambda: ready(cluster), timeout=ROLLOUT_SECONDS + 30, interval=0.2,
                             message="the new revision Ready")
            finally:
                await browser.close()
    finally:
        console.stop()
        cluster.stop()
    return results


async def sample(cluster: DevClusterProcess, tab: Page, results: LiveResults, key: str, count: int) -> bool:
    """`count` traffic changes made with kubectl, each timed until the page shows it; False once GIVE_UP in a row
    have not shown."""
    shown: list[float] = getattr(results, key)
    for _ in range(count):
        index = results.tried.get("settled", 0) + results.tried.get("rollout", 0)
        results.tried[key] = results.tried.get(key, 0) + 1
        tag = f"t{index}"
        await asyncio.sleep(random.uniform(0, PHASE))  # not in step with a page that polls
        await tab.evaluate("text => { window.__watch = text; window.__seen = null; }",
                           f"{tag}-{SERVICE}.default.example.com")
        kubectl(cluster, "patch", "ksvc", SERVICE, "--type", "merge", "-p", json.dumps(
            {"spec": {"traffic": [{"latestRevision": True, "percent": 100, "tag": tag}]}}))
        exited = time.time()
        seen = None
        while seen is None and time.time() - exited < LIMIT:
            seen = await tab.evaluate("window.__seen")
            if seen is None:
                await asyncio.sleep(0.01)
        if seen is None:
            setattr(results, f"{key}_missed", getattr(results, f"{key}_missed") + 1)
            if getattr(results, f"{key}_missed") >= GIVE_UP and not shown:
                return False
        else:
            shown.append(max(seen / 1000 - exited, 0.0))  # 0: shown before kubectl had quite exited
    return True


def kubectl(cluster: DevClusterProcess, *args: str, stdin: str | None = None) -> str:
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    result = subprocess.run([kubectl_binary("1.33"), "-n", "default", *args], env=env, capture_output=True,
                            text=True, timeout=60, input=stdin, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result.stdout


def ready(cluster: DevClusterProcess) -> bool:
    obj = cluster.get(f"/apis/serving.knative.dev/v1/namespaces/default/services/{SERVICE}")
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"]["generation"] and \
        status.get("latestReadyRevisionName") == status.get("latestCreatedRevisionName") and \
        any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
