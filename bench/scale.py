"""The dev cluster at 100, 1,000 and 5,000 Services: memory, restart, list latency, catch-up and create rate.

Each Service has its Configuration, Route and two Revisions (its template is changed once). One dev cluster
grows through the levels; at each level this measures, over real HTTP from this process:

- RSS of the dev cluster process once it has settled, and again after a restart;
- restart: SIGTERM, start again, time until `/readyz` answers;
- after the restart, while the controllers catch up: GET and gateway probes every 20 ms and one PATCH, the
  longest any of them waited (the stall), and their p95 beside the same probes once settled. The gateway probes go
  to the Services kept warm (every WARM_EVERY-th has min-scale 1), so that they measure the gateway rather than the
  cold-start delay; one request to a Service scaled to zero measures a cold start while catching up, beside one
  once settled;
- LIST of one page (limit=50) of Services, and a Service's revisions (labelSelector) LIST, p95;
- creating Services: the rate of 100 POSTs (8 at a time) with the level's Services already there.

Then the slow-watcher run: RSS after 24,000 writes, once without and once with 50 watch clients that never read.

`BENCH_SCALE_LEVELS=100,1000` limits the levels (default: 100, 1,000 and 5,000); `BENCH_SCALE_KEEP=DIR` keeps
each level's data directory (`DIR/<level>`) for `python -m bench.memory`.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.clients import MERGE, Api
from bench.report import machine, ms, percentile, table
from tests.support import DevClusterProcess, ksvc_manifest

# A node as large as the run's Services need (each revision's pod asks queue-proxy's 25m): the figures measure the
# API and the controllers, not the scheduler's limits (the default node takes 110 pods).
CLUSTER_ARGS = ("--revision-start-delay", "0", "--log-level", "warning", "--node-cpu", "1000", "--node-pods", "100000")
LEVELS = (100, 1_000, 5_000)
NAMESPACE = "scale"
SERVICES = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"
REVISIONS = "/apis/serving.knative.dev/v1/namespaces/{ns}/revisions"
LOAD_CONCURRENCY, CREATE_PROBE, CREATE_CONCURRENCY = 8, 100, 8
SAMPLES = 200
PROBE_INTERVAL = 0.02
CATCH_UP_LIMIT, IDLE_CPU = 240.0, 0.25  # seconds; the share of a CPU below which the cluster counts as idle
STEADY_SECONDS = 5.0
SETTLE_LIMIT = 600  # seconds the cluster may keep writing after a level's Services are made
WARM_EVERY = 50  # every 50th Service keeps an instance (min-scale 1): the gateway probes' targets
MIN_SCALE = "autoscaling.knative.dev/min-scale"
WAIT_SECONDS = 1800
WRITES, SLOW_WATCHERS, WRITE_CONCURRENCY, CONFIGMAPS = 24_000, 50, 8, 100
GOALS = {  # the goals, checked in the printed table
    "rss_1000": 200.0, "rss_5000": 600.0, "restart_5000": 5.0, "list_ratio": 1.5, "stall": 0.200,
    "catch_up_ratio": 3.0, "create_5000": 60.0, "revisions_ratio": 1.3, "slow_watchers": 50.0,
}


def main() -> None:
    levels = tuple(int(x) for x in os.environ.get("BENCH_SCALE_LEVELS", "").split(",") if x) or LEVELS
    keep = os.environ.get("BENCH_SCALE_KEEP", "")
    started = time.perf_counter()
    rows = run_levels(levels, Path(keep) if keep else None)
    watchers = run_slow_watchers()
    print(render(rows, watchers, time.perf_counter() - started))


def progress(message: str) -> None:
    print(f"[bench scale] {message}", file=sys.stderr, flush=True)


# -- the dev cluster process -------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_of(cluster: DevClusterProcess) -> int:
    assert cluster.process is not None
    return cluster.process.pid


async def wait_idle(pid: int, limit: float) -> float:
    """Seconds until the process uses less than IDLE_CPU of a CPU over one second (or `limit`)."""
    start = time.perf_counter()
    last = cpu_seconds(pid)
    while time.perf_counter() - start < limit:
        await asyncio.sleep(1.0)
        now = cpu_seconds(pid)
        if now - last < IDLE_CPU:
            return time.perf_counter() - start - 1.0
        last = now
    return limit


# -- loading Services --------------------------------------------------------------------------


def service_name(index: int) -> str:
    return f"svc-{index:05d}"


def manifest(name: str) -> dict[str, Any]:
    body = ksvc_manifest(name, NAMESPACE, env={"TARGET": name})
    if int(name.rsplit("-", 1)[1]) % WARM_EVERY == 0:
        body["spec"]["template"]["metadata"] = {"annotations": {MIN_SCALE: "1"}}
    return body


def has_revisions(obj: dict[str, Any], count: int) -> bool:
    status = obj.get("status") or {}
    latest = status.get("latestReadyRevisionName") or ""
    return (
        status.get("observedGeneration") == obj["metadata"].get("generation")
        and latest.endswith(f"-{count:05d}")
        and any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    )


async def wait_all(api: Api, names: list[str], revisions: int) -> None:
    """Wait until each named Service is Ready on its `revisions`-th revision.

    A few Services are looked at one by one every 50 ms; many, page by page every second.
    """
    wanted = set(names)
    done: set[str] = set()
    few = len(names) <= CREATE_PROBE
    deadline = time.perf_counter() + WAIT_SECONDS
    while time.perf_counter() < deadline:
        if few:
            for name in sorted(wanted - done):
                if has_revisions(await api.call("GET", f"{SERVICES.format(ns=NAMESPACE)}/{name}"), revisions):
                    done.add(name)
        else:
            done, token = set(), ""
            while True:
                page = await api.call("GET", SERVICES.format(ns=NAMESPACE) + f"?limit=500&continue={token}")
                done |= {i["metadata"]["name"] for i in page["items"] if has_revisions(i, revisions)}
                token = page["metadata"].get("continue", "")
                if not token:
                    break
        if wanted <= done:
            return
        await asyncio.sleep(0.05 if few else 1.0)
    raise RuntimeError(f"{len(wanted - done)} Services not Ready on revision {revisions}")


async def each(names: list[str], concurrency: int, call: Any) -> float:
    """Run `call(name)` for every name, `concurrency` at a time; the seconds it took."""
    queue = iter(names)
    start = time.perf_counter()

    async def worker() -> None:
        for name in queue:
            await call(name)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def grow(api: Api, names: list[str], concurrency: int) -> tuple[float, float]:
    """Create the Services, wait for their first revision, give each a second one.

    Returns the seconds the POSTs took, and the seconds until every one of them was Ready.
    """
    path = SERVICES.format(ns=NAMESPACE)
    start = time.perf_counter()
    seconds = await each(
        names, concurrency, lambda n: api.call("POST", path, manifest(n))
    )
    await wait_all(api, names, 1)
    ready = time.perf_counter() - start
    template = {"spec": {"template": {"spec": {"containers": [
        {"image": "ghcr.io/knative/helloworld-go:latest", "env": [{"name": "TARGET", "value": "second"}]}]}}}}
    await each(names, concurrency, lambda n: api.call("PATCH", f"{path}/{n}", template, MERGE))
    await wait_all(api, names, 2)
    return seconds, ready


# -- probes ------------------------------------------------------------------------------------


@dataclass
class Probes:
    get: list[float] = field(default_factory=list)
    gateway: list[float] = field(default_factory=list)
    write: list[float] = field(default_factory=list)
    cold_start: list[float] = field(default_factory=list)
    failures: int = 0

    @property
    def stall(self) -> float:
        return max(self.get + self.gateway + self.write, default=0.0)


async def gateway_get(session: aiohttp.ClientSession, gateway: str, index: int, probes: Probes) -> float:
    sent = time.perf_counter()
    async with session.get(gateway, headers={"Host": f"{service_name(index)}.{NAMESPACE}.example.com"}) as response:
        await response.read()
    if response.status != 200:
        probes.failures += 1
    return time.perf_counter() - sent


async def probe(api: Api, gateway: str, level: int, until: asyncio.Event | float, write_at: float = -1,
                cold: int = -1) -> Probes:
    """GET and gateway probes every PROBE_INTERVAL until `until` (an event, or seconds from now); the write and the
    cold start (to Service number `cold`) at `write_at` seconds."""
    probes = Probes()
    start = time.perf_counter()
    rng = random.Random(level)  # noqa: S311 - which Service to probe

    def done() -> bool:
        if isinstance(until, asyncio.Event):
            return until.is_set()
        return time.perf_counter() - start >= until

    async def getter() -> None:
        while not done():
            name = service_name(rng.randrange(level))
            probes.get.append((await api.timed("GET", f"{SERVICES.format(ns=NAMESPACE)}/{name}"))[0])
            await asyncio.sleep(PROBE_INTERVAL)

    async def gateway_prober(session: aiohttp.ClientSession) -> None:
        while not done():
            index = rng.randrange(0, level, WARM_EVERY)
            probes.gateway.append(await gateway_get(session, gateway, index, probes))
            await asyncio.sleep(PROBE_INTERVAL)

    async def writer() -> None:
        await asyncio.sleep(write_at)
        name = service_name(rng.randrange(level))
        body = {"metadata": {"labels": {"bench-probe": str(time.time_ns())}}}
        probes.write.append((await api.timed("PATCH", f"{SERVICES.format(ns=NAMESPACE)}/{name}", body, MERGE))[0])

    async def cold_starter(session: aiohttp.ClientSession) -> None:
        await asyncio.sleep(write_at)
        probes.cold_start.append(await gateway_get(session, gateway, cold, probes))

    async with aiohttp.ClientSession() as session:
        tasks = [getter(), gateway_prober(session)] + ([writer()] if write_at >= 0 else [])
        tasks += [cold_starter(session)] if cold >= 0 else []
        await asyncio.gather(*tasks)
    return probes


async def sampled(api: Api, path: str, count: int = SAMPLES, warm_up: int = 10) -> list[float]:
    for _ in range(warm_up):
        await api.timed("GET", path)
    return [(await api.timed("GET", path))[0] for _ in range(count)]


# -- one level ---------------------------------------------------------------------------------


@dataclass
class Level:
    services: int
    rss: float = 0.0
    rss_restarted: float = 0.0
    restart: float = 0.0
    catch_up: float = 0.0
    during: Probes = field(default_factory=Probes)
    steady: Probes = field(default_factory=Probes)
    list_page: list[float] = field(default_factory=list)
    revisions: list[float] = field(default_factory=list)
    create_rate: float = 0.0
    ready_rate: float = 0.0


async def measure_level(cluster: DevClusterProcess, level: int, loaded: int) -> tuple[Level, DevClusterProcess]:
    result = Level(level)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        api = Api(session, cluster)
        if loaded == 0:
            await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        bulk = [service_name(i) for i in range(loaded, level - CREATE_PROBE)]
        if bulk:
            progress(f"{level}: loading {len(bulk)} Services")
            await grow(api, bulk, LOAD_CONCURRENCY)
            await api.settle(SETTLE_LIMIT)
        progress(f"{level}: creating the last {CREATE_PROBE}, {CREATE_CONCURRENCY} at a time")
        seconds, ready = await grow(
            api, [service_name(i) for i in range(level - CREATE_PROBE, level)], CREATE_CONCURRENCY
        )
        result.create_rate, result.ready_rate = CREATE_PROBE / seconds, CREATE_PROBE / ready
        await api.settle(SETTLE_LIMIT)
        await wait_idle(pid_of(cluster), CATCH_UP_LIMIT)
        result.rss = rss_mb(pid_of(cluster))
        progress(f"{level}: RSS {result.rss:.0f} MB; LIST and revisions LIST")
        result.list_page = await sampled(api, SERVICES.format(ns=NAMESPACE) + "?limit=50")
        name = service_name(level // 2)
        result.revisions = await sampled(
            api, REVISIONS.format(ns=NAMESPACE) + f"?labelSelector=serving.knative.dev/service={name}"
        )
    progress(f"{level}: restart")
    cluster.stop()
    started = time.perf_counter()
    cluster = DevClusterProcess(cluster.data, cluster.extra_args).start(timeout=300)
    result.restart = time.perf_counter() - started
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        api = Api(session, cluster)
        idle = asyncio.Event()

        async def watch_cpu() -> None:
            result.catch_up = await wait_idle(pid_of(cluster), CATCH_UP_LIMIT)
            idle.set()

        progress(f"{level}: catch-up after the restart ({result.restart:.1f} s to /readyz)")
        cold = [1, 2]  # not kept warm, created first: scaled to zero long ago
        _, result.during = await asyncio.gather(
            watch_cpu(), probe(api, cluster.gateway_url, level, idle, 1.0, cold=cold[0]))
        result.rss_restarted = rss_mb(pid_of(cluster))
        result.steady = await probe(api, cluster.gateway_url, level, STEADY_SECONDS, 1.0, cold=cold[1])
    return result, cluster


def run_levels(levels: tuple[int, ...], keep: Path | None) -> list[Level]:
    data = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    cluster = DevClusterProcess(data, list(CLUSTER_ARGS))
    rows: list[Level] = []
    try:
        progress(f"starting the dev cluster in {data}")
        cluster.start()
        loaded = 0
        for level in levels:
            row, cluster = asyncio.run(measure_level(cluster, level, loaded))
            rows.append(row)
            loaded = level
            if keep is not None:
                progress(f"{level}: keeping a copy of the data in {keep / str(level)}")
                shutil.copytree(data, keep / str(level), dirs_exist_ok=True)
    except Exception:
        print("\n".join(cluster.log().splitlines()[-30:]), file=sys.stderr)
        raise
    finally:
        cluster.stop()
        shutil.rmtree(data, ignore_errors=True)
    return rows


# -- slow watchers -----------------------------------------------------------------------------


@dataclass
class Watchers:
    rss_without: float = 0.0
    rss_with: float = 0.0
    cut_off: int = 0
    write_rate: float = 0.0


def stalled_watch(cluster: DevClusterProcess, path: str) -> socket.socket:
    """A watch whose client sends its request (over TLS, as the admin) and never reads a byte of the answer."""
    host, port = cluster.api_url.removeprefix("https://").rsplit(":", 1)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((host, int(port)))
    sock = cluster.tls().wrap_socket(raw, server_hostname=host)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n"
                 f"Authorization: Bearer {cluster.token}\r\n\r\n".encode())
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Read what the server sent; True when it ended the connection."""
    sock.settimeout(2.0)
    try:
        while True:
            if not sock.recv(1 << 20):
                return True
    except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
        return False
    except OSError:
        return True
    finally:
        sock.close()


