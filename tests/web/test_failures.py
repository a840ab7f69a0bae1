"""Revisions that fail, crash-loop and roll out gradually, in the console (over httpx, against the session's dev
cluster): a failed revision is unmistakable in the list, on the details page (with the diagnosis, Knative's
conditions, its events and last log lines), on its own revision page (which follows its instances live), in the
revision table and in Split Traffic, which refuses it a share (its preview too); instances are told in words; the
wizard's gradual rollout; the logs page and its live stream."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Iterator

import httpx
import pytest

from app.web.logs import moment, parse_after
from tests.devcluster.controllers.test_zero_initial_scale import autoscaler_config
from tests.support import DevClusterProcess, ksvc_manifest, wait_for
from tests.web.conftest import (
    Console,
    Event,
    form_fields,
    live_settings,
    now_column,
    open_stream,
    rows_in,
    served,
)
from tests.web.test_live import stream_path
from tests.web.test_writes import split_path, submit, wizard_path

IMAGES = "/api/v1/namespaces/devcluster-system/configmaps/images"
REVISIONS = "/apis/serving.knative.dev/v1/namespaces/{ns}/revisions/{name}"


def _ready_status(cluster: DevClusterProcess, ns: str, name: str) -> str:
    """The revision's Ready status; "" until it has one (or while it is not created yet)."""
    code, _, revision = cluster.request("GET", REVISIONS.format(ns=ns, name=name))
    if code == 404:
        return ""
    assert code == 200, (code, revision)
    return next((c["status"] for c in (revision.get("status") or {}).get("conditions", []) if c["type"] == "Ready"),
                "")


def _failed(cluster: DevClusterProcess, ns: str, name: str) -> None:
    wait_for(lambda: _ready_status(cluster, ns, name) == "False", timeout=15, message=f"{name} failed")


def _routes_refused(console: Console, ns: str, name: str) -> bool:
    """The Service's RoutesReady says RevisionMissing: the Route refuses the split asked for."""
    status = console.ksvc(ns, name).get("status", {})
    return any(c["type"] == "RoutesReady" and c.get("reason") == "RevisionMissing" for c in status.get("conditions", []))


@pytest.fixture
def failing_images(devcluster: DevClusterProcess) -> Iterator[None]:
    """Images `ghcr.io/crash/*` exit with code 2 at start, for the test; the ConfigMap is put back after."""
    with devcluster.images("failing", "ghcr.io/crash/* 2\n"):
        yield


async def test_an_unresolvable_image_is_diagnosed_everywhere(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "broken", image="registry.invalid/app:v1")
    _failed(console.cluster, ns, "broken-00001")
    await asyncio.sleep(0.3)  # the Service's status follows the revision's

    listing = (await console.get(f"/namespaces/{ns}/services")).text
    assert 'class="failed-row"' in listing and ">Failed</span>" in listing
    assert "Revision broken-00001 failed: the image registry.invalid/app:v1 could not be resolved." in listing

    revision = html.unescape((await console.get(f"/namespaces/{ns}/services/broken/revisions/broken-00001")).text)
    assert "The image registry.invalid/app:v1 could not be resolved.</strong> Check the image name and tag" in revision
    assert "No instance runs: the revision failed (what happened is said at the top of this page)" in revision
    assert "Instances: <span" in revision
    # The logs page is another page: it says where what happened is told, with a link (it said "its page").
    logs = html.unescape((await console.get(f"/namespaces/{ns}/services/broken/revisions/broken-00001/logs")).text)
    assert (f'No instance runs: the revision failed (what happened is said on <a href="/namespaces/{ns}/services/'
            'broken/revisions/broken-00001">the revision\'s page</a>), so there is no log to read.') in logs

    page = (await console.get(f"/namespaces/{ns}/services/broken")).text
    text = html.unescape(page)
    assert ("The image registry.invalid/app:v1 could not be resolved.</strong> Check the image name and tag, and that "
            "the cluster can pull from its registry.") in text
    assert 'Unable to fetch image "registry.invalid/app:v1": failed to resolve image to digest' in text  # conditions
    assert "InternalError" in text  # the revision's events
    assert "No instance has run: there is no log to read." in text
    assert 'data-revision="broken-00001" class="failed-row"' in page
    assert ">none</td>" in page  # its instances


