"""The console's pages beside the Kubernetes calls they need: list, details and Split Traffic with 500 Services.

Starts its own dev cluster (`python -m app.devcluster`) and console (`python -m app.cli serve`, uvicorn), each in
its own process on free loopback ports. From this process it loads each page over one keep-alive HTTP connection,
as a browser would, and makes the bare kubernetes_asyncio call the page needs through the console's own `Cluster`,
in interleaved pairs so that both see the same machine. After each list pair it also parses and renders that LIST
as the console does, timing each step here, and at the end it measures what full garbage collections cost with the
console's imports: where the list page's time goes. Prints a Markdown report on stdout and progress on stderr.
The list page is measured twice beside each LIST: as it is served (from the console's watch-fed cache of the
namespace's Services, app.web.informer) and as its first visit is (`Cache-Control: no-cache`, which makes it LIST
as before the cache); the console's memory is read at 500 and at 5,000 Services. The 4,500 extra Services are made
with config-autoscaler's `initial-scale` 0 (and `allow-zero-initial-scale`), as Knative allows: Ready without
instances, so that the dev cluster need not start 4,500 Pods. `--only list` measures just the list page (at 500,
then 5,000 Services) and where its time goes: no revisions, details, Split Traffic or browser.
`--no-list-cache` starts the console with its list cache off (KNATIVE_CONSOLE_LIST_CACHE_SERVICES=0), to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import html
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import aiohttp
from starlette.requests import Request

from app.cluster import resources as r
from app.cluster.client import Cluster, decode
from app.knative.gateway import Gateway
from app.knative.manifests import traffic_patch
from app.knative.traffic import NAMED, RowInput, parse_rows, plan
from app.settings import Settings
from app.web import services
from app.web.lookups import Lookups
from app.web.render import render, templates
from app.web.security import COOKIE, token_for
from app.web.services import ListPage, list_page
from bench.clients import MERGE, Api
from bench.devcluster import CLUSTER_ARGS, SERVICES_PATH, ready, traffic_of, wait_ready
from bench.live import GIVE_UP, LIMIT, LiveResults, measure_live
from bench.report import machine, ms, percentile, table
from tests.support import DevClusterProcess, wait_ok

NAMESPACE = "bench"  # the 500 Services, then 4,500 more (named after them, so the first page stays the same)
REVISIONS_NAMESPACE = "bench-revisions"  # one Service with 10 revisions and one with 300
SERVICES, MORE_SERVICES = 500, 5000
REVISION_COUNTS = (10, 300)
PAGE_SIZE = Settings().page_size  # the list page shows one page of the Services, as the console does
CREATE_CONCURRENCY = 16
WARM_UP = 5  # unmeasured requests of each kind, so that templates are compiled and connections open
LIST_PAIRS, DETAIL_PAIRS, SPLIT_PAIRS, REVISION_PAIRS = 200, 300, 200, 150
GC_PAGES = 30  # page-equivalents (LIST, parse, render) run to count full collections
LIST_GOAL = 1.5  # the list page's p95 ÷ the bare LIST's p95
SPLIT_GOAL = 1.5  # the Split POST's p95 ÷ the bare PATCH's p95
REVISIONS_GOAL, REVISIONS_BYTES = 1.5, 60 * 1024  # details at 300 revisions ÷ at 10 (p95); its size
SETTLE_LIMIT = 600  # seconds the dev cluster may take to stop writing after the 4,500 extra Services
SETTLE_SECONDS = 30
BROWSER = "bench-browser"  # the kc_csrf cookie this one client sends every time
IMAGE = "ghcr.io/knative/helloworld-go:latest"
FORM_TYPE = "application/x-www-form-urlencoded"
Traffic = tuple[tuple[str, int], ...]


def main(argv: list[str] | None = None) -> None:
    """`python -m bench console` calls this with no arguments: the whole benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["list"], default="",
                        help="list: only the list page beside its LIST at 500 and 5,000 Services, and its steps")
    parser.add_argument("--no-list-cache", action="store_true",
                        help="start the console with its list cache off (every list page LISTs), to compare")
    args = parser.parse_args([] if argv is None else argv)
    only = args.only
    data = Path(tempfile.mkdtemp(prefix="bench-console-"))
    cluster = DevClusterProcess(data, list(CLUSTER_ARGS))
    console = ConsoleProcess(data, list_cache=not args.no_list_cache)
    started = time.perf_counter()
    try:
        progress(f"starting the dev cluster in {data}")
        cluster.start()
        results = asyncio.run(measure(cluster, console, only))
    except Exception:
        if cluster.process is not None and cluster.process.poll() == 0:
            # A Ctrl+C in a terminal reaches the cluster too, and it may stop before this process notices.
            raise KeyboardInterrupt from None
        print("\n".join(cluster.log().splitlines()[-20:]), file=sys.stderr)
        print("\n".join(console.log().splitlines()[-20:]), file=sys.stderr)
        raise
    finally:
        console.stop()
        cluster.stop()
        shutil.rmtree(data, ignore_errors=True)
    results.total_seconds = time.perf_counter() - started
    print(report(results, only))