async def writes(api: Api, count: int) -> float:
    """`count` merge-patches of 8 KiB of ConfigMap data, spread over CONFIGMAPS ConfigMaps; writes per second."""
    path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    for index in range(CONFIGMAPS):
        await api.call("POST", path, {"metadata": {"name": f"cm-{index}"}, "data": {"v": ""}})
    sequence = iter(range(count))
    start = time.perf_counter()

    async def worker() -> None:
        for index in sequence:
            body = {"data": {"v": f"{index:08d}" * 1024}}
            await api.call("PATCH", f"{path}/cm-{index % CONFIGMAPS}", body, MERGE)

    await asyncio.gather(*(worker() for _ in range(WRITE_CONCURRENCY)))
    return count / (time.perf_counter() - start)


async def slow_watcher_run(cluster: DevClusterProcess, watchers: int) -> tuple[float, int, float]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        api = Api(session, cluster)
        await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        path = f"/api/v1/namespaces/{NAMESPACE}/configmaps?watch=true"
        socks = [stalled_watch(cluster, path) for _ in range(watchers)]
        rate = await writes(api, WRITES)
        await api.settle()
        rss = rss_mb(pid_of(cluster))
    cut_off = sum(closed_by_server(sock) for sock in socks)
    return rss, cut_off, rate


