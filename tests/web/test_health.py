"""/livez and /healthz (the process answers), /readyz (the cluster answers and serves serving.knative.dev/v1):
503 with the reason when the dev cluster stops or has no Knative, 200 again once it is back; the verdict is
cached and shared by concurrent probes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import yaml

from app.health import Readiness
from app.main import create_app
from app.settings import Settings
from tests.browser.conftest import free_port
from tests.support import ROOT, DevClusterProcess
from tests.web.conftest import Console


@asynccontextmanager
async def console_for(cluster: DevClusterProcess, verdict_ttl: float | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The console against `cluster`; `verdict_ttl` shortens how long its readiness verdict is kept (the caching
    itself is tested below, on its own clock)."""
    app = create_app(Settings(kubeconfig=str(cluster.kubeconfig), request_timeout=5.0))
    async with app.router.lifespan_context(app):
        if verdict_ttl is not None:
            app.state.readiness.ttl = verdict_ttl
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test") as http:
            yield http


async def until(probe: Callable[[], Awaitable[httpx.Response]], status: int, within: float = 20.0) -> httpx.Response:
    """The first answer with `status` (the verdict is cached a while, so it may take that long)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await probe()
        if response.status_code == status:
            return response
        assert asyncio.get_running_loop().time() < deadline, f"still {response.status_code}: {response.text}"
        await asyncio.sleep(0.1)


async def test_liveness(console: Console) -> None:
    for path in ("/livez", "/healthz"):
        response = await console.get(path)
        assert (response.status_code, response.text) == (200, "ok")
        assert response.headers["cache-control"] == "no-store"


async def test_ready_against_the_session_cluster(console: Console) -> None:
    response = await console.get("/readyz")
    assert (response.status_code, response.text) == (200, "ok")


async def test_readyz_follows_the_cluster_down_and_back(tmp_path: Path) -> None:
    port = free_port()
    cluster = DevClusterProcess(tmp_path / "data", ["--api-port", str(port)]).start()
    try:
        async with console_for(cluster, verdict_ttl=0.2) as http:
            await until(lambda: http.get("/readyz"), 200)
            assert cluster.stop() == 0
            down = await until(lambda: http.get("/readyz"), 503)
            assert down.text.startswith(f"not ready: Cannot reach the Kubernetes API server at https://127.0.0.1:{port}")
            assert (await http.get("/livez")).status_code == 200  # alive all the same: no restart for this
            cluster.start()
            assert (await until(lambda: http.get("/readyz"), 200)).text == "ok"
    finally:
        cluster.stop()


async def test_not_ready_without_knative(tmp_path: Path) -> None:
    """/readyz says so; deploy/'s readiness probe does not ask the cluster, so the replicas stay in the Service and
    users are shown the console's page saying it (found by a walkthrough: probing /readyz, no replica was ever
    Ready on such a cluster, `kubectl rollout status` waited for ever, and users got the load balancer's 503)."""
    pod = yaml.safe_load((ROOT / "deploy" / "base" / "deployment.yaml").read_text())["spec"]["template"]["spec"]
    probe = pod["containers"][0]["readinessProbe"]["httpGet"]["path"]
    cluster = DevClusterProcess(tmp_path / "data", ["--without-knative"]).start()
    try:
        async with console_for(cluster) as http:
            response = await http.get("/readyz")
            assert response.status_code == 503
            assert response.text == (f"not ready: Knative Serving is not installed in this cluster: {cluster.api_url} "
                                     "does not serve services.serving.knative.dev/v1.")
            assert (await http.get(probe)).status_code == 200
            page = await http.get("/namespaces/default/services", headers={"Host": "localhost"})
            assert "Knative Serving is not installed in this cluster" in page.text
    finally:
        cluster.stop()


async def test_the_verdict_is_cached_and_shared() -> None:
    now = 100.0
    answers = ["", "Cannot reach it", ""]
    calls = 0

    async def check() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)  # concurrent callers arrive while it runs
        return answers[calls - 1]

    readiness = Readiness(check, ttl=3.0, clock=lambda: now)
    first = await asyncio.gather(*(readiness.verdict() for _ in range(5)))
    assert calls == 1 and all(v.ready for v in first)
    now += 2.9
    assert (await readiness.verdict()).ready and calls == 1
    now += 0.1
    stale = await readiness.verdict()
    assert (stale.ready, stale.reason, calls) == (False, "Cannot reach it", 2)
    now += 3.0
    assert (await readiness.verdict()).ready and calls == 3