def progress(message: str) -> None:
    print(f"[bench console] {message}", file=sys.stderr, flush=True)


# -- the console in its own process ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ConsoleProcess:
    """`python -m app.cli serve` against the dev cluster's kubeconfig, as an operator would run it."""

    data: Path
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    list_cache: bool = True

    @property
    def log_path(self) -> Path:
        return self.data / "console.log"

    def start(self, kubeconfig: Path, timeout: float = 20.0) -> None:
        port = free_port()
        env = dict(os.environ, KNATIVE_CONSOLE_SECRET_KEY=self.secret)
        if not self.list_cache:
            env["KNATIVE_CONSOLE_LIST_CACHE_SERVICES"] = "0"
        args = [sys.executable, "-m", "app.cli", "serve", "--kubeconfig", str(kubeconfig),
                "--host", "127.0.0.1", "--port", str(port)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, cwd=Path(__file__).resolve().parent.parent, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        wait_ok(self.url + "/healthz", time.monotonic() + timeout)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rss(self) -> int:
        """The console process's resident memory, in bytes (Linux: /proc/PID/status)."""
        if self.process is None:
            return 0
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


class Browser:
    """One keep-alive HTTP connection to the console, with a CSRF cookie and its token."""

    def __init__(self, session: aiohttp.ClientSession, console: ConsoleProcess) -> None:
        self.session, self.url = session, console.url
        self.token = token_for(console.secret, BROWSER)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> bytes:
        async with self.session.get(self.url + path, headers=headers) as response:
            body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:500]!r}")
        return body

    def encoded(self, form: list[tuple[str, str]]) -> bytes:
        """The form as a browser sends it (urlencoded, with this browser's CSRF token), made before the POST is
        timed: a browser encodes its forms natively, in microseconds, where aiohttp's FormData took ~0.3 ms of this
        process's own CPU inside the timed POST (measured on this machine), which is no part of the console."""
        return urlencode([("csrf_token", self.token), *form]).encode()

    async def post(self, path: str, body: bytes) -> None:
        async with self.session.post(self.url + path, data=body, headers={"Content-Type": FORM_TYPE},
                                     allow_redirects=False) as response:
            answer = await response.read()
        if response.status != 303:
            raise RuntimeError(f"POST {path} answered {response.status}, not 303: {answer[:2000]!r}")


# -- results ---------------------------------------------------------------------------------


@dataclass
class Pairs:
    """Page and bare-call latencies, taken in alternating order, one request at a time; for the list page also
    the page as its first visit is (`cold`: listed, not read from the cache)."""

    page: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    hop: list[float] = field(default_factory=list)  # Split: a request to the console that does nothing (GET /livez)


@dataclass
class Results:
    setup_seconds: float = 0.0
    list_bytes: int = 0
    pairs: dict[str, Pairs] = field(default_factory=dict)
    phases: dict[str, list[float]] = field(default_factory=dict)
    # (objects a full collection walks, seconds per full collection), start-up heap frozen and unfrozen
    gc_frozen: tuple[int, list[float]] = (0, [])
    gc_unfrozen: tuple[int, list[float]] = (0, [])
    gc_pauses: list[float] = field(default_factory=list)  # generation-2 collections in GC_PAGES page-equivalents
    sizes: dict[str, int] = field(default_factory=dict)  # bytes of pages and dialogs, by label
    more_seconds: float = 0.0  # creating the 4,500 more Services until the cluster settled
    rss: dict[str, int] = field(default_factory=dict)  # the console's resident memory: started, at 500, at 5,000
    cached: dict[str, bool] = field(default_factory=dict)  # whether the list page was read from the cache
    live: LiveResults | None = None
    total_seconds: float = 0.0


# -- the run ---------------------------------------------------------------------------------


async def measure(cluster: DevClusterProcess, console: ConsoleProcess, only: str = "") -> Results:
    results = Results()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        api = Api(session, cluster)
        start = time.perf_counter()
        revisions = await create_services(api)
        if not only:
            await create_revisions(api)
        await api.settle()
        results.setup_seconds = time.perf_counter() - start
    # This process imports what the console does (kubernetes_asyncio, FastAPI, Jinja): ~100k objects that every
    # full collection walks. Frozen, its own collections no longer pad the bare calls; the console's still count.
    gc.collect()
    gc.freeze()
    progress("starting the console")
    console.start(cluster.kubeconfig)
    results.rss["started"] = console.rss()
    k8s = await Cluster.connect(str(cluster.kubeconfig))
    connector = aiohttp.TCPConnector(limit=1)  # one keep-alive connection, like a browser tab
    try:
        steps = await Steps.prepare(k8s, results)
        async with aiohttp.ClientSession(connector=connector, headers={"Cookie": f"{COOKIE}={BROWSER}"}) as session:
            browser = Browser(session, console)
            await measure_list(browser, steps, results, "list", SERVICES)
            results.rss["list"] = console.rss()
            if not only:
                await measure_details(browser, k8s, results)
                await measure_revisions(browser, k8s, results)
                await measure_split(browser, k8s, revisions, results)
        await measure_gc(steps, results)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            start = time.perf_counter()
            await create_more_services(Api(session, cluster))
            results.more_seconds = time.perf_counter() - start
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1),
                                         headers={"Cookie": f"{COOKIE}={BROWSER}"}) as session:
            await measure_list(Browser(session, console), steps, results, "more", MORE_SERVICES)
            results.rss["more"] = console.rss()
    finally:
        await k8s.close()
    console.stop()
    if not only:
        results.live = await measure_live(cluster.data.parent)
    return results


