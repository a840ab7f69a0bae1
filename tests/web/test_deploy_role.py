"""The RBAC deploy/ documents is exactly what the console's calls need: the console runs as a ServiceAccount bound
to those rules and nothing else (deploy/overlays/kubeconfig, applied for real to the dev cluster), goes through
every page and write (lists, a missing namespace, the live list and details with their instances, Create, Create
Revision, Split, a revision's logs page and its live stream, a failed revision's diagnosis, the revision page and its
live stream, the diff, YAML, the history and its live stream, Restore, Check traffic, Delete), and the dev cluster's
audit log then shows that no call of that user was refused (no rule missing) and that every rule was used (no rule
to spare)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import yaml

from app.settings import Settings
from tests.support import KUBECTL_VERSIONS, ROOT, DevClusterProcess, wait_for
from tests.web.conftest import SECRET, Console, form_fields, open_stream, rows_in, served, with_rows

ACCOUNT = "system:serviceaccount:knative-console:knative-console"


def _documented_rules() -> list[tuple[str, str, str, str, list[str]]]:
    """(namespace, group, resource, verb, names) for every rule deploy/base/rbac.yaml grants, one verb each."""
    rules = []
    for doc in yaml.safe_load_all((ROOT / "deploy" / "base" / "rbac.yaml").read_text()):
        if doc["kind"] not in ("ClusterRole", "Role"):
            continue
        namespace = doc["metadata"].get("namespace", "")
        for rule in doc["rules"]:
            rules += [(namespace, group, resource, verb, rule.get("resourceNames", []))
                      for group in rule["apiGroups"] for resource in rule["resources"] for verb in rule["verbs"]]
    return rules


def _used(events: list[dict[str, Any]], namespace: str, group: str, resource: str, verb: str,
          names: list[str]) -> bool:
    for event in events:
        ref = event.get("objectRef", {})
        asked = "/".join(part for part in (ref.get("resource", ""), ref.get("subresource", "")) if part)
        if (event["verb"], ref.get("apiGroup", ""), asked) != (verb, group, resource):
            continue
        if (namespace and ref.get("namespace") != namespace) or (names and ref.get("name") not in names):
            continue
        if event["responseStatus"]["code"] != 403:
            return True
    return False


async def _split(console: Console, ns: str, name: str) -> None:
    page = await console.get(f"/namespaces/{ns}/services/{name}/traffic")
    fields = form_fields(page.text, "split-form")
    rows = [(kind, revision, "50" if kind == "revision" else "0", tag) for kind, revision, _, tag in rows_in(fields)]
    response = await console.post_fields(f"/namespaces/{ns}/services/{name}/traffic",
                                         [*with_rows(fields, rows), ("action", "ok")])
    assert response.status_code == 303, response.text


async def _logs(console: Console, devcluster: DevClusterProcess, ns: str, name: str, revision: str) -> None:
    """A revision's logs page (its instances and their last lines), then its live stream, which must carry the line a
    request through the gateway makes its instance write (requests go on until one does: the stream follows an
    instance from the moment it attaches)."""
    host = {"Host": f"{name}.{ns}.example.com"}
    async with httpx.AsyncClient(base_url=devcluster.gateway_url, trust_env=False, timeout=10) as gateway:
        assert (await gateway.get("/", headers=host)).status_code == 200  # an instance runs (a cold start if need be)
        page = await console.get(f"/namespaces/{ns}/services/{name}/revisions/{revision}/logs")
        assert page.status_code == 200 and "helloworld: listening on port 8080" in page.text, page.text

        async def requests() -> None:
            while True:
                assert (await gateway.get("/", headers=host)).status_code == 200
                await asyncio.sleep(0.2)

        async with open_stream(console.http, f"/live/namespaces/{ns}/services/{name}/revisions/{revision}/logs") \
                as stream:
            sending = asyncio.create_task(requests())
            try:
                await stream.until(lambda event: event.name == "log" and "received a request" in event.data)
            finally:
                sending.cancel()


async def _diagnosis(console: Console, devcluster: DevClusterProcess, ns: str) -> None:
    """A Service whose image no registry resolves: its details page explains the failed revision with its events."""
    created = await console.post(f"/namespaces/{ns}/services", {
        "name": "unfound", "image": "registry.invalid/app:v1", "protocol": "http", "port": "8080",
        "visibility": "public", "action": "create"})
    assert created.status_code == 303, created.text

    def failed() -> bool:
        code, _, revision = devcluster.request(
            "GET", f"/apis/serving.knative.dev/v1/namespaces/{ns}/revisions/unfound-00001")
        return code == 200 and any(c["type"] == "Ready" and c["status"] == "False"
                                   for c in revision.get("status", {}).get("conditions", []))

    wait_for(failed, message="unfound-00001 failed")
    deadline = asyncio.get_running_loop().time() + 10
    while "could not be resolved" not in (page := (await console.get(f"/namespaces/{ns}/services/unfound")).text):
        assert asyncio.get_running_loop().time() < deadline, page  # the console's watch catches up
        await asyncio.sleep(0.05)
    assert "registry.invalid/app:v1 could not be resolved" in page and "InternalError" in page, page


async def _warnings(console: Console, devcluster: DevClusterProcess, ns: str) -> None:
    """Create Service's warnings before anything is sent: the namespace's LimitRanges and ResourceQuotas, read as the
    user, and queue-proxy's resources (knative-serving/config-deployment), read with the console's own credentials."""
    code, _, body = devcluster.request("POST", f"/api/v1/namespaces/{ns}/resourcequotas",
                                       {"metadata": {"name": "small"}, "spec": {"hard": {"requests.cpu": "100m"}}})
    assert code == 201, body
    wait_for(lambda: "used" in (devcluster.get(f"/api/v1/namespaces/{ns}/resourcequotas/small").get("status") or {}),
             message="the quota counted")
    form = await console.get(f"/namespaces/{ns}/services/new")
    fields = dict(form_fields(form.text, "create-service"))
    preview = await console.post(f"/namespaces/{ns}/services", {
        **fields, "name": "warned", "image": "ghcr.io/knative/helloworld-go:latest", "cpu_request": "500m",
        "action": "preview"})
    assert preview.status_code == 200, preview.text
    assert "asks for 525m (500m for its container, the rest for queue-proxy)" in preview.text, preview.text


async def _review(console: Console, ns: str, name: str) -> None:
    """The review pages: a revision's page (its Events and Pods) and live stream, the diff, YAML, the history (the
    Service's Events) and its live stream, a restore of the split before, and a traffic check."""
    base = f"/namespaces/{ns}/services/{name}"
    for path in (f"{base}/revisions/{name}-00002", f"{base}/diff?from={name}-00001&to={name}-00002",
                 f"{base}?format=yaml", f"{base}/revisions/{name}-00001?format=yaml&download=1", f"{base}/history"):
        response = await console.get(path)
        assert response.status_code == 200, (path, response.text[:300])
    for path in (f"/live{base}/revisions/{name}-00002", f"/live{base}/history"):
        async with open_stream(console.http, path) as stream:
            await stream.next()
    history = (await console.get(f"{base}/history")).text
    restorable = re.findall(r'data-restore="([^"]+)"', history)
    assert restorable, history
    form = await console.get(f"{base}/traffic?restore={restorable[-1]}")
    restored = await console.post_fields(f"{base}/traffic", [*form_fields(form.text, "split-form"), ("action", "ok")])
    assert restored.status_code == 303, restored.text
    checked = await console.post(f"{base}/check", {"requests": "4", "target": ""})
    assert checked.status_code == 200 and "data-check-done" in checked.text, checked.text[-600:]


