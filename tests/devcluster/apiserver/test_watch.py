"""Watch streams over raw HTTP: resuming by resourceVersion, 410 Expired past the retained history,
bookmarks, selector transitions, timeouts, many concurrent watchers, and a clean shutdown."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from tests.support import DevClusterProcess, start_cluster


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterProcess]:
    """A cluster that keeps only 50 changes of history, so that old resourceVersions expire quickly."""
    cluster = start_cluster(Path(tmp_path_factory.mktemp("small")), "--watch-history", "50",
                            "--bookmark-interval", "0.5")
    yield cluster
    assert cluster.stop() == 0


def _configmaps(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/configmaps"


def _ns(cluster: DevClusterProcess) -> str:
    return cluster.new_namespace("w")


def _stream(cluster: DevClusterProcess, path: str, until: float = 3.0,
            last: Callable[[dict], bool] = lambda event: False) -> list[dict]:
    """The watch's events until the server ends it, or up to the first that is `last`."""
    events = []
    with httpx.Client(timeout=until + 5, verify=cluster.tls(), headers=cluster.auth) as http, \
            http.stream("GET", cluster.api_url + path) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        for line in response.iter_lines():
            if line:
                events.append(json.loads(line))
                if last(events[-1]):
                    break
    return events


def test_resume_from_a_resource_version(small: DevClusterProcess) -> None:
    ns = _ns(small)
    _, _, first = small.request("POST", _configmaps(ns), {"metadata": {"name": "a"}})
    small.request("POST", _configmaps(ns), {"metadata": {"name": "b"}})
    small.request("DELETE", _configmaps(ns) + "/a")
    rv = first["metadata"]["resourceVersion"]
    events = _stream(small, _configmaps(ns) + f"?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "b"), ("DELETED", "a")]
    deleted_rv = int(events[1]["object"]["metadata"]["resourceVersion"])
    assert deleted_rv > int(events[0]["object"]["metadata"]["resourceVersion"])
    initial = _stream(small, _configmaps(ns) + "?watch=1&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in initial] == [("ADDED", "b")]


def test_expired_resource_version_is_an_error_event(small: DevClusterProcess) -> None:
    ns = _ns(small)
    _, _, first = small.request("POST", _configmaps(ns), {"metadata": {"name": "old"}})
    for i in range(60):
        small.request("PATCH", _configmaps(ns) + "/old", {"data": {"i": str(i)}},
                      content_type="application/merge-patch+json")
    rv = first["metadata"]["resourceVersion"]
    events = _stream(small, _configmaps(ns) + f"?watch=true&resourceVersion={rv}")
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith(f"too old resource version: {rv} (")


async def test_kubernetes_asyncio_raises_410_after_one_retry(small: DevClusterProcess) -> None:
    ns = _ns(small)
    _, _, first = small.request("POST", _configmaps(ns), {"metadata": {"name": "stale"}})
    for i in range(60):
        small.request("PATCH", _configmaps(ns) + "/stale", {"data": {"i": str(i)}},
                      content_type="application/merge-patch+json")
    api = await config.new_client_from_config(config_file=str(small.kubeconfig))
    async with api:
        core = client.CoreV1Api(api)
        with pytest.raises(ApiException) as expired:
            async with watch.Watch() as w:
                async for _ in w.stream(core.list_namespaced_config_map, ns,
                                        resource_version=first["metadata"]["resourceVersion"], timeout_seconds=5):
                    pass
        assert expired.value.status == 410


def test_bookmarks(small: DevClusterProcess) -> None:
    ns = _ns(small)
    events = _stream(small, _configmaps(ns) + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=2",
                     last=lambda event: event["type"] == "BOOKMARK")
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, events
    assert bookmarks[0]["object"]["kind"] == "ConfigMap" and bookmarks[0]["object"]["apiVersion"] == "v1"
    assert int(bookmarks[0]["object"]["metadata"]["resourceVersion"]) > 0


def test_a_bookmark_comes_two_seconds_before_the_watch_ends(slow_devcluster: DevClusterProcess) -> None:
    """kube-apiserver sends a bookmark 2 s before a watch's timeoutSeconds are up (cache_watcher.go
    nextBookmarkTime), whatever its bookmark period, so that a client that watches in short spans on a quiet
    collection resumes from a current resourceVersion instead of one that falls out of the history (410)."""
    cluster = slow_devcluster  # its bookmarks come after the default 30 s of quiet
    ns = _ns(cluster)
    _, _, made = cluster.request("POST", _configmaps(ns), {"metadata": {"name": "quiet"}})
    started = time.monotonic()
    events = _stream(cluster, _configmaps(ns) + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=3&"
                     f"resourceVersion={made['metadata']['resourceVersion']}", until=6)
    ended = time.monotonic() - started
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert len(bookmarks) == 1, events  # not one of the 30 s period: the one before the end
    assert int(bookmarks[0]["object"]["metadata"]["resourceVersion"]) >= int(made["metadata"]["resourceVersion"])
    assert 2.5 <= ended < 5, ended


def test_label_selector_transitions(small: DevClusterProcess) -> None:
    ns = _ns(small)
    _, _, start = small.request("POST", _configmaps(ns), {"metadata": {"name": "moving"}})
    for labels in ({"app": "x"}, {"app": "x", "other": "1"}, {"app": None}):
        small.request("PATCH", _configmaps(ns) + "/moving", {"metadata": {"labels": labels}},
                      content_type="application/merge-patch+json")
    rv = start["metadata"]["resourceVersion"]
    events = _stream(small, _configmaps(ns) + f"?watch=1&resourceVersion={rv}&labelSelector=app%3Dx&timeoutSeconds=1")
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    named = _stream(small, _configmaps(ns) + f"/moving?watch=1&resourceVersion={rv}&timeoutSeconds=1")
    assert [e["type"] for e in named] == ["MODIFIED", "MODIFIED", "MODIFIED"]


def test_timeout_closes_the_stream(small: DevClusterProcess) -> None:
    ns = _ns(small)
    started = time.monotonic()
    assert _stream(small, _configmaps(ns) + "?watch=1&timeoutSeconds=1") == []
    assert 0.9 < time.monotonic() - started < 3


async def test_many_concurrent_watchers_each_see_every_change(small: DevClusterProcess) -> None:
    ns = _ns(small)
    _, _, head = small.request("GET", _configmaps(ns))
    rv = head["metadata"]["resourceVersion"]
    url = small.api_url + _configmaps(ns) + f"?watch=true&resourceVersion={rv}&timeoutSeconds=3"

    async def one(http: httpx.AsyncClient) -> list[str]:
        names = []
        async with http.stream("GET", url) as response:
            async for line in response.aiter_lines():
                if line:
                    names.append(json.loads(line)["object"]["metadata"]["name"])
        return names

    async with httpx.AsyncClient(timeout=15, limits=httpx.Limits(max_connections=200), verify=small.tls(),
                                 headers=small.auth) as http:
        watchers = [asyncio.create_task(one(http)) for _ in range(100)]
        await asyncio.sleep(0.5)
        for i in range(10):
            await http.post(small.api_url + _configmaps(ns), json={"metadata": {"name": f"c{i}"}})
        results = await asyncio.gather(*watchers)
    assert all(r == [f"c{i}" for i in range(10)] for r in results)


def test_shutdown_ends_open_watches_cleanly(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "shutdown")
    with httpx.Client(timeout=10, verify=cluster.tls(), headers=cluster.auth) as http, http.stream(
        "GET", cluster.api_url + "/api/v1/namespaces?watch=1"
    ) as response:
        lines = response.iter_lines()
        assert json.loads(next(lines))["type"] == "ADDED"
        started = time.monotonic()
        cluster.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        rest = list(lines)  # the stream ends instead of hanging
        assert all(json.loads(line)["type"] == "ADDED" for line in rest if line)
    assert cluster.process.wait(10) == 0  # type: ignore[union-attr]
    assert time.monotonic() - started < 5
    assert "shutting down" in cluster.log()