async def create_services(api: Api) -> dict[str, tuple[str, str]]:
    """500 Services, each with a second revision sharing traffic 50/50 with the first: {name: (first, second)}."""
    progress(f"creating {SERVICES} Services in {NAMESPACE}, {CREATE_CONCURRENCY} at a time")
    await api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": NAMESPACE}})
    path = SERVICES_PATH.format(namespace=NAMESPACE)
    names = [f"svc-{index:03d}" for index in range(SERVICES)]

    async def each(work: Callable[[str], Awaitable[object]]) -> None:
        queue = iter(names)

        async def worker() -> None:
            for name in queue:
                await work(name)

        await asyncio.gather(*(worker() for _ in range(CREATE_CONCURRENCY)))

    def manifest(name: str) -> dict[str, Any]:
        container = {"image": IMAGE, "env": [{"name": "TARGET", "value": name}]}
        return {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {"template": {"spec": {"containers": [container]}}}}

    await each(lambda name: api.call("POST", path, manifest(name)))
    await wait_ready(api, NAMESPACE, SERVICES)
    first = {i["metadata"]["name"]: i["status"]["latestReadyRevisionName"]
             for i in (await api.call("GET", path))["items"]}

    progress("giving each a second revision, traffic 50/50")

    def second(name: str) -> dict[str, Any]:
        container = {"image": IMAGE, "env": [{"name": "TARGET", "value": f"{name} v2"}]}
        return {"spec": {"template": {"spec": {"containers": [container]}},
                         "traffic": [{"latestRevision": True, "percent": 50},
                                     {"revisionName": first[name], "percent": 50}]}}

    await each(lambda name: api.call("PATCH", f"{path}/{name}", second(name), MERGE))
    await wait_ready(api, NAMESPACE, SERVICES)
    revisions: dict[str, tuple[str, str]] = {}
    for item in (await api.call("GET", path))["items"]:
        name, latest = item["metadata"]["name"], item["status"]["latestReadyRevisionName"]
        if latest == first[name] or traffic_of(item) != tuple(sorted(((first[name], 50), (latest, 50)))):
            raise RuntimeError(f"{name} did not get a second revision at 50/50: {item['status']}")
        revisions[name] = (first[name], latest)
    return revisions


async def create_revisions(api: Api) -> None:
    """In REVISIONS_NAMESPACE, `rev-10` with 10 revisions and `rev-300` with 300: each template change waits for
    its revision, so that none is skipped. The oldest keeps 10% pinned, the latest the rest."""
    await api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": REVISIONS_NAMESPACE}})
    path = SERVICES_PATH.format(namespace=REVISIONS_NAMESPACE)

    async def one(count: int) -> None:
        name = f"rev-{count}"
        await api.call("POST", path, {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                                      "metadata": {"name": name, "namespace": REVISIONS_NAMESPACE},
                                      "spec": {"template": {"spec": {"containers": [{"image": IMAGE}]}}}})
        # A change that reaches the Service before its Configuration exists makes no revision of its own.
        await api.poll(f"{path}/{name}", lambda obj: (obj.get("status") or {}).get(
            "latestCreatedRevisionName") == f"{name}-00001", "revision 1")
        for generation in range(2, count + 1):
            body: dict[str, Any] = {"spec": {"template": {"spec": {"containers": [
                {"image": IMAGE, "env": [{"name": "TARGET", "value": f"v{generation}"}]}]}}}}
            if generation == count:
                body["spec"]["traffic"] = [{"revisionName": f"{name}-00001", "percent": 10},
                                           {"latestRevision": True, "percent": 90}]
            await api.call("PATCH", f"{path}/{name}", body, MERGE)
            await api.poll(f"{path}/{name}", lambda obj, generation=generation: (obj.get("status") or {}).get(
                "latestCreatedRevisionName") == f"{name}-{generation:05d}", f"revision {generation}")

    progress(f"creating Services with {' and '.join(map(str, REVISION_COUNTS))} revisions")
    await asyncio.gather(*(one(count) for count in REVISION_COUNTS))
    await wait_ready(api, REVISIONS_NAMESPACE, len(REVISION_COUNTS))


