"""A gradual rollout in progress (the Service's serving.knative.dev/rollout-duration), as the console shows it (over
httpx, against the session's dev cluster): what the Split Traffic dialog says each row gets now, what it says about
the rollout and what OK would do to it, while Knative moves the latest-revision entry's share step by step; the Create
Revision wizard's prefill mid-rollout; a revision deleted mid-rollout and made again; the list and a revision's page
during a rollout; a revision scaled to zero that no traffic reaches."""

from __future__ import annotations

import html
import json
import re

import httpx

from app.knative.instances import UNREACHED
from tests.devcluster.controllers.test_zero_initial_scale import autoscaler_config
from tests.support import ksvc_manifest, wait_for
from tests.web.conftest import KSVC, Console, form_fields, live_settings, now_column, open_stream, rows_in, served
from tests.web.test_writes import split_path, submit, wizard_path

REVISIONS = "/apis/serving.knative.dev/v1/namespaces/{ns}/revisions"

# Long enough that a test never sees the end of it: the dev cluster moves 1% first, then the rest over the hour.
HOUR = "3600s"


def _split_now(console: Console, ns: str, name: str) -> dict[str, int]:
    """What the Route's floating entries give each revision now (status.traffic), by revision name."""
    shares: dict[str, int] = {}
    for t in console.ksvc(ns, name).get("status", {}).get("traffic", []):
        if t.get("latestRevision") and not t.get("tag"):
            shares[t["revisionName"]] = shares.get(t["revisionName"], 0) + t["percent"]
    return shares


async def _rolling(console: Console, ns: str, name: str, duration: str = HOUR) -> None:
    """{name}-00001 made with a rollout duration, then {name}-00002 (kubectl): Knative starts moving the floating
    entry's 100% to it, and the Route's status.traffic names both."""
    manifest = ksvc_manifest(name, ns)
    manifest["metadata"]["annotations"] = {"serving.knative.dev/rollout-duration": duration}
    code, _, body = console.cluster.request("POST", KSVC.format(ns=ns), manifest)
    assert code == 201, body
    await console.settled(ns, name)
    console.cluster.kubectl("1.33", "-n", ns, "patch", "ksvc", name, "--type", "merge", "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest",
                                                        "env": [{"name": "TARGET", "value": "Two"}]}]}}}}))
    wait_for(lambda: len(_split_now(console, ns, name)) == 2, timeout=15, message="the rollout started")


async def test_the_split_dialogs_now_column_follows_a_gradual_rollout(console: Console) -> None:
    """During a gradual rollout spec.traffic still says 100% to the latest revision, while the Route sends part of it
    to the old revision and part to the new one (status.traffic, knative/serving
    pkg/reconciler/route/traffic/rollout.go). The "Now" column shows the latter, as it does for a held split (found
    by a walkthrough: it said the old revision got 100% and the new one 0% while the new one had a share)."""
    ns = console.namespace()
    await _rolling(console, ns, "ro")
    dialog = await console.get(split_path(ns, "ro"))
    assert dialog.status_code == 200
    now = now_column(dialog.text)
    assert [(kind, short) for kind, short, _ in now] == [("latest", "latest ready revision (rolling out 00002)"),
                                                         ("revision", "00002"), ("revision", "00001")]
    assert now[0][2] == "100%"
    shares = [re.fullmatch(r"(\d+)% \(via the latest ready revision\)", cell) for _, _, cell in now[1:]]
    assert all(shares), now
    new, old = (int(found.group(1)) for found in shares if found)
    assert 0 < new < 100 and new + old == 100, now
    said = html.unescape(dialog.text)
    assert re.search(rf"— now ro-00001 {old}%, ro-00002 {new}% \(rolling out ro-00002\)", said), said
    assert ("ro-00002 is rolling out: Knative moves the latest-revision row's share to it step by step "
            f"({new}% of all traffic now). Keep that row and the rollout goes on") in said
    # Preset to send ro-00001 100% (a roll back): its "Now" line is what is routed, the rollout's two parts.
    preset = html.unescape((await console.get(split_path(ns, "ro") + "?revision=ro-00001")).text)
    assert re.search(r"<dt>Now</dt><dd data-before>latest ready revision \(now 00001\) \d+% · latest ready revision "
                     r"\(now 00002\) \d+%</dd>", preset), preset


def _revision(console: Console, ns: str, name: str) -> dict:
    code, _, body = console.cluster.request("GET", f"{REVISIONS.format(ns=ns)}/{name}")
    return body if code == 200 else {}


def _ready_events(console: Console, ns: str, uid: str) -> int:
    listed = console.cluster.get(f"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.uid%3D{uid}")
    return sum(1 for e in listed["items"] if e.get("reason") == "RevisionReady")


