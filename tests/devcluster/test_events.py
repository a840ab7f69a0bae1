"""Events the controllers record: named `<object>.<hex of UnixNano>` as client-go names them, so a list (and
`kubectl get events`) shows each object's events in the order they happened; and gone, with a DELETED event on a
watch, once `--event-ttl` has passed since their last write, as kube-apiserver's expire."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import KUBECTL_VERSIONS, DevClusterProcess, ksvc_manifest, start_cluster, wait_for

EVENTS = "/api/v1/namespaces/{ns}/events"
KSVC = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterProcess]:
    cluster = start_cluster(Path(tmp_path_factory.mktemp("events")), "--revision-start-delay", "0.2",
                            "--event-ttl", "3s")
    yield cluster
    assert cluster.stop() == 0, cluster.log()[-3000:]


def _ready(cluster: DevClusterProcess, ns: str, name: str) -> bool:
    status = cluster.get(KSVC.format(ns=ns) + f"/{name}").get("status") or {}
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])


def test_events_are_named_in_time_order_and_expire(cluster: DevClusterProcess) -> None:
    ns = cluster.new_namespace("ev")
    start_rv = cluster.get(EVENTS.format(ns=ns))["metadata"]["resourceVersion"]
    code, _, body = cluster.request("POST", KSVC.format(ns=ns), ksvc_manifest("hello", ns))
    assert code == 201, body
    wait_for(lambda: _ready(cluster, ns, "hello"), message="hello Ready")
    events = wait_for(lambda: cluster.get(EVENTS.format(ns=ns))["items"] or None, message="events")
    by_object: dict[str, list[dict]] = {}
    for event in events:
        involved = event["involvedObject"]["name"]
        assert re.fullmatch(rf"{re.escape(involved)}\.[0-9a-f]{{16}}", event["metadata"]["name"]), event["metadata"]
        by_object.setdefault(f"{event['involvedObject']['kind']}/{involved}", []).append(event)
    assert {"Service/hello", "Configuration/hello"} <= set(by_object)
    for listed in by_object.values():
        # The list's order (by name) is the order of writing.
        assert [int(e["metadata"]["resourceVersion"]) for e in listed] == sorted(
            int(e["metadata"]["resourceVersion"]) for e in listed)
    names = [e["metadata"]["name"] for e in events]
    kubectl = cluster.kubectl(KUBECTL_VERSIONS[-1], "get", "events", "-n", ns, "-o", "name")
    assert [line.removeprefix("event/") for line in kubectl.stdout.split()] == names
    wait_for(lambda: not cluster.get(EVENTS.format(ns=ns))["items"], timeout=20, message="events expired")
    # A watch from before shows each one come and go.
    url = f"{cluster.api_url}{EVENTS.format(ns=ns)}?watch=true&resourceVersion={start_rv}&timeoutSeconds=1"
    with httpx.Client(timeout=10, trust_env=False, verify=cluster.tls(), headers=cluster.auth) as http, \
            http.stream("GET", url) as response:
        seen = [json.loads(line) for line in response.iter_lines() if line]
    for kind in ("ADDED", "DELETED"):
        assert sorted(e["object"]["metadata"]["name"] for e in seen if e["type"] == kind) == sorted(names), kind