async def create_more_services(api: Api) -> None:
    """Services up to MORE_SERVICES in NAMESPACE, one revision each, named so that they sort after the first 500:
    the list's first page stays the same 50 Services, in a namespace ten times the size."""
    more = MORE_SERVICES - SERVICES
    # Knative's own way to make a revision without instances: Ready, and scaled to zero until its first request.
    # The list shows them as any Ready Service; the dev cluster starts no 4,500 Pods for them.
    await api.call("PATCH", "/api/v1/namespaces/knative-serving/configmaps/config-autoscaler",
                   {"data": {"initial-scale": "0", "allow-zero-initial-scale": "true"}}, MERGE)
    progress(f"creating {more} more Services in {NAMESPACE}, {CREATE_CONCURRENCY} at a time (initial scale 0)")
    path = SERVICES_PATH.format(namespace=NAMESPACE)
    names = iter(f"zz-{index:04d}" for index in range(more))

    async def worker() -> None:
        for name in names:
            await api.call("POST", path, {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                                          "metadata": {"name": name, "namespace": NAMESPACE},
                                          "spec": {"template": {"spec": {"containers": [{"image": IMAGE}]}}}})

    await asyncio.gather(*(worker() for _ in range(CREATE_CONCURRENCY)))
    progress("waiting for the dev cluster to stop writing")
    await api.settle(SETTLE_LIMIT)


async def timed(call: Awaitable[object]) -> float:
    start = time.perf_counter()
    await call
    return time.perf_counter() - start


async def pair(pairs: Pairs, index: int, page: Callable[[], Awaitable[object]],
               bare: Callable[[], Awaitable[object]]) -> None:
    """One page request and one bare call, the page first on even turns, so neither always follows the other."""
    if index % 2 == 0:
        pairs.page.append(await timed(page()))
        pairs.bare.append(await timed(bare()))
    else:
        pairs.bare.append(await timed(bare()))
        pairs.page.append(await timed(page()))


COLD = {"Cache-Control": "no-cache"}  # the list page as on a first visit: listed, not read from the cache
SERVICE_LISTS = re.compile(rb'knative_console_kubernetes_requests_total\{outcome="ok",resource="services\.serving\.'
                           rb'knative\.dev",verb="list"\} ([0-9.e+]+)')


async def service_lists(browser: Browser) -> float:
    """How many LISTs of Services the console has made (its /metrics)."""
    found = SERVICE_LISTS.search(await browser.get("/metrics"))
    return float(found.group(1)) if found else 0.0


async def cache_answers(browser: Browser, path: str) -> bool:
    """Whether the console answers the list page from its cache: no LIST for the page, once the cache is listed."""
    deadline = time.perf_counter() + SETTLE_SECONDS
    while time.perf_counter() < deadline:
        before = await service_lists(browser)
        for _ in range(3):
            await browser.get(path)
        if await service_lists(browser) == before:
            return True
        await asyncio.sleep(0.2)
    return False


async def measure_list(browser: Browser, steps: Steps, results: Results, key: str, services: int) -> None:
    """Triples of (page as served, page as on a first visit, bare LIST) in turn; after each, the page's own steps on
    the LIST path, timed here on the bare LIST's answer."""
    path = f"/namespaces/{NAMESPACE}/services"
    html = await browser.get(path, COLD)
    rows = html.count(b"<tr data-service=")
    if rows != PAGE_SIZE or f"of {services}".encode() not in html:
        raise RuntimeError(f"the list page shows {rows} Services, not the first {PAGE_SIZE} of {services}")
    results.sizes[key] = len(html)
    results.cached[key] = await cache_answers(browser, path)
    if results.cached[key] and await browser.get(path) != html:
        raise RuntimeError("the list page read from the cache is not the page a LIST gives")
    progress(f"list page with {services} Services ({'read from the cache' if results.cached[key] else 'listed'}): "
             f"{LIST_PAIRS} triples of GET {path}, the same with Cache-Control: no-cache, and LIST services")
    for _ in range(WARM_UP):
        await browser.get(path)
        await browser.get(path, COLD)
        steps.time(await steps.list(), {})
    pairs = results.pairs[key] = Pairs()
    answers: list[dict[str, Any]] = []

    async def bare() -> None:
        answers.append(await steps.list())

    calls: list[tuple[list[float], Callable[[], Awaitable[object]]]] = [
        (pairs.page, lambda: browser.get(path)), (pairs.cold, lambda: browser.get(path, COLD)), (pairs.bare, bare)]
    for index in range(LIST_PAIRS):
        for samples, call in calls[index % 3:] + calls[:index % 3]:  # each first, second and third in turn
            samples.append(await timed(call()))
        steps.time(answers.pop(), results.phases if key == "list" else {})


async def measure_details(browser: Browser, k8s: Cluster, results: Results) -> None:
    progress(f"details page: {DETAIL_PAIRS} pairs of GET /namespaces/{NAMESPACE}/services/NAME and GET service")
    for index in range(WARM_UP):
        await browser.get(f"/namespaces/{NAMESPACE}/services/svc-{index:03d}")
    pairs = results.pairs["details"] = Pairs()
    for index in range(DETAIL_PAIRS):
        name = f"svc-{index % SERVICES:03d}"
        await pair(pairs, index, lambda name=name: browser.get(f"/namespaces/{NAMESPACE}/services/{name}"),
                   lambda name=name: k8s.get(r.SERVICE, name, NAMESPACE))


