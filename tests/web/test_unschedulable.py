"""A revision whose instances no node can run, in the console (over httpx, against a dev cluster with a small node:
1 cpu, 1Gi, 6 pods): the details page, the revision's row and its page say which resource ran out and what to do,
with the instances Pending for want of a node and the scheduler's FailedScheduling events behind the diagnosis; with a
min-scale beyond the node's pod limit, the instances are counted (running, pending) rather than each listed past the
table's rows."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.web.evidence import INSTANCE_ROWS
from tests.support import DevClusterProcess, ksvc_manifest, start_cluster, wait_for
from tests.web.conftest import Console, console_on

KSVC = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"
MIN_SCALE = "autoscaling.knative.dev/min-scale"
NODE_PODS = 6


@pytest.fixture(scope="module")
def small() -> Iterator[DevClusterProcess]:
    import tempfile
    cluster = start_cluster(Path(tempfile.mkdtemp(prefix="small-node-")), "--revision-start-delay", "0.1",
                            "--node-cpu", "1", "--node-memory", "1Gi", "--node-pods", str(NODE_PODS))
    yield cluster
    assert cluster.stop() == 0, cluster.log()[-4000:]


@pytest.fixture
async def console(small: DevClusterProcess) -> AsyncIterator[Console]:
    async with console_on(small) as console:
        yield console


def _words(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page)))


def _create(console: Console, ns: str, name: str, cpu: str = "", min_scale: int = 0) -> None:
    manifest = ksvc_manifest(name, ns)
    if cpu:
        manifest["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": cpu}}
    if min_scale:
        manifest["spec"]["template"]["metadata"] = {"annotations": {MIN_SCALE: str(min_scale)}}
    code, _, body = console.cluster.request("POST", KSVC.format(ns=ns), manifest)
    assert code == 201, body


def _revision_condition(console: Console, ns: str, name: str, kind: str) -> dict:
    code, _, obj = console.cluster.request("GET", f"/apis/serving.knative.dev/v1/namespaces/{ns}/revisions/{name}")
    found = [c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind] if code == 200 else []
    return found[0] if found else {}


async def test_a_revision_asking_more_cpu_than_any_node_has(console: Console) -> None:
    ns = console.namespace()
    _create(console, ns, "hungry", cpu="4")
    wait_for(lambda: _revision_condition(console, ns, "hungry-00001", "Ready").get("reason") == "Unschedulable",
             timeout=20, message="Ready False Unschedulable")

    details = await console.get(f"/namespaces/{ns}/services/hungry")
    assert details.status_code == 200
    text = _words(details.text)
    # The scheduler's message has no amounts: the page gives what each instance asks for, queue-proxy's share said.
    assert ("No node can run its instances: no node has enough CPU left for their requests (each instance asks for "
            "4025m CPU, of which 4000m for its container and the rest for queue-proxy, the container Knative adds to each "
            "instance)") \
        in text
    assert "Lower the revision's CPU requests" in text
    assert "No node can run its instances: the scheduler" not in text

    page = await console.get(f"/namespaces/{ns}/services/hungry/revisions/hungry-00001")
    assert page.status_code == 200
    text = _words(page.text)
    assert "No node can run its instances: no node has enough CPU left for their requests" in text
    assert "Instances: 1 pending (no node has enough CPU)" in text
    assert "pending: no node has enough CPU" in text  # the instance's own row
    assert "FailedScheduling" in text and "0/1 nodes are available: 1 Insufficient cpu." in text
    assert "starting" not in text.split("Instances:", 1)[1].split("Events", 1)[0]
    # A pod no node took has no log (the API server answers 204): its logs are not read, nor said to be empty.
    assert "is not available" not in text
    note = "No instance runs: no node has enough CPU (its instances wait for one, Pending), so there is no log to read."
    assert note in text
    logs = await console.get(f"/namespaces/{ns}/services/hungry/revisions/hungry-00001/logs")
    assert logs.status_code == 200
    assert note in _words(logs.text)


async def test_a_min_scale_beyond_the_pod_limit(console: Console) -> None:
    ns = console.namespace()
    wanted = INSTANCE_ROWS + 10
    _create(console, ns, "crowd", min_scale=wanted)

    def pods() -> list[dict]:
        return console.cluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]

    def settled() -> bool:
        listed = pods()
        return len(listed) == wanted and all(
            p["spec"].get("nodeName") or any(c["type"] == "PodScheduled" for c in p.get("status", {}).get(
                "conditions") or []) for p in listed)

    wait_for(settled, timeout=30, message=f"{wanted} pods, each bound or Unschedulable")
    bound = sum(1 for p in pods() if p["spec"].get("nodeName"))
    assert bound == NODE_PODS
    pending = wanted - NODE_PODS

    details = await console.get(f"/namespaces/{ns}/services/crowd")
    assert details.status_code == 200
    text = _words(details.text)
    assert f"{pending} pending (no node takes more pods)" in text
    # While it still deploys, the details page says why at the top, as the revision's page does (a walkthrough found
    # the cause only in the revision's row, and the Service's status "In progress" for up to its progress deadline).
    assert 'data-waiting="crowd-00001"' in details.text
    top = text.split("Revisions", 1)[0]
    assert f"Not ready yet Revision crowd-00001 {pending} of its {wanted} instances wait for a node" in top
    # The revision's row says it in a few words and points to the panel (found by a walkthrough: the whole diagnosis
    # again, in the table's narrow Status column).
    row = details.text.split('data-revision="crowd-00001"', 1)[1].split("</tr>", 1)[0]
    assert (f'<div class="waiting-line" data-waiting-line>{pending} of its {wanted} instances wait for a node: '
            '<a href="#waiting-crowd-00001">see above</a>.</div>') in row, row
    assert 'id="waiting-crowd-00001"' in details.text and "every node already runs" not in row

    page = await console.get(f"/namespaces/{ns}/services/crowd/revisions/crowd-00001")
    assert page.status_code == 200
    text = _words(page.text)
    assert f"{pending} pending (no node takes more pods)" in text
    assert f"{pending} of its {wanted} instances wait for a node: every node already runs as many pods as it takes" \
        in text
    assert "lower the revision's min-scale" in text
    assert "older revisions" not in text  # it is the first: none is older (a walkthrough found them named anyway)
    assert page.text.count("data-instance=") == INSTANCE_ROWS
    # One row for the pending instances' FailedScheduling Events, which say the same, counting them.
    events = text.split("Events (the revision's", 1)[1].split("Instances:", 1)[0]
    assert events.count("FailedScheduling") == 1
    assert f"{pending} instances (pod/crowd-00001-deployment-" in events
    assert f"And {wanted - INSTANCE_ROWS} more: {wanted - INSTANCE_ROWS} pending (no node takes more pods), not " \
        "listed." in text


async def test_the_advice_names_the_service_s_other_revisions_that_hold_the_room(tmp_path: Path) -> None:
    """A node that takes 4 pods, 3 of them the Service's first revision's (min-scale 3): its second revision
    (min-scale 3) gets one, and the details page names the first among what holds the room, with how many."""
    cluster = start_cluster(tmp_path / "four", "--revision-start-delay", "0.1", "--node-pods", "4")
    try:
        async with console_on(cluster) as console:
            ns = console.namespace()
            _create(console, ns, "hold", min_scale=3)
            wait_for(lambda: _revision_condition(console, ns, "hold-00001", "Ready").get("status") == "True",
                     timeout=20, message="hold-00001 Ready")
            code, _, body = cluster.request(
                "PATCH", KSVC.format(ns=ns) + "/hold",
                {"spec": {"template": {"metadata": {"annotations": {MIN_SCALE: "3", "x": "2"}}}}},
                content_type="application/merge-patch+json")
            assert code == 200, body
            pending = lambda: [p for p in cluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]  # noqa: E731
                               if not p["spec"].get("nodeName") and any(
                                   c["type"] == "PodScheduled" for c in p.get("status", {}).get("conditions") or [])]
            wait_for(lambda: len(pending()) == 2, timeout=20, message="two of hold-00002's pods Unschedulable")
            top = ""
            for _ in range(100):  # until the console's watch of the pods has seen them
                top = _words((await console.get(f"/namespaces/{ns}/services/hold")).text).split("Revisions", 1)[0]
                if "Not ready yet Revision hold-00002 2 of its 3 instances wait for a node" in top:
                    break
                await asyncio.sleep(0.1)
            assert "Not ready yet Revision hold-00002 2 of its 3 instances wait for a node" in top
            assert ("scale down or delete other workloads (this Service's other revisions too, which hold 3 instances "
                    "of hold-00001: one that never became Ready keeps its instances") in top
    finally:
        assert cluster.stop() == 0, cluster.log()[-4000:]