async def test_traffic_stays_and_split_traffic_refuses_a_failed_revision(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "keep")
    await console.settled(ns, "keep")
    console.cluster.kubectl("1.33", "-n", ns, "patch", "ksvc", "keep", "--type", "merge", "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"image": "registry.invalid/app:v2"}]}}}}))
    _failed(console.cluster, ns, "keep-00002")
    await asyncio.sleep(0.3)
    page = html.unescape((await console.get(f"/namespaces/{ns}/services/keep")).text)
    assert "Traffic that follows the latest revision stays on keep-00001" in page
    # Explained in the panel above: its row gives the first words and points there.
    row = page.split('data-revision="keep-00002"', 1)[1].split("</tr>", 1)[0]
    line = re.search(r'<div class="failure-line" data-failure-line>(.*?)</div>', row)
    assert line and line.group(1).endswith(': <a href="#failure-keep-00002">see above</a>.'), row
    assert 'id="failure-keep-00002"' in page
    # The table's "serving only" leaves the failed newest revision out (it has no traffic): the page still explains it.
    serving = html.unescape((await console.get(f"/namespaces/{ns}/services/keep?revisions=serving")).text)
    assert re.findall(r'<tr data-revision="([^"]+)"', serving) == ["keep-00001"]
    assert 'data-failure="keep-00002"' in serving and "could not be resolved" in serving

    dialog = await console.get(split_path(ns, "keep"))
    assert 'class="failed-row"' in dialog.text and "ContainerMissing" in dialog.text
    before = console.ksvc(ns, "keep")["spec"]["traffic"]
    rows = [("latest", "", "0", ""), ("revision", "keep-00002", "50", ""), ("revision", "keep-00001", "50", "")]
    shown = await submit(console, split_path(ns, "keep"), dialog.text, "split-form", "preview", rows=rows)
    assert "Nothing can be sent yet: keep-00002 has failed (ContainerMissing), so it cannot take traffic" in \
        html.unescape(shown.text) and 'id="sent-body"' not in shown.text
    refused = await submit(console, split_path(ns, "keep"), dialog.text, "split-form", "ok", rows=rows)
    assert refused.status_code == 422
    assert "keep-00002 has failed (ContainerMissing), so it cannot take traffic: give it 0%, and create a new " \
           "revision that fixes it." in html.unescape(refused.text)
    assert console.ksvc(ns, "keep")["spec"]["traffic"] == before  # nothing written
    one_click = await console.get(split_path(ns, "keep") + "?revision=keep-00002")
    assert one_click.status_code == 409 and "keep-00002 is not Ready" in one_click.text


async def test_a_crash_loop_shows_its_restarts_and_last_words(console: Console, failing_images: None) -> None:
    ns = console.namespace()
    # A container the revision names itself: its status and logs are under that name, not `user-container`.
    manifest = ksvc_manifest("loops", ns, image="ghcr.io/crash/app:v1")
    manifest["spec"]["template"]["spec"]["containers"][0]["name"] = "app"
    code, _, body = console.cluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services", manifest)
    assert code == 201, body
    _failed(console.cluster, ns, "loops-00001")

    def restarted() -> bool:
        pods = console.cluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]
        return any(s["restartCount"] >= 1 for p in pods for s in p["status"].get("containerStatuses", []))

    wait_for(restarted, timeout=15, message="a restart")
    page = html.unescape((await console.get(f"/namespaces/{ns}/services/loops")).text)
    assert "crash-looping (" in page
    assert "The container exits with code 2 as soon as it starts" in page
    assert "Read its last log lines below for the cause" in page
    assert "helloworld: exiting with code 2" in page  # the last log lines
    assert "BackOff" in page  # the instance's events
    # Its logs page: each instance, its restarts and last exit code, and what it wrote.
    logs = html.unescape((await console.get(f"/namespaces/{ns}/services/loops/revisions/loops-00001/logs")).text)
    assert "Instances: " in logs and "crash-looping (" in logs and "(last exit code 2)" in logs
    assert "helloworld: exiting with code 2" in logs