async def measure_revisions(browser: Browser, k8s: Cluster, results: Results) -> None:
    """The details page of the Service with 10 revisions and of the one with 300, in alternating pairs, as opened
    again (kept rendered by the console) and built anew (`Cache-Control: no-cache`, as a hard reload: what the first
    view after a change costs, its unchanged rows still kept); the size of each, and of its Split Traffic dialog."""
    progress(f"details page at {' and '.join(map(str, REVISION_COUNTS))} revisions: {REVISION_PAIRS} pairs")
    low, high = (f"/namespaces/{REVISIONS_NAMESPACE}/services/rev-{count}" for count in REVISION_COUNTS)
    for count, path in zip(REVISION_COUNTS, (low, high), strict=True):
        results.sizes[f"details{count}"] = len(await browser.get(path))
        results.sizes[f"dialog{count}"] = len(await browser.get(path + "/traffic", {"HX-Request": "true",
                                                                                      "HX-Target": "dialog"}))
    for _ in range(WARM_UP):
        await browser.get(low)
        await browser.get(high)
    pairs = results.pairs["revisions"] = Pairs()  # page: 300 revisions, bare: 10 revisions
    anew = results.pairs["revisions-anew"] = Pairs()  # the same, each page built anew (as after a change)
    for index in range(REVISION_PAIRS):
        await pair(pairs, index, lambda: browser.get(high), lambda: browser.get(low))
        await pair(anew, index, lambda: browser.get(high, COLD), lambda: browser.get(low, COLD))


def split_rows(revisions: tuple[str, str], even: bool) -> list[RowInput]:
    """The Split Traffic form's rows: both revisions by name, at 50/50 or 100/0."""
    first, second = revisions
    return [RowInput(NAMED, second, "50" if even else "100"), RowInput(NAMED, first, "50" if even else "0")]


def wanted(revisions: tuple[str, str], even: bool) -> Traffic:
    first, second = revisions
    return tuple(sorted(((first, 50), (second, 50)))) if even else ((second, 100),)