async def test_a_revision_deleted_mid_rollout_and_made_again_shows_only_its_own_events(console: Console) -> None:
    """kubectl deletes the newest revision while it rolls out; Knative's Configuration makes it again under the same
    name (knative/serving pkg/reconciler/configuration: the latest created revision is created when not found). The
    revision's page lists the Events of this revision, told apart by its uid as `kubectl describe` does
    (involvedObject.uid), not those of the one deleted (found by a walkthrough: the new revision, still Deploying,
    showed the deleted one's "RevisionReady")."""
    ns = console.namespace()
    await _rolling(console, ns, "del")
    first = _revision(console, ns, "del-00002")["metadata"]["uid"]
    wait_for(lambda: _ready_events(console, ns, first) == 1, timeout=15, message="the first del-00002 is Ready")
    code, _, body = console.cluster.request("DELETE", f"{REVISIONS.format(ns=ns)}/del-00002")
    assert code == 200, body

    def made_again() -> str:
        uid = (_revision(console, ns, "del-00002").get("metadata") or {}).get("uid", "")
        return uid if uid and uid != first else ""

    wait_for(made_again, timeout=15, message="del-00002 made again")
    second = made_again()
    wait_for(lambda: _ready_events(console, ns, second) == 1, timeout=15, message="the second del-00002 is Ready")
    page = await console.get(f"/namespaces/{ns}/services/del/revisions/del-00002")
    assert page.status_code == 200
    assert page.text.count("<td>RevisionReady</td>") == 1, page.text


async def test_the_wizard_mid_rollout_keeps_each_revisions_part_where_it_is(console: Console) -> None:
    """Create Revision while a rollout runs: the latest-revision row's share is divided between the old and the new
    revision, and the Traffic Splitting Settings keep each part on its revision (found by a walkthrough: it put all of
    it on the old one, so OK would have taken the rolling-out revision's share away at once)."""
    ns = console.namespace()
    await _rolling(console, ns, "wiz")
    path = wizard_path(ns, "wiz")
    step2 = await submit(console, path, (await console.get(path)).text, "wizard", "next")
    step3 = await submit(console, path, step2.text, "wizard", "next")
    assert step3.status_code == 200
    rows = rows_in(form_fields(step3.text, "wizard"))
    assert [(kind, revision) for kind, revision, _, _ in rows] == [("new", "wiz-00003"), ("latest", ""),
                                                                   ("revision", "wiz-00002"), ("revision", "wiz-00001")]
    percents = [int(percent) for _, _, percent, _ in rows]
    assert percents[:2] == [0, 0] and percents[2] > 0 and percents[2] + percents[3] == 100, rows
    said = html.unescape(step3.text)
    assert (f"This form keeps that share where it goes now, during the gradual rollout: on wiz-00001 ({percents[3]}%) "
            f"and wiz-00002 ({percents[2]}%)") in said


async def test_the_list_says_which_revision_is_rolling_out_and_how_far(console: Console) -> None:
    """The Service list's Status says a gradual rollout is what is in progress, for which revision and how far, as the
    details page does (found by a walkthrough: "In progress" alone, beside two "latest ready revision" lines)."""
    ns = console.namespace()
    await _rolling(console, ns, "lst")
    listing = html.unescape((await console.get(f"/namespaces/{ns}/services")).text)
    found = re.search(r'<div class="reason" data-rolling>Rolling out lst-00002: (\d+)% of 100% so far</div>', listing)
    assert found and 0 < int(found.group(1)) < 100, listing


async def test_the_revision_pages_say_what_the_rollout_does_to_each_revision(console: Console) -> None:
    """Each revision in a gradual rollout says on its page whether it is taking the share over or giving it up, and
    how far it has gone (found by a walkthrough: "2% (2% via the latest ready revision)" only, on both pages)."""
    ns = console.namespace()
    await _rolling(console, ns, "rp")
    new = html.unescape((await console.get(f"/namespaces/{ns}/services/rp/revisions/rp-00002")).text)
    found = re.search(r"<p class=\"hint\" data-rolling>Rolling out: it has (\d+)% so far; Knative gives it the latest "
                      r"ready revision's 100% step by step\.</p>", new)
    assert found and 0 < int(found.group(1)) < 100, new
    old = html.unescape((await console.get(f"/namespaces/{ns}/services/rp/revisions/rp-00001")).text)
    found = re.search(r"<p class=\"hint\" data-rolling>Giving its share up to rp-00002: it still has (\d+)% of the "
                      r"latest ready revision's 100%; Knative moves the rest step by step\.</p>", old)
    assert found and 0 < int(found.group(1)) < 100, old