async def test_an_instance_not_restarted_yet_is_failing_not_crash_looping(slow_console: Console) -> None:
    """After its container's first exit the kubelet waits (10 s on this cluster) before the first restart: the pod
    says CrashLoopBackOff with restartCount 0. Its revision's instances read "failing (CrashLoopBackOff)" then, not
    "crash-looping (0 restarts)"."""
    console, ns = slow_console, slow_console.namespace()
    before = console.cluster.get(IMAGES)["data"].get("failing") or ""
    code, _, body = console.cluster.request("PATCH", IMAGES, {"data": {"failing": before + "ghcr.io/once/* 3\n"}},
                                            content_type="application/merge-patch+json")
    assert code == 200, body
    try:
        console.create_ksvc(ns, "once", image="ghcr.io/once/app:v1")

        def exited() -> list[dict]:
            pods = console.cluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]
            return [s for p in pods for s in (p.get("status") or {}).get("containerStatuses") or []
                    if (s.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"]

        wait_for(exited, timeout=15, message="the first exit")
        for path in (f"/namespaces/{ns}/services/once", f"/namespaces/{ns}/services/once/revisions/once-00001"):
            page = html.unescape((await console.get(path)).text)
            assert "failing (CrashLoopBackOff)" in page, path
            assert "0 restarts" not in page and "crash-looping" not in page, path
        assert all(s["restartCount"] == 0 for s in exited())  # still before the first restart: what was shown
    finally:
        code, _, body = console.cluster.request("PATCH", IMAGES, {"data": {"failing": before}},
                                                content_type="application/merge-patch+json")
        assert code == 200, body


async def test_a_failed_revisions_page_explains_it_and_follows_its_instances(console: Console,
                                                                             failing_images: None) -> None:
    """The revision's own page: the diagnosis above Knative's reasons, its instances in words and each one, the last
    words of its container; its live stream then follows the Pods (the restarts go up while it is open)."""
    ns = console.namespace()
    console.create_ksvc(ns, "sinks", image="ghcr.io/crash/app:v1")
    _failed(console.cluster, ns, "sinks-00001")
    path = f"/namespaces/{ns}/services/sinks/revisions/sinks-00001"
    async with served(live_settings(console.cluster)) as app, httpx.AsyncClient(base_url=app.url, timeout=10) as http:
        page = await http.get(path)
        text = html.unescape(page.text)
        assert "The container exits with code 2 as soon as it starts" in text and "data-diagnosis" in text
        assert "Knative reports <span class=\"reason\">ExitCode2</span>" in text
        assert 'data-failure="sinks-00001"' in text and "helloworld: exiting with code 2" in text
        shown = int(re.search(r'data-instance="[^"]+"><td[^>]*>[^<]+</td><td>[^<]*</td><td class="num">(\d+)',
                              text).group(1))
        async with open_stream(http, stream_path(page)) as stream:
            def restarted(event: Event) -> bool:
                found = re.search(r'<td class="num">(\d+)', event.data) if event.name == "instances" else None
                return found is not None and int(found.group(1)) > shown

            await stream.until(restarted)


async def test_a_revisions_page_lists_its_instances_warnings_with_its_events(console: Console,
                                                                            failing_images: None) -> None:
    """A crash-looping revision may have no Events of its own (the dev cluster records none on it for ExitCode):
    its instances' warnings (the kubelet's BackOff) are listed in its page's Events, live, as `kubectl describe pod`
    would show them, not "No Events recorded" (found by a walkthrough: the details page showed them, the revision's
    own page did not). Its instances' Normal events (Pulled, Started, …) stay out: they are not news."""
    ns = console.namespace()
    console.create_ksvc(ns, "warns", image="ghcr.io/crash/app:v1")
    _failed(console.cluster, ns, "warns-00001")

    def backoff() -> bool:
        events = console.cluster.get(f"/api/v1/namespaces/{ns}/events?fieldSelector=reason%3DBackOff")["items"]
        return bool(events)

    wait_for(backoff, timeout=15, message="the kubelet's BackOff")
    path = f"/namespaces/{ns}/services/warns/revisions/warns-00001"
    async with served(live_settings(console.cluster)) as app, httpx.AsyncClient(base_url=app.url, timeout=10) as http:
        page = await http.get(path)
        events = html.unescape(re.search(r'<div id="region-events".*?</section>', page.text, re.S).group(0))
        assert "No Events recorded" not in events
        backoff_row = (r'<td>BackOff</td><td class="mono wrap">pod/warns-00001-deployment-[^<]+</td><td>Back-off '
                       r'restarting failed container user-container in pod warns-00001-deployment-[^<]+</td>'
                       r'<td class="source">kubelet</td><td class="num">(\d+)</td>')
        assert re.search(backoff_row, events), events
        assert "<td>Started</td>" not in events and "<td>Pulled</td>" not in events
        counted = sum(int(n) for n in re.findall(backoff_row, events))
        async with open_stream(http, stream_path(page)) as stream:  # the next back-off comes live
            await stream.until(lambda e: e.name == "events" and sum(
                int(n) for n in re.findall(backoff_row, html.unescape(e.data))) > counted, within=30)


async def test_the_wizard_rolls_a_revision_out_gradually(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "grad", env={"TARGET": "one"})
    await console.settled(ns, "grad")
    path = wizard_path(ns, "grad")
    page = await console.get(path)
    # The prefill keeps the floating share on grad-00001: nothing would roll out, and the page says what to do.
    kept = await submit(console, path, page.text, "wizard", "create", rollout="4")
    assert kept.status_code == 422
    assert "the latest-revision row&#39;s share to the new revision, and that row has 0% here" in kept.text
    assert "grad-00002" not in json.dumps(console.ksvc(ns, "grad")["spec"])
    bad = await submit(console, path, page.text, "wizard", "create", rollout="soon")
    assert bad.status_code == 422 and "Enter whole seconds from 1 to 86400" in bad.text
    rows = [("new", "grad-00002", "0", ""), ("latest", "", "100", ""), ("revision", "grad-00001", "0", "")]
    created = await submit(console, path, page.text, "wizard", "create", rows=rows, rollout="4", env_name="TARGET",
                           env_value="two")
    assert created.status_code == 303, created.text
    stored = console.ksvc(ns, "grad")
    assert stored["metadata"]["annotations"]["serving.knative.dev/rollout-duration"] == "4s"

    def rolling() -> bool:
        traffic = console.ksvc(ns, "grad").get("status", {}).get("traffic", [])
        return any(t["revisionName"] == "grad-00002" and 0 < t["percent"] < 100 for t in traffic)

    wait_for(rolling, timeout=15, message="rolling out")
    details = html.unescape((await console.get(f"/namespaces/{ns}/services/grad")).text)
    assert "Rolling out grad-00002" in details and "of the traffic now" in details
    assert "it takes 4 s in all (the Service's serving.knative.dev/rollout-duration is 4s)" in details

    # The next wizard run offers the same pace, and clearing it removes it.
    again = await console.get(path)
    assert 'name="rollout" value="4"' in again.text


async def test_the_logs_page_follows_new_lines(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("logs")
    code, _, body = devcluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services", {
        "apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "talk", "namespace": ns},
        "spec": {"template": {"spec": {"containers": [{"name": "app",  # followed under its own name
                                                       "image": "ghcr.io/knative/helloworld-go:latest"}]}}}})
    assert code == 201, body
    wait_for(lambda: _ready_status(devcluster, ns, "talk-00001") == "True", message="Ready")
    async with served(live_settings(devcluster)) as app, httpx.AsyncClient(base_url=app.url, timeout=10) as http:
        page = await http.get(f"/namespaces/{ns}/services/talk/revisions/talk-00001/logs")
        assert page.status_code == 200
        assert "helloworld: starting server..." in page.text and "helloworld: listening on port 8080" in page.text
        assert 'data-instances>1 running<' in page.text and 'data-instance="talk-00001-deployment-' in page.text
        assert "<td>ready</td>" in page.text
        # The stream goes on from the newest line shown (the node's time of it).
        assert f'sse-connect="/live/namespaces/{ns}/services/talk/revisions/talk-00001/logs?after=talk-00001-' \
               'deployment-' in page.text
        missing = await http.get(f"/namespaces/{ns}/services/talk/revisions/talk-00009/logs")
        assert missing.status_code == 404
        async with open_stream(http, f"/live/namespaces/{ns}/services/talk/revisions/talk-00001/logs") as stream:
            async with httpx.AsyncClient(base_url=devcluster.gateway_url, trust_env=False, timeout=10) as gateway:
                for _ in range(3):
                    assert (await gateway.get("/", headers={"Host": f"talk.{ns}.example.com"})).status_code == 200
            events = await stream.until(lambda e: e.name == "log" and "received a request" in e.data)
            line = events[-1].data
            assert line.startswith('<div class="log-line"><span class="log-pod">talk-00001-deployment-')
            # followed with the node's timestamps (to tell lines apart), shown as the container wrote them
            assert re.search(r"</span> \d{4}/\d\d/\d\d \d\d:\d\d:\d\d helloworld: received a request</div>$",
                             line), line


async def test_an_instance_that_starts_while_the_logs_page_is_open_is_followed_from_its_first_line(
        devcluster: DevClusterProcess) -> None:
    """A scale-up or a cold start while the logs page is open: the new instance's lines come from its first one (its
    start, the request that woke it), not only those written after the console noticed it was ready, and the page's
    Instances follow (found by a walkthrough: a cold start's own request line never showed, and the page still said
    "starting (ContainerCreating)" for an instance that had long run and gone)."""
    ns = devcluster.new_namespace("logs")
    assert devcluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services",
                              ksvc_manifest("grow", ns))[0] == 201
    wait_for(lambda: _ready_status(devcluster, ns, "grow-00001") == "True", message="Ready")
    async with served(live_settings(devcluster)) as app, httpx.AsyncClient(base_url=app.url, timeout=10) as http:
        page = await http.get(f"/namespaces/{ns}/services/grow/revisions/grow-00001/logs")
        first = re.findall(r'data-instance="([^"]+)"', page.text)
        assert len(first) == 1, first
        async with open_stream(http, f"/live/namespaces/{ns}/services/grow/revisions/grow-00001/logs") as stream:
            await stream.until(lambda e: e.name == "")  # a heartbeat: the stream follows the revision's pods
            devcluster.kubectl("1.33", "-n", ns, "annotate", "revision", "grow-00001",
                               "autoscaling.knative.dev/min-scale=2")  # the autoscaler starts a second instance
            events = await stream.until(lambda e: e.name == "log" and "listening on port 8080" in e.data)
            started = [e.data for e in events if e.name == "log"]
            assert not any(first[0] in line for line in started), started  # its lines were on the page already
            assert "helloworld: starting server..." in started[-2] and "listening on port 8080" in started[-1]
            # The page's Instances follow too: the table the page opened with said "1 running" and one instance.
            assert 'id="region-instances" class="region" sse-swap="instances"' in page.text
            def both(e: Event) -> bool:
                return e.name == "instances" and "data-instances>2 running<" in e.data

            if not any(both(e) for e in events):  # sent with the new instance's lines, or after them
                events += await stream.until(both)
            shown = next(e for e in events if both(e)).data
            assert len(set(re.findall(r'data-instance="([^"]+)"', shown))) == 2