HIDDEN = re.compile(rb'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def form_of(dialog: bytes, rows: list[RowInput]) -> list[tuple[str, str]]:
    """What a browser posts from the Split Traffic dialog as rendered (its basis, whatever the console version puts
    in it) with these rows typed in."""
    form = [(name.decode(), html.unescape(value.decode())) for name, value in HIDDEN.findall(dialog)
            if not name.startswith(b"row_") and name != b"csrf_token"]
    for row in rows:
        form += [("row_kind", row.kind), ("row_revision", row.revision), ("row_percent", row.percent),
                 ("row_tag", row.tag)]
    return [*form, ("action", "ok")]


async def settled(k8s: Cluster, name: str, traffic: Traffic) -> dict[str, Any]:
    """The Service once its status shows `traffic` at its current generation, Ready."""
    obj: dict[str, Any] = {}
    try:
        async with asyncio.timeout(SETTLE_SECONDS):
            while True:
                obj = await k8s.get(r.SERVICE, name, NAMESPACE)
                if ready(obj) and traffic_of(obj) == traffic:
                    return obj
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise RuntimeError(f"{name} did not show the traffic {traffic}: {obj.get('status')}") from None


async def measure_split(browser: Browser, k8s: Cluster, revisions: dict[str, tuple[str, str]],
                        results: Results) -> None:
    """Each turn changes one Service's split twice, once by the form and once by the bare PATCH, and waits
    (untimed) for the reconciler to show each change before the next write, which carries the new resourceVersion."""
    progress(f"Split Traffic: {SPLIT_PAIRS} pairs of POST .../traffic and merge-PATCH spec.traffic")
    pairs = results.pairs["split"] = Pairs()
    for index in range(-WARM_UP, SPLIT_PAIRS):
        name = f"svc-{index % SERVICES:03d}"
        both = revisions[name]
        current = await k8s.get(r.SERVICE, name, NAMESPACE)
        # Every Service starts at 50/50: the first write of the turn makes it 100/0, the second 50/50 again.
        turn: list[tuple[str, bool]] = [("page", False), ("bare", True)] if index % 2 == 0 else \
            [("bare", False), ("page", True)]
        for who, even in turn:
            rows, rv = split_rows(both, even), current["metadata"]["resourceVersion"]
            if who == "page":  # the dialog as the user opened it (untimed), then OK
                path = f"/namespaces/{NAMESPACE}/services/{name}/traffic"
                dialog = await browser.get(path, {"HX-Request": "true", "HX-Target": "dialog"})
                body = browser.encoded(form_of(dialog, rows))
                seconds = await timed(browser.post(path, body))
            else:
                body = traffic_patch(rv, plan(parse_rows(rows, name)))  # what the console sends
                seconds = await timed(k8s.patch(r.SERVICE, name, body, NAMESPACE, patch_type="merge"))
            if index >= 0:
                (pairs.page if who == "page" else pairs.bare).append(seconds)
            current = await settled(k8s, name, wanted(both, even))
        # What one request to the console costs by itself on this machine, taken as the POST is (after the dialog):
        # the POST is that request with the PATCH inside it and the console's own work around the PATCH.
        await browser.get(f"/namespaces/{NAMESPACE}/services/{name}/traffic", {"HX-Request": "true",
                                                                             "HX-Target": "dialog"})
        seconds = await timed(browser.get("/livez"))
        if index >= 0:
            pairs.hop.append(seconds)


@dataclass
class Steps:
    """The list page's work, done here one step at a time as the console does it for each request."""

    k8s: Cluster
    request: Request
    payload: bytes  # a LIST answer as it came over the wire
    gateway: Gateway
    namespaces: list[str] | None

    @classmethod
    async def prepare(cls, k8s: Cluster, results: Results) -> Steps:
        settings = Settings(secret_key="bench")
        app = SimpleNamespace(state=SimpleNamespace(templates=templates(), settings=settings))
        if hasattr(services, "render_list"):
            from app.web.rows import RowCache

            app.state.rows = RowCache()
        request = Request({"type": "http", "method": "GET", "path": f"/namespaces/{NAMESPACE}/services",
                           "headers": [], "query_string": b"", "app": app})
        request.state.csrf_token = token_for(settings.secret_key, BROWSER)
        config = k8s.api.configuration  # the dev cluster's CA and the admin's token, as the console has them
        headers = {"Accept": "application/json", "Authorization": config.api_key["BearerToken"]}
        async with aiohttp.ClientSession() as session:
            url = k8s.server + SERVICES_PATH.format(namespace=NAMESPACE) + f"?limit={PAGE_SIZE}"
            async with session.get(url, headers=headers,
                                   ssl=ssl.create_default_context(cafile=config.ssl_ca_cert)) as response:
                payload = await response.read()
        results.list_bytes = len(payload)
        lookups = Lookups(k8s, settings)
        return cls(k8s, request, payload, await lookups.gateway(), await lookups.namespaces())

    async def list(self) -> dict[str, Any]:
        """What the list page asks for: its first page of Services."""
        return await self.k8s.list(r.SERVICE, NAMESPACE, limit=PAGE_SIZE)

    def parse(self, listed: dict[str, Any]) -> ListPage:
        return list_page(NAMESPACE, listed, self.gateway, self.namespaces)

    def render(self, page: ListPage) -> bytes:
        state = self.request.app.state
        if hasattr(services, "render_list"):  # rows from a cache kept across requests, regions, then the page
            page.regions = services.render_list(state.templates, state.settings, state.rows, page)
        return bytes(render(self.request, "services.html", page).body)

    def time(self, listed: dict[str, Any], phases: dict[str, list[float]]) -> None:
        """Decode the wire answer, parse `listed` and render it, appending each step's seconds to `phases`."""
        start = time.perf_counter()
        decode(self.payload)  # as the console decodes each answer
        decoded = time.perf_counter()
        page = self.parse(listed)
        parsed = time.perf_counter()
        self.render(page)
        rendered = time.perf_counter()
        for key, seconds in (("json", decoded - start), ("parse", parsed - decoded), ("render", rendered - parsed)):
            phases.setdefault(key, []).append(seconds)


async def measure_gc(steps: Steps, results: Results) -> None:
    """What full collections cost with this process's start-up heap frozen and unfrozen (as in the console),
    and how often the list page's work sets one off."""
    progress(f"garbage collection: {GC_PAGES} page-equivalents with the start-up heap unfrozen")
    results.gc_frozen = (len(gc.get_objects()), full_collections())
    gc.unfreeze()
    results.gc_unfrozen = (len(gc.get_objects()), full_collections())
    pauses: list[float] = []
    started: list[float] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started.append(time.perf_counter())
            else:
                pauses.append(time.perf_counter() - started.pop())

    gc.callbacks.append(watch)
    try:
        for _ in range(GC_PAGES):
            steps.render(steps.parse(await steps.list()))
    finally:
        gc.callbacks.remove(watch)
    results.gc_pauses = pauses


def full_collections(samples: int = 5) -> list[float]:
    """Seconds taken by full collections (gc.collect()) of this process's heap as it stands."""
    seconds = []
    for _ in range(samples):
        start = time.perf_counter()
        gc.collect()
        seconds.append(time.perf_counter() - start)
    return seconds


# -- the report ------------------------------------------------------------------------------


def ratio_row(results: Results, key: str, label: str, bare: str, cold: bool = False) -> tuple[list[str], float]:
    pairs = results.pairs[key]
    page = pairs.cold if cold else pairs.page
    page50, page95 = percentile(page, 50), percentile(page, 95)
    bare50, bare95 = percentile(pairs.bare, 50), percentile(pairs.bare, 95)
    return [label, str(len(page)), ms(page50), ms(page95), bare, ms(bare50), ms(bare95),
            f"{page50 / bare50:.2f}×", f"{page95 / bare95:.2f}×"], page95 / bare95


def mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def verdict(ratio: float, goal: float) -> str:
    return f"{ratio:.2f}× (goal ≤ {goal}×: {'met' if ratio <= goal else '**missed**'})"


def hop_lines(split: Pairs | None) -> list[str]:
    """The Split POST against the bare PATCH plus one request to the console that does nothing, taken in the same
    turns: what is left is the console's own work on the POST."""
    if split is None or not split.hop:
        return []
    post, patch, hop = ([percentile(samples, q) for q in (50, 95)] for samples in (split.page, split.bare, split.hop))
    return [f"- A request to the console that does nothing (GET /livez, after the dialog as each POST): "
            f"p50 {ms(hop[0])}, p95 {ms(hop[1])}. Split POST − bare PATCH: p50 {ms(post[0] - patch[0])}, p95 "
            f"{ms(post[1] - patch[1])}; so the console's own work on the POST, beyond that one request, is "
            f"{ms(post[0] - patch[0] - hop[0])} at p50. Split POST p95 ÷ (bare PATCH p95 + that request's p95): "
            f"{post[1] / (patch[1] + hop[1]):.2f}×"]


def report(results: Results, only: str = "") -> str:
    sizes = results.sizes
    small, big = (sizes.get(f"details{count}", 0) for count in REVISION_COUNTS)
    rows, ratios = [], {}

    def served(key: str) -> str:
        return "from the cache" if results.cached.get(key) else "listed: the cache did not answer"

    for key, count, bare in (("list", SERVICES, f"LIST services, limit={PAGE_SIZE} "
                                                 f"({results.list_bytes / 1024:.0f} KiB JSON)"),
                             ("more", MORE_SERVICES, f"LIST services, limit={PAGE_SIZE}")):
        if key in results.pairs:
            row, ratios[key] = ratio_row(results, key, f"List page, {count:,} Services, as served ({served(key)}; "
                                         f"{sizes[key] / 1024:.0f} KiB HTML)", bare)
            rows.append(row)
            row, ratios[f"{key}-cold"] = ratio_row(results, key, "… on a first visit (listed: `Cache-Control: "
                                                   "no-cache`)", bare, cold=True)
            rows.append(row)
    for key, label, bare in (
        ("details", "Details page (2 revisions)", "GET service"),
        ("split", "Split Traffic POST → 303", "merge-PATCH spec.traffic"),
        ("revisions", f"Details page, {REVISION_COUNTS[1]} revisions ({big / 1024:.0f} KiB), opened again",
         f"the same at {REVISION_COUNTS[0]} revisions ({small / 1024:.0f} KiB)"),
        ("revisions-anew", "… built anew (`Cache-Control: no-cache`, as after a change)",
         f"the same at {REVISION_COUNTS[0]} revisions"),
    ):
        if key in results.pairs:
            row, ratios[key] = ratio_row(results, key, label, bare)
            rows.append(row)

    listing = results.pairs["list"]
    page50 = percentile(listing.cold, 50)  # the steps are the listed page's
    phase = {key: percentile(samples, 50) for key, samples in results.phases.items()}
    phase["list"] = percentile(listing.bare, 50)
    rest = page50 - phase["list"] - phase["parse"] - phase["render"]

    def step(label: str, seconds: float) -> list[str]:
        return [label, ms(seconds), f"{seconds / page50:.0%}"]

    phase_rows = [
        step("kubernetes_asyncio LIST (the bare call above: HTTP, API server, JSON decode)", phase["list"]),
        step(f"… of which decoding the {results.list_bytes / 1024:.0f} KiB answer (`decode`: orjson)", phase["json"]),
        step("`list_page`: the page's context from the LIST (before: `service_from` × 50 and traffic summaries)",
             phase["parse"]),
        step(f"rendering `services.html` ({sizes['list'] / 1024:.0f} KiB; after: rows of unchanged Services from the "
             "row cache)", phase["render"]),
        step("the rest: HTTP, FastAPI, middleware, cached lookups, GC (listed page p50 − the above)", rest),
    ]
    gc_rows = [
        ["start-up heap unfrozen, as in the console (kubernetes_asyncio, FastAPI, Jinja)",
         f"{results.gc_unfrozen[0]:,}", ms(percentile(results.gc_unfrozen[1], 50))],
        ["start-up heap frozen (`gc.freeze()`)", f"{results.gc_frozen[0]:,}", ms(percentile(results.gc_frozen[1], 50))],
    ]
    pauses = results.gc_pauses
    gc_line = f"With the heap unfrozen, {GC_PAGES} page-equivalents (LIST, parse, render) here set off {len(pauses)}"
    gc_line += (f" full collections: {ms(percentile(pauses, 50))} each (p50), {ms(sum(pauses) / GC_PAGES)} a page "
                "on average." if pauses else " full collections.")
    head = [
        "## Console benchmark",
        "",
        f"{machine()}.",
        f"`python -m app.devcluster {' '.join(CLUSTER_ARGS)}` and `python -m app.cli serve` (uvicorn), each its own",
        "process on loopback; this process loads the pages over one keep-alive connection (aiohttp) and makes the",
        "bare calls with kubernetes_asyncio through the console's `Cluster`, one request at a time, alternating",
        "page-first and call-first. Percentiles come from this one run. This process freezes its own start-up heap",
        "(`gc.freeze()`) so that its full collections do not pad the bare calls; the console's are part of the page.",
        "",
        f"Setup: {SERVICES} Services in `{NAMESPACE}`, each with 2 Ready revisions at 50/50"
        + ("" if only else f", and Services with {' and '.join(map(str, REVISION_COUNTS))} revisions")
        + f", in {results.setup_seconds:.1f} s; later {MORE_SERVICES - SERVICES} more Services (sorting after the "
        f"first page, initial scale 0) in {results.more_seconds:.0f} s."
        + (f" Only the {only} page (`--only {only}`)." if only else ""),
        "",
        table(["Console", "requests", "p50", "p95", "compared with", "p50", "p95", "p50 ÷", "p95 ÷"], rows),
        "",
        "The list page is requested three ways in turn, each first, second and third as often: as a browser asks for",
        "it (answered from the console's watch-fed cache of the namespace's Services once that is listed), with",
        "`Cache-Control: no-cache` (as a first visit or a hard reload: the page LISTs), and the bare LIST.",
        "",
        f"- List page p95 ÷ bare LIST p95 at {SERVICES} Services: {verdict(ratios['list'], LIST_GOAL)}; "
        f"on a first visit {ratios['list-cold']:.2f}×",
        f"- … at {MORE_SERVICES:,} Services: {verdict(ratios['more'], LIST_GOAL)}; on a first visit "
        f"{ratios['more-cold']:.2f}×",
        f"- The console's memory (RSS): {mib(results.rss.get('started', 0))} after start, "
        f"{mib(results.rss.get('list', 0))} after the pages at {SERVICES} Services, "
        f"{mib(results.rss.get('more', 0))} after those at {MORE_SERVICES:,}"
        + ("" if results.cached.get("more") else " (the list cache off)") + ".",
        "",
    ]
    steps = [
        table([f"List page steps, timed here after each pair (p50 of {LIST_PAIRS})", "p50", "of page p50"],
              phase_rows),
        "",
        table(["Full garbage collection in this process", "objects walked", "p50 of 5"], gc_rows),
        "",
        gc_line,
        "",
        f"Whole run: {results.total_seconds:.0f} s.",
    ]
    if only:
        return "\n".join(head + steps)

    size_rows = [[f"Details page, {count} revisions", f"{sizes[f'details{count}'] / 1024:.1f} KiB"]
                 for count in REVISION_COUNTS]
    size_rows += [[f"Split Traffic dialog, {count} revisions", f"{sizes[f'dialog{count}'] / 1024:.1f} KiB"]
                  for count in REVISION_COUNTS]
    live = results.live or LiveResults()
    live_rows = [["settled page", *live.line("settled")], ["mid-rollout page (a revision deploying)",
                                                           *live.line("rollout")]]
    return "\n".join(head + [
        "The details page reads the Service's revisions and pods from the console's watch-fed caches and is kept",
        "rendered until something it shows changes; built anew (a hard reload), it renders only its rows that changed",
        "since they were last rendered (here none: each is built from the same objects). For each Split Traffic",
        "POST the dialog is first opened (untimed) and its form posted as a browser would; each POST and each bare",
        "PATCH changes the split (100/0 ↔ 50/50), and the next write waits, untimed, until the Service's status",
        "shows the change. Namespaces and the gateway are cached by the console for 10 s.",
        "",
        f"- Split POST p95 ÷ bare PATCH p95: {verdict(ratios['split'], SPLIT_GOAL)}",
        *hop_lines(results.pairs.get("split")),
        f"- Details page p95 at {REVISION_COUNTS[1]} ÷ at {REVISION_COUNTS[0]} revisions: "
        f"{verdict(ratios['revisions'], REVISIONS_GOAL)}; built anew {ratios['revisions-anew']:.2f}×; "
        f"{big / 1024:.0f} KiB "
        f"(goal < {REVISIONS_BYTES // 1024} KiB: {'met' if big < REVISIONS_BYTES else '**missed**'})",
        "",
        table(["Page and dialog sizes", "bytes"], size_rows),
        "",
        table(["Change made with kubectl → visible in Chromium", "shown", "p50", "p95"], live_rows),
        "",
        "Each change is a `kubectl patch` of the Service's traffic tag; the time runs from kubectl's exit to a",
        f"MutationObserver in the page seeing the tag's URL in the traffic table (not shown within {LIMIT:.0f} s",
        f"counts as missed; after {GIVE_UP} misses with none shown, that kind of page is written off). Goal: p95",
        "≤ 100 ms for both.",
        "",
    ] + steps)


if __name__ == "__main__":
    main(sys.argv[1:])
