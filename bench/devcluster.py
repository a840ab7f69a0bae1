"""The dev cluster under load: API latency beside 500 Services, traffic propagation, the gateway.

Starts its own `python -m app.devcluster` on free loopback ports and uses real HTTP only, from
this one process with keep-alive aiohttp sessions, so client and server share the machine's CPUs.
Prints a Markdown report on stdout and progress on stderr.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.clients import MERGE, Api, Load, ObjectWatch, send_load
from bench.report import machine, ms, percentile, table
from tests.support import DevClusterProcess, ksvc_manifest

# A node as large as the run's Services need (each revision's pod asks queue-proxy's 25m): the figures measure the
# API and the controllers, not the scheduler's limits (the default node takes 110 pods).
CLUSTER_ARGS = ("--revision-start-delay", "0", "--log-level", "warning", "--node-cpu", "1000", "--node-pods", "100000")
NAMESPACE = "bench"  # only the 500 Services, so a LIST returns exactly them
TRAFFIC_NAMESPACE = "bench-traffic"
SERVICES = 500
CREATE_CONCURRENCY = 16
LISTS, GETS, PATCHES, WATCHED_PATCHES, TRAFFIC_PATCHES = 200, 500, 300, 200, 200
TRAFFIC_GOAL = 0.050  # p95, seconds
GATEWAY_CLIENTS, GATEWAY_SECONDS = 20, 5.0
SPLIT_REQUESTS, SPLIT_GOAL = 10_000, 1.5  # points
SERVICES_PATH = "/apis/serving.knative.dev/v1/namespaces/{namespace}/services"
READY_SECONDS = 120
Traffic = tuple[tuple[str, int], ...]


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="bench-devcluster-"))
    cluster = DevClusterProcess(data, list(CLUSTER_ARGS))
    started = time.perf_counter()
    try:
        progress(f"starting the dev cluster in {data}")
        cluster.start()
        results = asyncio.run(measure(cluster))
    except Exception:
        if cluster.process is not None and cluster.process.poll() == 0:
            # A Ctrl+C in a terminal reaches the cluster too, and it may stop before this process notices.
            raise KeyboardInterrupt from None
        print("\n".join(cluster.log().splitlines()[-30:]), file=sys.stderr)
        raise
    finally:
        cluster.stop()
        shutil.rmtree(data, ignore_errors=True)
    results.total_seconds = time.perf_counter() - started
    print(render(results))


def progress(message: str) -> None:
    print(f"[bench devcluster] {message}", file=sys.stderr, flush=True)


# -- results ---------------------------------------------------------------------------------


@dataclass
class Split:
    wanted: Traffic
    load: Load

    def share(self, revision: str) -> float:
        return 100 * self.load.revisions[revision] / sum(self.load.revisions.values())

    @property
    def deviation(self) -> float:
        return max(abs(self.share(name) - percent) for name, percent in self.wanted)


@dataclass
class Results:
    create_seconds: float = 0.0
    ready_seconds: float = 0.0
    list_bytes: int = 0
    api: dict[str, list[float]] = field(default_factory=dict)
    traffic: list[float] = field(default_factory=list)
    gateway: Load = field(default_factory=Load)
    splits: list[Split] = field(default_factory=list)
    total_seconds: float = 0.0


# -- the run ---------------------------------------------------------------------------------


def ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"].get("generation") and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )


def traffic_of(obj: dict[str, Any]) -> Traffic:
    targets = (obj.get("status") or {}).get("traffic") or []
    return tuple(sorted((t.get("revisionName", ""), int(t.get("percent") or 0)) for t in targets))


async def wait_ready(api: Api, namespace: str, count: int) -> None:
    """Wait until the namespace holds `count` Services, all Ready."""
    items: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(READY_SECONDS):
            while True:
                items = (await api.call("GET", SERVICES_PATH.format(namespace=namespace)))["items"]
                if len(items) >= count and all(ready(item) for item in items):
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        waiting = [i["metadata"]["name"] for i in items if not ready(i)] + ["?"] * (count - len(items))
        raise RuntimeError(f"{len(waiting)} Services in {namespace} not Ready in {READY_SECONDS} s") from None


async def measure(cluster: DevClusterProcess) -> Results:
    results = Results()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        api = Api(session, cluster)
        for namespace in (NAMESPACE, TRAFFIC_NAMESPACE):
            await api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": namespace}})
        for name in ("hello", "split"):
            await api.call("POST", SERVICES_PATH.format(namespace=TRAFFIC_NAMESPACE),
                           ksvc_manifest(name, TRAFFIC_NAMESPACE, env={"TARGET": "blue"}))
        await create_services(api, results)
        revisions = await two_revisions(api, "split")
        await api.settle()
        await measure_api(api, results)
        await api.settle()
        await measure_traffic(api, revisions, results)
        await measure_gateway(api, cluster.gateway_url, revisions, results)
    return results


async def create_services(api: Api, results: Results) -> None:
    progress(f"creating {SERVICES} Services in {NAMESPACE}, {CREATE_CONCURRENCY} at a time")
    path = SERVICES_PATH.format(namespace=NAMESPACE)
    names = iter(f"svc-{index:03d}" for index in range(SERVICES))
    start = time.perf_counter()

    async def creator() -> None:
        for name in names:
            await api.call("POST", path, ksvc_manifest(name, NAMESPACE, env={"TARGET": name}))

    await asyncio.gather(*(creator() for _ in range(CREATE_CONCURRENCY)))
    results.create_seconds = time.perf_counter() - start
    await wait_ready(api, NAMESPACE, SERVICES)
    results.ready_seconds = time.perf_counter() - start


async def two_revisions(api: Api, name: str) -> tuple[str, str]:
    """The Service's first and second revision, both Ready: its template changed once."""
    path = SERVICES_PATH.format(namespace=TRAFFIC_NAMESPACE) + f"/{name}"
    await wait_ready(api, TRAFFIC_NAMESPACE, 2)
    first = (await api.call("GET", path))["status"]["latestReadyRevisionName"]
    patch = {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest",
                                                            "env": [{"name": "TARGET", "value": "green"}]}]}}}}
    await api.call("PATCH", path, patch, MERGE)
    service = await api.poll(
        path, lambda s: ready(s) and s["status"].get("latestReadyRevisionName") != first, "a second Ready revision"
    )
    return first, service["status"]["latestReadyRevisionName"]