async def test_lines_written_between_the_logs_page_and_its_stream_are_not_lost(devcluster: DevClusterProcess) -> None:
    """The logs page shows each instance's last lines; its stream then goes on from the newest line the page showed
    (the node's time of it, carried in the stream's URL), so a line written in between comes once, and the lines on
    the page do not come again (before, the stream began with the lines written after it connected)."""
    ns = devcluster.new_namespace("logs")
    assert devcluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services",
                              ksvc_manifest("gap", ns))[0] == 201
    wait_for(lambda: _ready_status(devcluster, ns, "gap-00001") == "True", message="Ready")
    async with served(live_settings(devcluster)) as app, httpx.AsyncClient(base_url=app.url, timeout=10) as http, \
            httpx.AsyncClient(base_url=devcluster.gateway_url, trust_env=False, timeout=10) as gateway:
        page = await http.get(f"/namespaces/{ns}/services/gap/revisions/gap-00001/logs")
        assert "helloworld: listening on port 8080" in page.text and "received a request" not in page.text
        live = html.unescape(re.search(r'sse-connect="([^"]+)"', page.text).group(1))
        assert (await gateway.get("/", headers={"Host": f"gap.{ns}.example.com"})).status_code == 200  # the gap
        async with open_stream(http, live) as stream:
            events = await stream.until(lambda e: e.name == "log" and "received a request" in e.data)
            assert not any("helloworld: starting server" in e.data or "listening on port" in e.data for e in events)