async def test_the_documented_role_is_exactly_what_the_console_needs(devcluster: DevClusterProcess,
                                                                     tmp_path: Path) -> None:
    code, _, body = devcluster.request("POST", "/api/v1/namespaces", {"metadata": {"name": "knative-console"}})
    assert code in (201, 409), body
    devcluster.kubectl(KUBECTL_VERSIONS[-1], "apply", "-k", str(ROOT / "deploy" / "overlays" / "kubeconfig"))
    code, _, body = devcluster.request(
        "POST", "/api/v1/namespaces/knative-console/serviceaccounts/knative-console/token", {"spec": {}})
    assert code == 201, body
    kubeconfig = devcluster.kubeconfig_for(tmp_path / "kubeconfig", body["status"]["token"])
    ns = devcluster.new_namespace("role")
    settings = Settings(kubeconfig=str(kubeconfig), secret_key=SECRET, request_timeout=5.0, live_heartbeat=0.3)
    async with served(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        console = Console(http, devcluster)
        assert (await console.get(f"/namespaces/{ns}/services")).status_code == 200
        assert (await console.get("/namespaces/role-nowhere/services")).status_code == 404
        async with open_stream(http, f"/live/namespaces/{ns}/services") as stream:
            created = await console.post(f"/namespaces/{ns}/services", {
                "name": "roled", "image": "ghcr.io/knative/helloworld-go:latest", "protocol": "http",
                "port": "8080", "visibility": "public", "action": "create"})
            assert created.status_code == 303, created.text
            await stream.until(lambda event: "roled" in event.data)
        await console.settled(ns, "roled")
        assert (await console.get(f"/namespaces/{ns}/services/roled")).status_code == 200
        await _logs(console, devcluster, ns, "roled", "roled-00001")
        async with open_stream(http, f"/live/namespaces/{ns}/services/roled") as stream:
            await stream.next()
            wizard = await console.get(f"/namespaces/{ns}/services/roled/revisions/new")
            fields = [(k, v) for k, v in form_fields(wizard.text, "wizard") if k != "step"]
            made = await console.post_fields(f"/namespaces/{ns}/services/roled/revisions/new",
                                             [*fields, ("step", "3"), ("action", "create")])
            assert made.status_code == 303, made.text
            await stream.until(lambda event: "roled-00002" in event.data)
        await console.settled(ns, "roled", revisions=2)  # a revision that is not Ready gets no share
        await _split(console, ns, "roled")
        await _diagnosis(console, devcluster, ns)
        await _review(console, ns, "roled")
        await _warnings(console, devcluster, ns)
        delete = await console.get(f"/namespaces/{ns}/services/roled/delete")
        deleted = await console.post_fields(f"/namespaces/{ns}/services/roled/delete",
                                            form_fields(delete.text, "delete"))
        assert deleted.status_code == 303, deleted.text
    events = wait_for(lambda: devcluster.audit_events(ACCOUNT) or None, message="the audit log")
    refused = [(e["verb"], e["requestURI"]) for e in events if e["responseStatus"]["code"] == 403]
    assert refused == [], f"calls the documented role does not allow: {refused}"
    unused = [rule for rule in _documented_rules() if not _used(events, *rule)]
    assert unused == [], f"rules the console never needed: {unused}"
