"""When the cluster is not there: unreachable (a banner with the server address and Retry), too slow (the
timeout), gone from under a live page (its banner says so in plain words, and then that nothing answers), or without
Knative ("Knative Serving is not installed in this cluster"); never a 500."""

from __future__ import annotations

import asyncio
import html
import io
import logging
import signal
import socket
from collections.abc import Awaitable
from pathlib import Path

import httpx
import pytest

from app.cluster import errors
from app.main import create_app
from app.settings import Settings
from tests.cluster.test_unreachable import LIBRARY_WORDS, bad_gateway, kubeconfig, serving
from tests.support import DevClusterProcess, ksvc_manifest, start_cluster
from tests.web.conftest import KSVC, live_settings, open_stream, served


async def _get(settings: Settings, path: str) -> httpx.Response:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
            return await http.get(path)


async def _within(seconds: float, answer: Awaitable[httpx.Response]) -> httpx.Response:
    """`answer`, or a failure within `seconds` that shows where every task of the loop waits (once, in a CI run,
    this test waited past the suite's 300 s timeout; it was never seen again here)."""
    task = asyncio.ensure_future(answer)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        stacks = io.StringIO()
        for other in asyncio.all_tasks():
            if other is not asyncio.current_task():
                print(f"-- {other.get_name()}", file=stacks)
                other.print_stack(limit=12, file=stacks)
        task.cancel()
        raise AssertionError(f"no answer within {seconds} s; the loop's tasks:\n{stacks.getvalue()[-8000:]}")
    return task.result()


async def test_cluster_down_gives_the_banner(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "down")
    server = cluster.api_url
    cluster.stop()
    response = await _get(Settings(kubeconfig=str(cluster.kubeconfig), request_timeout=2), "/namespaces/default/services")
    assert response.status_code == 503
    assert "Cannot reach the cluster" in response.text
    assert f"Cannot reach the Kubernetes API server at {server}" in response.text
    assert '>Retry</a>' in response.text and 'href="http://127.0.0.1/namespaces/default/services"' in response.text


async def test_a_cluster_that_never_answers_times_out(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n"
        "contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n"
        "users:\n- name: u\n  user: {}\n")
    try:
        started = asyncio.get_running_loop().time()
        response = await _within(30, _get(Settings(kubeconfig=str(kubeconfig), request_timeout=1),
                                          "/namespaces/default/services"))
        assert response.status_code == 503
        assert f"Cannot reach the Kubernetes API server at http://127.0.0.1:{port}: it did not answer within 1 s" \
            in response.text
        assert asyncio.get_running_loop().time() - started < 10
    finally:
        listener.close()


async def test_knative_missing(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "plain", "--without-knative")
    try:
        settings = Settings(kubeconfig=str(cluster.kubeconfig))
        for path in ("/namespaces/default/services", "/namespaces/default/services/x"):
            response = await _get(settings, path)
            assert response.status_code == 503
            assert "Knative Serving is not installed in this cluster" in response.text
    finally:
        assert cluster.stop() == 0


async def test_a_cluster_killed_under_a_live_page_is_said_plainly(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """kill -9 of the API server while the page's watches stream: its banner says the connection broke off, then
    that nothing answers, each with what happens next, and never the client library's words (once it said, for a
    moment, "Response payload is not completed: <TransferEncodingError: 400 …>"); the console's log keeps those."""
    caplog.set_level(logging.WARNING, "knative_console.cluster")
    cluster = DevClusterProcess(tmp_path / "killed", ["--revision-start-delay", "0.1"]).start()
    try:
        code, _, body = cluster.request("POST", KSVC.format(ns="default"), ksvc_manifest("doomed"))
        assert code == 201, body
        async with served(live_settings(cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
            async with open_stream(http, "/live/namespaces/default/services/doomed") as events:
                await events.until(lambda e: e.name == "traffic")  # the page is there, its watches open
                assert cluster.stop(signal.SIGKILL) == -signal.SIGKILL
                said = [html.unescape(e.data) for e in await events.until(
                    lambda e: e.name == "connection" and errors.CAUSES[errors.REFUSED] in html.unescape(e.data))
                    if e.name == "connection"]
        where = f"Cannot reach the Kubernetes API server at {cluster.api_url}: "
        cut_off = f"{where}{errors.CAUSES[errors.CUT_OFF]}. Live updates resume when it answers again."
        assert any(cut_off in banner for banner in said), said
        assert f"{where}{errors.CAUSES[errors.REFUSED]}. Live updates resume when it answers again." in said[-1]
        assert not [banner for banner in said if any(word in banner for word in LIBRARY_WORDS)], said
        logged = [record.getMessage() for record in caplog.records if record.name == "knative_console.cluster"]
        assert any("ClientPayloadError" in line and cluster.api_url in line for line in logged), logged
    finally:
        cluster.stop()


async def test_a_proxy_that_answers_for_the_api_server_is_said_plainly(tmp_path: Path) -> None:
    """A 502 with an HTML page from a proxy in front of the API server: the page says what answered, that it is not
    the API server's own answer and what to check, with Retry; not "Bad Gateway: Bad Gateway"."""
    async with serving(bad_gateway) as address:
        settings = Settings(kubeconfig=str(kubeconfig(tmp_path / "kubeconfig", f"http://{address}")), request_timeout=2)
        response = await _get(settings, "/namespaces/default/services")
    page = html.unescape(response.text)
    assert response.status_code == 502
    assert "Bad Gateway: Bad Gateway" not in page
    assert "The Kubernetes API server did not answer" in page
    assert f"http://{address} answered 502 Bad Gateway with an HTML page, not with the Kubernetes API server's own " \
           "answer" in page
    assert '>Retry</a>' in page
