"""The cluster layer (app.cluster) against the dev cluster over HTTP: the verbs, the patch content types,
and errors as our own types built from the server's Status; kubeconfig, context and unreachable servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from app.cluster import resources as r
from app.cluster.client import Cluster, KubeconfigError, proxy_configured
from app.cluster.errors import AlreadyExists, Conflict, Expired, Forbidden, Invalid, NotFound, Rejected, Unreachable
from tests.support import DevClusterProcess, ksvc_manifest


@pytest.fixture
async def cluster(devcluster: DevClusterProcess) -> AsyncIterator[Cluster]:
    connected = await Cluster.connect(str(devcluster.kubeconfig), request_timeout=5)
    yield connected
    await connected.close()


@pytest.fixture
async def ns(cluster: Cluster) -> str:
    name = f"cl-{uuid.uuid4().hex[:8]}"
    await cluster.create(r.NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def test_verbs(cluster: Cluster, ns: str) -> None:
    assert cluster.namespace == "default" and cluster.server.startswith("https://127.0.0.1:")
    created = await cluster.create(r.SERVICE, ksvc_manifest("verbs", ns), ns)
    assert created["metadata"]["managedFields"][0]["manager"] == "knative-console"
    fetched = await cluster.get(r.SERVICE, "verbs", ns)
    assert fetched["metadata"]["uid"] == created["metadata"]["uid"]
    patched = await cluster.patch(r.SERVICE, "verbs", {"metadata": {"labels": {"a": "b"}}}, ns)
    assert patched["metadata"]["labels"] == {"a": "b"}
    jsoned = await cluster.patch(r.SERVICE, "verbs", [{"op": "add", "path": "/metadata/labels/c", "value": "d"}],
                                 ns, patch_type="json")
    assert jsoned["metadata"]["labels"] == {"a": "b", "c": "d"}
    listed = await cluster.list(r.SERVICE, ns, label_selector="c=d")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["verbs"]
    core = await cluster.get(r.CONFIGMAP, "config-domain", "knative-serving")
    assert core["data"] == {"example.com": ""}
    deleted = await cluster.delete(r.SERVICE, "verbs", ns)
    assert deleted["status"] == "Success"


async def test_errors_carry_the_server_status(cluster: Cluster, ns: str) -> None:
    with pytest.raises(NotFound) as missing:
        await cluster.get(r.SERVICE, "ghost", ns)
    assert missing.value.message == 'services.serving.knative.dev "ghost" not found'
    created = await cluster.create(r.SERVICE, ksvc_manifest("once", ns), ns)
    with pytest.raises(AlreadyExists):
        await cluster.create(r.SERVICE, ksvc_manifest("once", ns), ns)
    with pytest.raises(Conflict) as stale:
        await cluster.patch(r.SERVICE, "once", {"metadata": {"resourceVersion": "1"}}, ns)
    assert "the object has been modified" in stale.value.message
    with pytest.raises(Conflict):
        await cluster.delete(r.SERVICE, "once", ns, resource_version="1")
    with pytest.raises(Invalid) as invalid:
        await cluster.patch(r.SERVICE, "once", {"spec": {"traffic": [{"percent": "50"}]}}, ns)
    assert invalid.value.code == 422
    with pytest.raises(Rejected) as denied:
        await cluster.patch(r.SERVICE, "once", {"spec": {"traffic": [{"latestRevision": True, "percent": 90}]}}, ns)
    assert denied.value.message == ('admission webhook "validation.webhook.serving.knative.dev" denied the request: '
                                    "validation failed: Traffic targets sum to 90, want 100: spec.traffic")
    with pytest.raises(Forbidden):
        await cluster.delete(r.NAMESPACE, "default")
    assert created["metadata"]["name"] == "once"


async def test_unreachable_and_kubeconfig_problems(tmp_path: Path, devcluster: DevClusterProcess) -> None:
    config = yaml.safe_load(devcluster.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = "http://127.0.0.1:9"  # discard port: nothing listens
    config["contexts"][0]["context"]["namespace"] = "team-a"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    unreachable = await Cluster.connect(str(path), request_timeout=2)
    try:
        assert unreachable.namespace == "team-a"  # the context's namespace is honoured
        with pytest.raises(Unreachable) as down:
            await unreachable.list(r.SERVICE, "default")
        assert down.value.server == "http://127.0.0.1:9"
        assert down.value.message.startswith("Cannot reach the Kubernetes API server at http://127.0.0.1:9: ")
    finally:
        await unreachable.close()
    with pytest.raises(KubeconfigError) as missing:
        await Cluster.connect(str(tmp_path / "nope"))
    assert "does not exist" in str(missing.value)
    with pytest.raises(KubeconfigError):
        await Cluster.connect(str(path), context="no-such-context")


def test_proxy_variables_decide_whether_calls_consult_the_environment() -> None:
    assert not proxy_configured({"NO_PROXY": "127.0.0.1", "PATH": "/bin"})
    assert not proxy_configured({"HTTPS_PROXY": ""})
    assert proxy_configured({"HTTPS_PROXY": "http://proxy:3128"})
    assert proxy_configured({"all_proxy": "socks5://proxy"})
    assert proxy_configured({"NETRC": "/home/me/.netrc"})


async def test_without_proxy_variables_the_session_skips_env_lookups(
        devcluster: DevClusterProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.lower().endswith("_proxy") or k.lower() == "netrc"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    plain = await Cluster.connect(str(devcluster.kubeconfig), request_timeout=5)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # never used: NO_PROXY names the dev cluster
    proxied = await Cluster.connect(str(devcluster.kubeconfig), request_timeout=5)
    try:
        assert plain.api.rest_client.pool_manager.trust_env is False
        assert proxied.api.rest_client.pool_manager.trust_env is True
        assert (await plain.get(r.NAMESPACE, "default"))["metadata"]["name"] == "default"
        assert (await proxied.get(r.NAMESPACE, "default"))["metadata"]["name"] == "default"
    finally:
        await plain.close()
        await proxied.close()


async def test_watch_events_and_expiry(tmp_path: Path) -> None:
    """Watch opens, carries the changes after its version (bookmarks too), and 410 after the server's history
    has moved past that version raises Expired."""
    small = DevClusterProcess(tmp_path / "small", ["--watch-history", "5", "--bookmark-interval", "0.2"]).start()
    client = await Cluster.connect(str(small.kubeconfig), request_timeout=5)
    try:
        listed = await client.list(r.CONFIGMAP, "default", limit=1)
        start = listed["metadata"]["resourceVersion"]
        seen: list[str] = []
        async with client.watch(r.CONFIGMAP, "default", start) as events:
            await client.create(r.CONFIGMAP, {"metadata": {"name": "watched"}, "data": {"a": "1"}}, "default")
            async for kind, obj in events:
                seen.append(kind)
                if kind == "ADDED":
                    assert obj["metadata"]["name"] == "watched"
                if "ADDED" in seen and "BOOKMARK" in seen:
                    break
        for index in range(10):
            await client.patch(r.CONFIGMAP, "watched", {"data": {"a": str(index)}}, "default")
        with pytest.raises(Expired):
            async with client.watch(r.CONFIGMAP, "default", start) as events:
                async for _ in events:
                    pass
    finally:
        await client.close()
        small.stop()
