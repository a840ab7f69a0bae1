"""kubernetes_asyncio (every verb, watch included) and the official kubernetes client against the dev
cluster: checklist item 16 of reference/kubernetes-api.md section 6, and the typed workloads and logs behind a
revision."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
import yaml
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from tests.support import DevClusterProcess, ksvc_manifest

G, V = "serving.knative.dev", "v1"


@pytest.fixture
async def api(devcluster: DevClusterProcess) -> AsyncIterator[client.ApiClient]:
    api_client = await config.new_client_from_config(config_file=str(devcluster.kubeconfig))
    async with api_client:
        yield api_client


@pytest.fixture
async def ns(api: client.ApiClient) -> str:
    name = f"py-{uuid.uuid4().hex[:8]}"
    await client.CoreV1Api(api).create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def settled(co: client.CustomObjectsApi, ns: str, name: str) -> dict:
    """The Service once the controller is done with its current generation (so a PUT will not race it)."""
    for _ in range(200):
        obj = await co.get_namespaced_custom_object(G, V, ns, "services", name)
        status = obj.get("status", {})
        ready = [c for c in status.get("conditions", []) if c["type"] == "Ready" and c["status"] == "True"]
        if ready and status.get("observedGeneration") == obj["metadata"]["generation"]:
            return obj
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} did not settle")


async def test_version_and_namespaces(api: client.ApiClient) -> None:
    version = await client.VersionApi(api).get_code()
    assert (version.major, version.minor) == ("1", "33")
    namespaces = await client.CoreV1Api(api).list_namespace()
    names = {n.metadata.name for n in namespaces.items}
    assert {"default", "knative-serving", "kourier-system"} <= names
    assert namespaces.items[0].status.phase == "Active"


async def test_seeded_objects(api: client.ApiClient, devcluster: DevClusterProcess) -> None:
    core = client.CoreV1Api(api)
    domain = await core.read_namespaced_config_map("config-domain", "knative-serving")
    assert domain.data == {"example.com": ""}
    network = await core.read_namespaced_config_map("config-network", "knative-serving")
    assert network.data["ingress-class"] == "kourier.ingress.networking.knative.dev"
    kourier = await core.read_namespaced_service("kourier", "kourier-system")
    assert kourier.spec.type == "LoadBalancer"
    assert kourier.status.load_balancer.ingress[0].ip == "127.0.0.1"
    assert f"http://127.0.0.1:{kourier.spec.ports[0].port}" == devcluster.gateway_url


async def test_custom_object_verbs(api: client.ApiClient, ns: str) -> None:
    co = client.CustomObjectsApi(api)
    created = await co.create_namespaced_custom_object(G, V, ns, "services", ksvc_manifest("verbs", ns))
    assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
    assert isinstance(created["metadata"]["resourceVersion"], str)
    fetched = await co.get_namespaced_custom_object(G, V, ns, "services", "verbs")
    assert fetched["metadata"]["uid"] == created["metadata"]["uid"]

    merged = await co.patch_namespaced_custom_object(
        G, V, ns, "services", "verbs", {"metadata": {"labels": {"m": "1"}}},
        _content_type="application/merge-patch+json",
    )
    assert merged["metadata"]["labels"] == {"m": "1"}
    jsoned = await co.patch_namespaced_custom_object(
        G, V, ns, "services", "verbs", [{"op": "add", "path": "/metadata/labels/j", "value": "2"}],
        _content_type="application/json-patch+json",
    )
    assert jsoned["metadata"]["labels"] == {"m": "1", "j": "2"}
    applied = await co.patch_namespaced_custom_object(
        G, V, ns, "services", "verbs", ksvc_manifest("verbs", ns, env={"TARGET": "apply"}),
        _content_type="application/apply-patch+yaml", field_manager="pytest", force=True,
    )
    assert applied["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "TARGET", "value": "apply"}]
    assert applied["metadata"]["generation"] == 2

    fresh = await settled(co, ns, "verbs")
    replaced = dict(fresh, metadata=dict(fresh["metadata"], labels={"r": "3"}))
    replaced = await co.replace_namespaced_custom_object(G, V, ns, "services", "verbs", replaced)
    assert replaced["metadata"]["labels"] == {"r": "3"}
    with pytest.raises(ApiException) as stale:
        await co.replace_namespaced_custom_object(G, V, ns, "services", "verbs", applied)
    assert stale.value.status == 409 and json.loads(stale.value.body)["reason"] == "Conflict"

    listed = await co.list_namespaced_custom_object(G, V, ns, "services", label_selector="r=3")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["verbs"]
    everywhere = await co.list_cluster_custom_object(G, V, "services")
    assert any(i["metadata"]["namespace"] == ns for i in everywhere["items"])

    status = await co.get_namespaced_custom_object_status(G, V, ns, "services", "verbs")
    assert status["metadata"]["name"] == "verbs"
    deleted = await co.delete_namespaced_custom_object(G, V, ns, "services", "verbs")
    assert deleted["kind"] == "Status" and deleted["status"] == "Success"
    assert deleted["details"] == {"name": "verbs", "group": G, "kind": "services", "uid": created["metadata"]["uid"]}
    with pytest.raises(ApiException) as missing:
        await co.get_namespaced_custom_object(G, V, ns, "services", "verbs")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["message"] == 'services.serving.knative.dev "verbs" not found'


async def test_dict_patch_without_content_type_is_rejected_like_a_real_server(api: client.ApiClient, ns: str) -> None:
    co = client.CustomObjectsApi(api)
    await co.create_namespaced_custom_object(G, V, ns, "services", ksvc_manifest("defaulted", ns))
    with pytest.raises(ApiException) as error:
        await co.patch_namespaced_custom_object(G, V, ns, "services", "defaulted", {"metadata": {"labels": {"a": "b"}}})
    assert error.value.status == 400
    assert json.loads(error.value.body)["message"] == \
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"


async def test_watch_sees_changes_with_capitalised_booleans(api: client.ApiClient, ns: str) -> None:
    co = client.CustomObjectsApi(api)
    initial = await co.list_namespaced_custom_object(G, V, ns, "services")
    rv = initial["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    async def consume() -> None:
        async with watch.Watch() as w:
            async for event in w.stream(co.list_namespaced_custom_object, G, V, ns, "services",
                                        resource_version=rv, allow_watch_bookmarks=True, timeout_seconds=5):
                if event["type"] == "BOOKMARK":
                    continue
                seen.append((event["type"], event["object"]["metadata"]["name"]))
                if event["type"] == "DELETED":
                    return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    await co.create_namespaced_custom_object(G, V, ns, "services", ksvc_manifest("watched", ns))
    await co.patch_namespaced_custom_object(G, V, ns, "services", "watched", {"metadata": {"labels": {"w": "1"}}},
                                            _content_type="application/merge-patch+json")
    await co.delete_namespaced_custom_object(G, V, ns, "services", "watched")
    await asyncio.wait_for(task, 10)
    assert seen[0] == ("ADDED", "watched")
    assert ("MODIFIED", "watched") in seen
    assert seen[-1] == ("DELETED", "watched")


async def test_typed_core_objects(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"a": "1"})
    created = await core.create_namespaced_config_map(ns, body)
    assert created.metadata.resource_version and created.data == {"a": "1"}
    patched = await core.patch_namespaced_config_map(
        "settings", ns, {"data": {"b": "2"}}, _content_type="application/merge-patch+json"
    )
    assert patched.data == {"a": "1", "b": "2"}
    labelled = await core.patch_namespace(ns, {"metadata": {"labels": {"team": "x"}}})  # strategic merge
    assert labelled.metadata.labels["team"] == "x"
    events = await core.list_namespaced_event(ns)
    assert events.items == []
    await core.delete_namespaced_config_map("settings", ns)
    listed = await core.list_namespaced_config_map(ns)
    assert listed.items == []


def test_official_client_posts_without_content_type(devcluster: DevClusterProcess) -> None:
    from kubernetes import client as sync_client
    from kubernetes import config as sync_config

    api = sync_config.new_client_from_config(config_file=str(devcluster.kubeconfig))
    co = sync_client.CustomObjectsApi(api)
    name = f"off-{uuid.uuid4().hex[:6]}"
    created = co.create_namespaced_custom_object(G, V, "default", "services", ksvc_manifest(name))
    assert created["metadata"]["name"] == name
    patched = co.patch_namespaced_custom_object(G, V, "default", "services", name, {"metadata": {"labels": {"o": "1"}}})
    assert patched["metadata"]["labels"] == {"o": "1"}
    co.delete_namespaced_custom_object(G, V, "default", "services", name)
    api.close()
    assert yaml.safe_load(devcluster.kubeconfig.read_text())["current-context"] == "devcluster"


async def test_typed_workloads_and_logs(api: client.ApiClient, ns: str) -> None:
    co = client.CustomObjectsApi(api)
    await co.create_namespaced_custom_object(G, V, ns, "services", ksvc_manifest("typed", ns))
    await settled(co, ns, "typed")
    apps = client.AppsV1Api(api)
    [deployment] = (await apps.list_namespaced_deployment(ns)).items
    assert deployment.metadata.name == "typed-00001-deployment" and deployment.spec.replicas == 1
    assert deployment.status.ready_replicas == 1
    [replicaset] = (await apps.list_namespaced_replica_set(ns)).items
    assert replicaset.metadata.owner_references[0].name == "typed-00001-deployment"
    core = client.CoreV1Api(api)
    pods = (await core.list_namespaced_pod(ns, label_selector="serving.knative.dev/revision=typed-00001")).items
    [pod] = pods
    assert pod.status.phase == "Running" and [c.name for c in pod.spec.containers] == ["user-container", "queue-proxy"]
    assert all(s.ready and s.restart_count == 0 and s.state.running for s in pod.status.container_statuses)
    text = await core.read_namespaced_pod_log(pod.metadata.name, ns, container="user-container", tail_lines=1)
    assert text.endswith("helloworld: listening on port 8080\n")
    with pytest.raises(client.ApiException) as refused:
        await core.read_namespaced_pod_log(pod.metadata.name, ns)
    assert refused.value.status == 400
    assert f"a container name must be specified for pod {pod.metadata.name}, choose one of: " \
        "[user-container queue-proxy]" in refused.value.body