async def test_a_scaled_to_zero_revision_no_traffic_reaches_is_not_said_to_start_on_the_next_request(
        console: Console) -> None:
    """A revision at zero instances with no share and no tag: no request reaches it, so none starts an instance
    (Knative routes only by the Route's traffic and tags). Its instances are said so, on the details page and its
    own page and its logs page, and how to reach it (found by a walkthrough: "the next request starts one" on a 0% revision, which
    curl never started). A revision that gets traffic keeps "the next request starts one"."""
    ns = console.namespace()
    console.create_ksvc(ns, "idle")
    await console.settled(ns, "idle")
    with autoscaler_config(console.cluster, **{"allow-zero-initial-scale": "true"}):  # admission reads it
        console.cluster.kubectl("1.33", "-n", ns, "patch", "ksvc", "idle", "--type", "merge", "-p", json.dumps(
            {"spec": {"template": {"metadata": {"annotations": {"autoscaling.knative.dev/initial-scale": "0"}},
                                   "spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest",
                                                            "env": [{"name": "TARGET", "value": "Two"}]}]}},
                      "traffic": [{"revisionName": "idle-00001", "percent": 100}]}}))
    await console.settled(ns, "idle", revisions=2)
    details = html.unescape((await console.get(f"/namespaces/{ns}/services/idle")).text)
    assert UNREACHED in details
    page = html.unescape((await console.get(f"/namespaces/{ns}/services/idle/revisions/idle-00002")).text)
    assert UNREACHED in page and "no request starts one: no traffic reaches this revision" in page
    assert "the next request starts one" not in page.lower()
    logs = html.unescape((await console.get(f"/namespaces/{ns}/services/idle/revisions/idle-00002/logs")).text)
    assert UNREACHED in logs and "no request starts one: no traffic reaches this revision" in logs
    assert "the next request starts one" not in logs.lower()
    # Tagged, it has a URL of its own: the next request to it starts one.
    with autoscaler_config(console.cluster, **{"allow-zero-initial-scale": "true"}):  # the template is checked again
        console.cluster.kubectl("1.33", "-n", ns, "patch", "ksvc", "idle", "--type", "merge", "-p", json.dumps(
            {"spec": {"traffic": [{"revisionName": "idle-00001", "percent": 100},
                                  {"revisionName": "idle-00002", "percent": 0, "tag": "next"}]}}))
    await console.settled(ns, "idle", revisions=2)
    wait_for(lambda: any(t.get("tag") == "next" for t in console.ksvc(ns, "idle")["status"].get("traffic", [])),
             timeout=15, message="the tag is routed")
    tagged = html.unescape((await console.get(f"/namespaces/{ns}/services/idle/revisions/idle-00002")).text)
    assert UNREACHED not in tagged and "0 (scaled to zero; the next request starts one)" in tagged
    logs = html.unescape((await console.get(f"/namespaces/{ns}/services/idle/revisions/idle-00002/logs")).text)
    assert UNREACHED not in logs and "The next request starts one, and its lines appear below" in logs


async def test_the_logs_page_follows_whether_traffic_reaches_its_revision(console: Console) -> None:
    """The logs page of a revision at zero instances that no traffic reaches says no request starts one; tagged with
    kubectl while the page is open, its Instances section and its note say, by themselves, that the next request
    starts one (the page read the Service once, when it opened)."""
    ns = console.namespace()
    console.create_ksvc(ns, "far")
    await console.settled(ns, "far")
    with autoscaler_config(console.cluster, **{"allow-zero-initial-scale": "true"}):  # admission reads it
        console.cluster.kubectl("1.33", "-n", ns, "patch", "ksvc", "far", "--type", "merge", "-p", json.dumps(
            {"spec": {"template": {"metadata": {"annotations": {"autoscaling.knative.dev/initial-scale": "0"}},
                                   "spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest",
                                                            "env": [{"name": "TARGET", "value": "Two"}]}]}},
                      "traffic": [{"revisionName": "far-00001", "percent": 100}]}}))
    await console.settled(ns, "far", revisions=2)
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        page = html.unescape((await http.get(f"/namespaces/{ns}/services/far/revisions/far-00002/logs")).text)
        assert UNREACHED in page and "no request starts one: no traffic reaches this revision" in page
        async with open_stream(http, html.unescape(re.search(r'sse-connect="([^"]+)"', page).group(1))) as stream:
            await stream.until(lambda e: e.name == "")  # a heartbeat: the stream follows the revision
            with autoscaler_config(console.cluster, **{"allow-zero-initial-scale": "true"}):
                console.cluster.kubectl("1.33", "-n", ns, "patch", "ksvc", "far", "--type", "merge", "-p", json.dumps(
                    {"spec": {"traffic": [{"revisionName": "far-00001", "percent": 100},
                                          {"revisionName": "far-00002", "percent": 0, "tag": "next"}]}}))
            got = await stream.until(lambda e: e.name == "logs-note" and "The next request starts one" in e.data)
            instances = [e.data for e in got if e.name == "instances"]
            assert instances and UNREACHED not in html.unescape(instances[-1]), got
            assert "no request starts one" not in html.unescape(got[-1].data)