def test_the_logs_streams_after_parameter() -> None:
    """Where the stream goes on from, per instance: only well-formed pairs, at most one per followed instance."""
    assert parse_after("p-1=2026-12-02T07:05:23.1Z,p-2=2026-12-02T09:05:23+02:00") == {
        "p-1": "2026-12-02T07:05:23.100000000", "p-2": "2026-12-02T07:05:23.000000000"}
    assert parse_after("") == {} and parse_after("=2026-12-02T07:05:23Z,p=soon,p,p=2026-13-02T07:05:23Z") == {}
    assert len(parse_after(",".join(f"p{i}=2026-12-02T07:05:23Z" for i in range(50)))) == 5


def test_a_log_lines_time_sorts_as_time_does() -> None:
    assert moment("2026-12-02T03:04:05.123456789Z") == "2026-12-02T03:04:05.123456789"
    assert moment("2026-12-02T03:04:05Z") == "2026-12-02T03:04:05.000000000"
    assert moment("2026-12-02T03:04:05Z") < moment("2026-12-02T03:04:05.1Z") < moment("2026-12-02T03:04:05.5Z")
    assert moment("2026-12-02T03:04:05.999999999Z") < moment("2026-12-02T03:04:06Z")
    assert moment("2026-12-02T04:04:05.25+01:00") == moment("2026-12-02T03:04:05.25Z")  # a node in another zone
    for other in ("", "2026/12/02", "2026-13-02T03:04:05Z", "2026-12-02T03:04:05.1234567891Z", "hello"):
        assert moment(other) is None, other