def run_slow_watchers() -> Watchers:
    result = Watchers()
    for watchers in (0, SLOW_WATCHERS):
        data = Path(tempfile.mkdtemp(prefix="bench-watchers-"))
        cluster = DevClusterProcess(data, list(CLUSTER_ARGS))
        try:
            progress(f"slow watchers: {WRITES} writes with {watchers} watch clients that never read")
            cluster.start()
            rss, cut_off, rate = asyncio.run(slow_watcher_run(cluster, watchers))
        finally:
            cluster.stop(sig=signal.SIGTERM)
            shutil.rmtree(data, ignore_errors=True)
        if watchers:
            result.rss_with, result.cut_off = rss, cut_off
        else:
            result.rss_without, result.write_rate = rss, rate
    return result


# -- the report --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def p95(values: list[float]) -> float:
    return percentile(values, 95) if values else 0.0


def render(rows: list[Level], watchers: Watchers, seconds: float) -> str:
    by = {row.services: row for row in rows}
    base = rows[0]
    main_rows = [[
        f"{row.services:,}", f"{row.rss:.0f} MB", f"{row.rss_restarted:.0f} MB", f"{row.restart:.2f} s",
        ms(p95(row.list_page)), f"{p95(row.list_page) / p95(base.list_page):.2f}×",
        ms(p95(row.revisions)), f"{p95(row.revisions) / p95(base.revisions):.2f}×", f"{row.create_rate:.0f}/s",
        f"{row.ready_rate:.0f}/s",
    ] for row in rows]
    catch_rows = [[
        f"{row.services:,}", f"{row.catch_up:.1f} s", ms(row.during.stall),
        ms(p95(row.during.get)), ms(p95(row.steady.get)), f"{p95(row.during.get) / p95(row.steady.get):.1f}×",
        ms(p95(row.during.gateway)), ms(p95(row.steady.gateway)),
        f"{p95(row.during.gateway) / p95(row.steady.gateway):.1f}×",
        ms(row.during.write[0]) if row.during.write else "-",
        ms(row.during.cold_start[0]) if row.during.cold_start else "-",
        ms(row.steady.cold_start[0]) if row.steady.cold_start else "-",
    ] for row in rows]
    goals = []
    if 1_000 in by:
        rss = max(by[1_000].rss, by[1_000].rss_restarted)
        goals.append(["RSS at 1,000 ≤ 200 MB (the larger of the two)", f"{rss:.0f} MB",
                      verdict(rss <= GOALS["rss_1000"])])
    if 5_000 in by:
        top = by[5_000]
        during = max(p95(top.during.get) / p95(top.steady.get), p95(top.during.gateway) / p95(top.steady.gateway))
        rss = max(top.rss, top.rss_restarted)
        goals += [
            ["RSS at 5,000 ≤ 600 MB (the larger of the two)", f"{rss:.0f} MB", verdict(rss <= GOALS["rss_5000"])],
            ["restart to /readyz at 5,000 ≤ 5 s", f"{top.restart:.2f} s",
             verdict(top.restart <= GOALS["restart_5000"])],
            ["LIST limit=50 p95 at 5,000 ≤ 1.5× at 100", f"{p95(top.list_page) / p95(base.list_page):.2f}×",
             verdict(p95(top.list_page) <= GOALS["list_ratio"] * p95(base.list_page))],
            ["no stall over 200 ms during catch-up at 5,000", ms(top.during.stall),
             verdict(top.during.stall <= GOALS["stall"])],
            ["GET and gateway p95 during catch-up ≤ 3× steady", f"{during:.1f}×",
             verdict(during <= GOALS["catch_up_ratio"])],
            ["creating Services at 5,000 ≥ 60/s (POSTs answered; Ready shown beside)",
             f"{top.create_rate:.0f}/s ({top.ready_rate:.0f}/s Ready)",
             verdict(top.create_rate >= GOALS["create_5000"])],
            ["revisions LIST p95 at 5,000 ≤ 1.3× at 100", f"{p95(top.revisions) / p95(base.revisions):.2f}×",
             verdict(p95(top.revisions) <= GOALS["revisions_ratio"] * p95(base.revisions))],
        ]
    grown = watchers.rss_with - watchers.rss_without
    goals.append([f"{SLOW_WATCHERS} stalled watchers during {WRITES:,} writes: RSS within 50 MB", f"+{grown:.0f} MB",
                  verdict(grown <= GOALS["slow_watchers"])])
    return "\n".join([
        "## Dev cluster at scale",
        "",
        f"{machine()}.",
        f"`python -m app.devcluster {' '.join(CLUSTER_ARGS)}`; each Service has its Configuration, Route and two",
        f"Revisions; every {WARM_EVERY}th keeps an instance (min-scale 1) and takes the gateway probes, the others",
        "scale to zero once idle: the cold starts are one request each to a Service scaled to zero (the cluster's",
        "--cold-start-delay, 1 s by default, is most of it).",
        "p95s from this one run; ratios against the first level or against the settled cluster. POSTs:",
        f"{CREATE_PROBE} Services created {CREATE_CONCURRENCY} at a time with the level's Services there, POSTs",
        "answered a second; Ready: the same Services over the seconds until every one had its first revision Ready.",
        "",
        table(["Services", "RSS", "RSS after restart", "restart to /readyz", "LIST limit=50 p95", "÷ first",
               "revisions LIST p95", "÷ first", "POSTs", "Ready"], main_rows),
        "",
        table(["Services", "catch-up after restart", "longest wait", "GET p95 catching up", "settled", "ratio",
               "gateway p95 catching up", "settled", "ratio", "one PATCH", "cold start catching up", "settled"],
              catch_rows),
        "",
        f"Slow watchers: {WRITES:,} ConfigMap merge-patches ({watchers.write_rate:.0f}/s), RSS "
        f"{watchers.rss_without:.0f} MB without and {watchers.rss_with:.0f} MB with {SLOW_WATCHERS} watch clients "
        f"that never read; {watchers.cut_off} of them were cut off by the server.",
        "",
        table(["Goal", "measured", "result"], goals),
        "",
        f"Whole run: {seconds:.0f} s.",
    ])


if __name__ == "__main__":
    main()
