"""A gradual rollout in progress (the Service's serving.knative.dev/rollout-duration), as the console shows it (over
httpx, against the session's dev cluster): what the Split Traffic dialog says each row gets now, what it says about
the rollout and what OK would do to it, while Knative moves the latest-revision entry's share step by step."""

from __future__ import annotations

import html
import json
import re

from tests.support import ksvc_manifest, wait_for
from tests.web.conftest import KSVC, Console, now_column
from tests.web.test_writes import split_path

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
    assert re.search(r"<dt>Now</dt><dd>latest ready revision \(now 00001\) \d+% · latest ready revision "
                     r"\(now 00002\) \d+%</dd>", preset), preset