async def test_the_hint_about_traffic_that_follows_the_latest_revision_only_when_some_does(console: Console) -> None:
    """Every entry pinned to a revision by name: no traffic follows the latest revision, so a failed newest revision
    moves nothing and no page says traffic "stays" anywhere because of it."""
    ns = console.namespace()
    console.create_ksvc(ns, "pinned")
    await console.settled(ns, "pinned")
    console.cluster.kubectl("1.33", "-n", ns, "patch", "ksvc", "pinned", "--type", "merge", "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"image": "registry.invalid/app:v2"}]}},
                  "traffic": [{"revisionName": "pinned-00001", "percent": 100}]}}))
    _failed(console.cluster, ns, "pinned-00002")
    wait_for(lambda: console.ksvc(ns, "pinned").get("status", {}).get("latestCreatedRevisionName") == "pinned-00002",
             timeout=15, message="the Service names pinned-00002 its latest revision")
    page = html.unescape((await console.get(f"/namespaces/{ns}/services/pinned")).text)
    assert 'data-failure="pinned-00002"' in page  # the failure is explained …
    assert "stays on" not in page  # … without a hint about traffic that no entry sends
    revision = html.unescape((await console.get(f"/namespaces/{ns}/services/pinned/revisions/pinned-00002")).text)
    assert "could not be resolved" in revision and "stays on" not in revision
    listing = html.unescape((await console.get(f"/namespaces/{ns}/services")).text)
    assert "Revision pinned-00002 failed" in listing and "Traffic stays on" not in listing


async def _held(console: Console, ns: str, name: str) -> None:
    """A Service whose split gives {name}-00002 50%, a revision that fails (its image cannot be resolved): the Route
    keeps routing everything to {name}-00001, through its floating entry, as before."""
    console.create_ksvc(ns, name)
    await console.settled(ns, name)
    console.cluster.kubectl("1.33", "-n", ns, "patch", "ksvc", name, "--type", "merge", "-p", json.dumps(
        {"spec": {"template": {"metadata": {"name": f"{name}-00002"},
                               "spec": {"containers": [{"image": "registry.invalid/app:v2"}]}},
                  "traffic": [{"revisionName": f"{name}-00002", "percent": 50},
                              {"revisionName": f"{name}-00001", "percent": 50}]}}))
    _failed(console.cluster, ns, f"{name}-00002")

    wait_for(lambda: _routes_refused(console, ns, name), timeout=15, message="the Route refuses the split")