async def reader_token(api: Api) -> str:
    """A token of a ServiceAccount with the view role in the namespace (RoleBinding) and nothing else."""
    await api.call("POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", {"metadata": {"name": "reader"}})
    await api.call("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/rolebindings", {
        "metadata": {"name": "reader-view"}, "subjects": [{"kind": "ServiceAccount", "name": "reader"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}})
    answer = await api.call("POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/reader/token", {"spec": {}})
    return str(answer["status"]["token"])


async def measure_api(api: Api, results: Results) -> None:
    path = SERVICES_PATH.format(namespace=NAMESPACE)
    progress(f"API: {LISTS} LISTs, {GETS} GETs, {PATCHES} merge-PATCHes, {WATCHED_PATCHES} watched PATCHes")
    samples = []
    for index in range(LISTS):
        seconds, payload = await api.timed("GET", path)
        samples.append(seconds)
        if index == 0:
            count = len(json.loads(payload)["items"])
            if count != SERVICES:
                raise RuntimeError(f"LIST returned {count} Services, not {SERVICES}")
            results.list_bytes = len(payload)
    results.api["list"] = samples
    results.api["get"] = [(await api.timed("GET", f"{path}/svc-{i % SERVICES:03d}"))[0] for i in range(GETS)]
    reader = api.acting_as(await reader_token(api))  # a user RBAC decides for: view in the namespace
    results.api["get_rbac"] = [(await reader.timed("GET", f"{path}/svc-{i % SERVICES:03d}"))[0]
                               for i in range(GETS)]
    results.api["patch"] = [
        (await api.timed("PATCH", f"{path}/svc-{i % SERVICES:03d}", label_patch(i), MERGE))[0] for i in range(PATCHES)
    ]
    await api.settle()
    watched = await api.call("GET", f"{path}/svc-000")
    latencies = []
    async with ObjectWatch(api, path, "svc-000", watched["metadata"]["resourceVersion"]) as watch:
        for index in range(WATCHED_PATCHES):
            mark, sent = watch.mark(), time.perf_counter()
            _, payload = await api.timed("PATCH", f"{path}/svc-000", label_patch(PATCHES + index), MERGE)
            rv = json.loads(payload)["metadata"]["resourceVersion"]
            arrived = await watch.arrival(
                mark, lambda kind, obj, rv=rv: kind == "MODIFIED" and obj["metadata"]["resourceVersion"] == rv
            )
            latencies.append(arrived - sent)
    results.api["watch"] = latencies


def label_patch(sequence: int) -> dict[str, Any]:
    return {"metadata": {"labels": {"bench-sequence": str(sequence)}}}


def split_plans(revisions: tuple[str, str]) -> tuple[Traffic, Traffic]:
    first, second = revisions
    return ((first, 50), (second, 50)), ((first, 90), (second, 10))


def shows_traffic(service: dict[str, Any], generation: int, wanted: Traffic) -> bool:
    """Whether the Service's status reflects generation `generation` and routes as `wanted`."""
    status = service.get("status") or {}
    return status.get("observedGeneration", 0) >= generation and traffic_of(service) == tuple(sorted(wanted))


def traffic_patch(wanted: Traffic) -> dict[str, Any]:
    return {"spec": {"traffic": [{"revisionName": name, "percent": percent} for name, percent in wanted]}}


async def set_traffic(api: Api, wanted: Traffic) -> None:
    path = SERVICES_PATH.format(namespace=TRAFFIC_NAMESPACE) + "/split"
    generation = (await api.call("PATCH", path, traffic_patch(wanted), MERGE))["metadata"]["generation"]
    await api.poll(path, lambda service: shows_traffic(service, generation, wanted), f"the traffic {wanted}")


async def measure_traffic(api: Api, revisions: tuple[str, str], results: Results) -> None:
    progress(f"traffic: {TRAFFIC_PATCHES} spec.traffic merge-patches, status seen on a watch")
    collection = SERVICES_PATH.format(namespace=TRAFFIC_NAMESPACE)
    path = f"{collection}/split"
    service = await api.call("GET", path)
    plans = split_plans(revisions)
    async with ObjectWatch(api, collection, "split", service["metadata"]["resourceVersion"]) as watch:
        for index in range(TRAFFIC_PATCHES):
            wanted = plans[index % 2]
            mark, sent = watch.mark(), time.perf_counter()
            _, payload = await api.timed("PATCH", path, traffic_patch(wanted), MERGE)
            generation = json.loads(payload)["metadata"]["generation"]
            arrived = await watch.arrival(
                mark, lambda _, obj, generation=generation, wanted=wanted: shows_traffic(obj, generation, wanted)
            )
            results.traffic.append(arrived - sent)


async def measure_gateway(api: Api, url: str, revisions: tuple[str, str], results: Results) -> None:
    progress(f"gateway: {GATEWAY_CLIENTS} clients for {GATEWAY_SECONDS:.0f} s")
    hello = f"hello.{TRAFFIC_NAMESPACE}.example.com"
    await send_load(url, hello, GATEWAY_CLIENTS, seconds=0.5)  # a warm-up, not measured
    results.gateway = await send_load(url, hello, GATEWAY_CLIENTS, seconds=GATEWAY_SECONDS)
    for wanted in split_plans(revisions):
        progress(f"split accuracy at {'/'.join(str(p) for _, p in wanted)}: {SPLIT_REQUESTS} requests")
        await set_traffic(api, wanted)
        load = await send_load(url, f"split.{TRAFFIC_NAMESPACE}.example.com", GATEWAY_CLIENTS, requests=SPLIT_REQUESTS)
        results.splits.append(Split(wanted, load))


# -- the report ------------------------------------------------------------------------------


def render(results: Results) -> str:
    get_p50 = percentile(results.api["get"], 50)
    api_rows = []
    for key, label in (
        ("list", f"LIST all {SERVICES} (JSON, {results.list_bytes / 1024:.0f} KiB)"),
        ("get", "GET one Service (as the admin, system:masters)"),
        ("get_rbac", "GET one Service, as a ServiceAccount: token verified, RBAC evaluated"),
        ("patch", "merge-PATCH a label"),
        ("watch", "PATCH sent → MODIFIED on an open watch"),
    ):
        samples = results.api[key]
        p50 = percentile(samples, 50)
        api_rows.append([label, str(len(samples)), ms(p50), ms(percentile(samples, 95)), f"{p50 / get_p50:.1f}×"])

    traffic_p95 = percentile(results.traffic, 95)
    traffic_rows = [[
        "merge-patch `spec.traffic` → `status.traffic` (seen on a watch)", str(len(results.traffic)),
        ms(percentile(results.traffic, 50)), ms(traffic_p95), f"p95 < {TRAFFIC_GOAL * 1000:.0f} ms",
        "met" if traffic_p95 < TRAFFIC_GOAL else "**missed**",
    ]]

    gateway = results.gateway
    gateway_rows = [[
        f"{GATEWAY_CLIENTS} clients, {gateway.seconds:.1f} s, one Ready revision", str(len(gateway.latencies)),
        f"{gateway.rate:.0f}", ms(percentile(gateway.latencies, 50)), ms(percentile(gateway.latencies, 95)),
        str(gateway.failures),
    ]]

    split_rows = []
    for split in results.splits:
        names = [name for name, _ in split.wanted]
        stray = sum(n for name, n in split.load.revisions.items() if name not in names)
        split_rows.append([
            " / ".join(f"{name} {percent}%" for name, percent in split.wanted),
            " / ".join(f"{split.share(name):.2f}%" for name in names) + (f" (+{stray} elsewhere)" if stray else ""),
            f"{split.deviation:.2f} pt", "met" if split.deviation <= SPLIT_GOAL and not stray else "**missed**",
            f"{split.load.rate:.0f}",
        ])

    return "\n".join([
        "## Dev cluster benchmark",
        "",
        f"{machine()}.",
        f"`python -m app.devcluster {' '.join(CLUSTER_ARGS)}` on loopback; one client process (aiohttp, keep-alive)",
        "on the same machine. Percentiles come from this one run.",
        "",
        f"Setup: {SERVICES} Services created in {results.create_seconds:.1f} s ({CREATE_CONCURRENCY} concurrent "
        f"POSTs), all Ready {results.ready_seconds:.1f} s after the first POST.",
        "",
        table([f"API, {SERVICES} Services in one namespace", "requests", "p50", "p95", "p50 ÷ GET p50"], api_rows),
        "",
        "One request at a time on a keep-alive connection; GETs and PATCHes go round the Services in turn. Each",
        "label PATCH also makes the reconciler rewrite that Service's Configuration and Route, in the same process.",
        "",
        table(["Traffic change", "patches", "p50", "p95", "goal", "result"], traffic_rows),
        "",
        table(["Gateway (HTTP/1.1, loopback)", "requests", "req/s", "p50", "p95", "non-200"], gateway_rows),
        "",
        f"Host `hello.{TRAFFIC_NAMESPACE}.example.com`; the client process used "
        f"{gateway.client_cpu / gateway.seconds:.0%} of one CPU while sending.",
        "",
        table([f"Split over {SPLIT_REQUESTS:,} requests", "shares seen", "max deviation",
               f"goal ≤ {SPLIT_GOAL} pt", "req/s"], split_rows),
        "",
        "The gateway deals each split from a shuffled deck of 100 cards, so every 100 requests match it exactly.",
        "",
        f"Whole run: {results.total_seconds:.0f} s.",
    ])


if __name__ == "__main__":
    main()