async def test_a_split_that_names_a_failed_revision_is_said_to_be_not_in_effect(console: Console) -> None:
    """A split pinned to a revision that then fails is not applied: the Route's AllTrafficAssigned says RevisionMissing
    ("Revision … failed to become ready.", knative/serving pkg/reconciler/route/traffic/errors.go) and keeps its last
    good status.traffic. The details page and the list say the split asked for is not in effect and what to do,
    instead of only showing the old split (found by a walkthrough: the wizard gave a new revision 50%)."""
    ns = console.namespace()
    await _held(console, ns, "held")
    status = console.ksvc(ns, "held")["status"]
    assert [(t["revisionName"], t["percent"]) for t in status["traffic"]] == [("held-00001", 100)]  # the last good one
    page = html.unescape((await console.get(f"/namespaces/{ns}/services/held")).text)
    said = ("The split asked for is not in effect: it gives held-00002 50%, and held-00002 failed to become ready, so "
            "Knative still routes as below, as it did before. Give held-00002 0% in Split Traffic (or create a "
            "revision that fixes it and give the share to that one).")
    assert said in page
    listing = html.unescape((await console.get(f"/namespaces/{ns}/services")).text)
    assert ("Revision held-00002 failed: the image registry.invalid/app:v2 could not be resolved. The split that gives "
            "it traffic is not in effect: traffic stays as it was.") in listing


async def test_the_split_dialog_shows_what_is_routed_while_the_split_asked_for_is_held(console: Console) -> None:
    """While Knative holds a split it cannot apply (RoutesReady RevisionMissing, status.traffic the last good one), the
    Split Traffic dialog's "Now" column shows what is routed (status.traffic), not the split asked for, and the dialog
    says the split asked for is not in effect (found by a walkthrough: it showed 50% / 50% "now" while held-00001
    served everything)."""
    ns = console.namespace()
    await _held(console, ns, "split")
    dialog = await console.get(split_path(ns, "split"))
    assert dialog.status_code == 200
    assert now_column(dialog.text) == [("revision", "00002", "0%"),
                                       ("revision", "00001", "100% (via the latest ready revision)")]
    said = html.unescape(dialog.text)
    assert ("The split asked for is not in effect: it gives split-00002 50%, and split-00002 failed to become ready, "
            "so Knative still routes as it did before, as the Now column shows. Give split-00002 0% below (or create "
            "a revision that fixes it and give the share to that one).") in said
    # The form still holds the split asked for: OK writes what the rows say, as before.
    assert rows_in(form_fields(dialog.text, "split-form")) == [("revision", "split-00002", "50", ""),
                                                               ("revision", "split-00001", "50", "")]
    # Preset to send split-00001 100%: its "Now" line is what is routed too.
    preset = html.unescape((await console.get(split_path(ns, "split") + "?revision=split-00001")).text)
    assert re.search(r"<dt>Now</dt><dd data-before>latest ready revision \(now 00001\) 100%</dd>", preset), preset


async def test_a_revision_whose_image_cannot_be_resolved_says_it_was_not_resolved_and_why(console: Console) -> None:
    """A failed revision whose image no registry resolves (ContainerMissing) will never get a digest: its page says it
    was not resolved, with Knative's reason, instead of "(not resolved yet)"."""
    ns = console.namespace()
    await _held(console, ns, "nodigest")
    page = (await console.get(f"/namespaces/{ns}/services/nodigest/revisions/nodigest-00002")).text
    digest = re.search(r"<dt>Resolved digest</dt><dd[^>]*>(.*?)</dd>", page, re.S)
    assert digest is not None, page
    said = " ".join(html.unescape(re.sub(r"<[^>]+>", "", digest.group(1))).split())
    assert said.startswith('Not resolved: the revision failed (ContainerMissing: Unable to fetch image '
                           '"registry.invalid/app:v2": failed to resolve image to digest:'), said
    assert "yet" not in said
    ready = (await console.get(f"/namespaces/{ns}/services/nodigest/revisions/nodigest-00001")).text
    assert re.search(r"<dt>Resolved digest</dt><dd[^>]*>[^<]*@sha256:", ready), ready


async def test_the_logs_pages_note_follows_an_instance_that_starts_while_it_is_open(
        devcluster: DevClusterProcess) -> None:
    """A revision with no instance: the logs page says "No instance is running"; a cold start while the page is open
    (a request through the gateway) is followed, and the stream replaces that note (found by a walkthrough: the note
    stayed above the new lines while the Instances section already said "1 running")."""
    ns = devcluster.new_namespace("logs")
    manifest = ksvc_manifest("cold", ns)
    manifest["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/initial-scale": "0"}}
    with autoscaler_config(devcluster, **{"allow-zero-initial-scale": "true"}):  # admission reads it
        assert devcluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services", manifest)[0] == 201
    wait_for(lambda: _ready_status(devcluster, ns, "cold-00001") == "True", message="Ready")
    async with served(live_settings(devcluster)) as app, httpx.AsyncClient(base_url=app.url, timeout=10) as http, \
            httpx.AsyncClient(base_url=devcluster.gateway_url, trust_env=False, timeout=30) as gateway:
        page = await http.get(f"/namespaces/{ns}/services/cold/revisions/cold-00001/logs")
        assert "No instance is running" in page.text and 'sse-swap="logs-note"' in page.text
        live = html.unescape(re.search(r'sse-connect="([^"]+)"', page.text).group(1))
        async with open_stream(http, live) as stream:
            await stream.until(lambda e: e.name == "")  # a heartbeat: the stream follows the revision's pods
            assert (await gateway.get("/", headers={"Host": f"cold.{ns}.example.com"})).status_code == 200
            events = await stream.until(lambda e: e.name == "logs-note", within=20)
            note = events[-1].data
            assert "No instance is running" not in note and "cold-00001-deployment-" in note, note
            if not any(e.name == "log" and "received a request" in e.data for e in events):
                await stream.until(lambda e: e.name == "log" and "received a request" in e.data)


async def test_a_revision_deleted_under_its_traffic_entry_is_marked_deleted(console: Console) -> None:
    """A revision the split names, deleted with kubectl: the Route refuses the split (RevisionMissing, "Revision …
    referenced in traffic not found.") and keeps its last good status.traffic, which still lists the revision with its
    tag and tag URL. The Traffic section marks that entry deleted, offers no curl line for it, and says to give it 0%
    and remove its tag in Split Traffic (found by a walkthrough: the entry looked alive)."""
    ns = console.namespace()
    console.create_ksvc(ns, "del")
    await console.settled(ns, "del")
    console.cluster.kubectl("1.33", "-n", ns, "patch", "ksvc", "del", "--type", "merge", "-p", json.dumps(
        {"spec": {"template": {"metadata": {"name": "del-00002"}},
                  "traffic": [{"revisionName": "del-00002", "percent": 50},
                              {"revisionName": "del-00001", "percent": 50, "tag": "old"}]}}))
    await console.settled(ns, "del", revisions=2)
    console.cluster.kubectl("1.33", "-n", ns, "delete", "revision", "del-00001")
    wait_for(lambda: _routes_refused(console, ns, "del"), timeout=15,
             message="the Route refuses the split that names the deleted revision")
    status = console.ksvc(ns, "del")["status"]
    assert ("del-00001", "old") in [(t["revisionName"], t.get("tag")) for t in status["traffic"]]  # still listed
    page = html.unescape((await console.get(f"/namespaces/{ns}/services/del")).text)
    section = page[page.index("<h2>Traffic"):]
    section = section[:section.index("</section>")]
    row = re.search(r'<tr data-entry="del-00001"[^>]*>(.*?)</tr>', section, re.S)
    assert row is not None, section
    assert "Deleted" in row.group(1) and "curl" not in row.group(1) and "<a " not in row.group(1), row.group(1)
    assert "old-del" in row.group(1)  # its tag URL, as the Route still lists it, as text
    alive = re.search(r'<tr data-entry="del-00002"([^>]*)>(.*?)</tr>', section, re.S)
    assert alive is not None and "Deleted" not in alive.group(2) and "data-deleted" not in alive.group(1)
    assert ("del-00001 was deleted, but the split still names it (50%, tag old): give it 0% and remove its tag old "
            "in Split Traffic.") in " ".join(re.sub(r"<[^>]+>", " ", section).split())
