"""What a reviewer reads: the revision page (image and digest, env, resources, scaling, concurrency, timeout,
creator, conditions, traffic and tags, Events, instances and logs, previous and next), clean YAML of a Service and
a revision that round-trips through `kubectl apply --dry-run=server`, the diff of two revisions, and the revision
table's Changes column and "serving only" filter."""

from __future__ import annotations

import asyncio
import html
import json
import re
import uuid

import yaml

from tests.support import KUBECTL_VERSIONS, ksvc_manifest
from tests.web.conftest import KSVC, Console
from tests.web.test_history import entries, recorded
from tests.web.test_writes import submit

IMAGE = "ghcr.io/knative/helloworld-go"


def text(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(page)).split())


def patch(console: Console, ns: str, name: str, body: dict) -> None:
    code, _, answer = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/{name}", body,
                                              content_type="application/merge-patch+json")
    assert code == 200, answer


async def three_revisions(console: Console, ns: str, name: str) -> None:
    """00001 (v2), 00002 (v3, LOG_LEVEL=debug, max scale 3 → 5), 00003 (the same template, forced); 50/50 on the
    first two, 00002 tagged."""
    manifest = ksvc_manifest(name, ns, image=f"{IMAGE}:v2")
    manifest["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/max-scale": "3"}}
    code, _, answer = console.cluster.request("POST", KSVC.format(ns=ns), manifest)
    assert code == 201, answer
    await console.settled(ns, name)
    patch(console, ns, name, {"spec": {"template": {
        "metadata": {"annotations": {"autoscaling.knative.dev/max-scale": "5"}},
        "spec": {"containers": [{"image": f"{IMAGE}:v3", "env": [{"name": "LOG_LEVEL", "value": "debug"}],
                                 "resources": {"limits": {"memory": "256Mi"}}}], "timeoutSeconds": 60}}}})
    await console.settled(ns, name, revisions=2)
    patch(console, ns, name, {"spec": {
        "template": {"metadata": {"annotations": {"client.knative.dev/updateTimestamp": "2026-01-01T00:00:00Z"}}},
        "traffic": [{"revisionName": f"{name}-00002", "percent": 50, "tag": "candidate"},
                    {"revisionName": f"{name}-00001", "percent": 50}]}})
    await console.settled(ns, name, revisions=3)


async def test_the_revision_page(console: Console) -> None:
    ns = console.namespace()
    await three_revisions(console, ns, "rp")
    page = await console.get(f"/namespaces/{ns}/services/rp/revisions/rp-00003")
    assert page.status_code == 200
    words = text(page.text)
    for expected in (f"Image {IMAGE}:v3", f"Resolved digest {IMAGE}@sha256:", "Creator devcluster-admin",
                     "Environment LOG_LEVEL=debug", "Resources memory limit: 256Mi", "Scaling 0–5 instances",
                     "Concurrency limit 0 (no limit)", "Request timeout 60 s", "Port / protocol 8080/HTTP",
                     "kubectl logs -n " + ns + " -l serving.knative.dev/revision=rp-00003 -c user-container"):
        assert expected in words, expected
    # Its instances, in words (it may have gone idle already: nothing sends it requests).
    assert re.search(r"Instances: (1 running|0 \(scaled to zero; the next request starts one\)) ", words), words
    assert "Changes from rp-00002 Same template as rp-00002 (a new revision was forced)." in words
    assert re.search(r'href="/namespaces/[^"]+/revisions/rp-00002" rel="prev"', page.text)
    assert 'rel="next"' not in page.text  # the newest
    for region in ("diagnosis", "summary", "conditions", "events", "instances", "logs"):
        assert f'<div id="region-{region}" class="region" sse-swap="{region}">' in page.text
    assert f'sse-connect="/live/namespaces/{ns}/services/rp/revisions/rp-00003?seen=' in page.text

    second = await console.get(f"/namespaces/{ns}/services/rp/revisions/rp-00002")
    words = text(second.text)
    # The newest revision with traffic: its 100% goes forward; the older one with the other 50% would go back.
    assert "Traffic 50% candidate" in words and "Send 100%" in words and "Roll back to this" not in words
    assert "Changes from rp-00001 image: …:v2 → …:v3 env LOG_LEVEL added = debug memory limit added = 256Mi " \
           "max scale 3 → 5 timeout 300s → 60s" in words
    assert 'rel="prev"' in second.text and 'rel="next"' in second.text
    first = await console.get(f"/namespaces/{ns}/services/rp/revisions/rp-00001")
    assert "The first revision of this Service." in text(first.text) and "Roll back to this" in text(first.text)
    missing = await console.get(f"/namespaces/{ns}/services/rp/revisions/rp-00009")
    assert missing.status_code == 404 and "There is no revision &#34;rp-00009&#34; of the Service rp." in missing.text


async def test_the_revision_page_shows_its_instances_and_the_last_lines_of_their_logs(console: Console) -> None:
    ns = console.namespace()
    manifest = ksvc_manifest("held", ns)
    manifest["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/min-scale": "1"}}
    code, _, answer = console.cluster.request("POST", KSVC.format(ns=ns), manifest)
    assert code == 201, answer
    await console.settled(ns, "held")
    page = await console.get(f"/namespaces/{ns}/services/held/revisions/held-00001")
    words = text(page.text)
    assert "Instances 1 running" in words and "Instances: 1 running" in words
    pod = re.search(r'data-instance="(held-00001-deployment-[^"]+)"', page.text).group(1)
    assert f"{pod} ready 0" in words  # its state and restarts
    assert f"Logs (user-container, the last 20 lines of each instance) {pod} (ready)" in words
    assert "helloworld: starting server..." in words and "helloworld: listening on port 8080" in words
    assert f'href="/namespaces/{ns}/services/held/revisions/held-00001/logs" data-logs="held-00001"' in page.text
    assert f"kubectl logs -n {ns} -l serving.knative.dev/revision=held-00001 -c user-container --tail=20" in words
    assert "data-diagnosis" not in page.text  # nothing failed
    logs = await console.get(f"/namespaces/{ns}/services/held/revisions/held-00001/logs")
    assert f'href="/namespaces/{ns}/services/held/revisions/held-00001">held-00001</a> › Logs' in logs.text
    assert f"kubectl logs -n {ns} -l serving.knative.dev/revision=held-00001 -c user-container --tail=100" in \
        text(logs.text)


async def test_events_for_the_revision_are_shown(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "ev")
    await console.settled(ns, "ev")
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"ev-00001.{uuid.uuid4().hex[:8]}"},
             "involvedObject": {"kind": "Revision", "name": "ev-00001", "namespace": ns,
                                "apiVersion": "serving.knative.dev/v1"},
             "reason": "ExitCode", "message": "Container exited with code 1", "type": "Warning",
             "source": {"component": "revision-controller"}, "count": 3, "lastTimestamp": "2026-01-01T00:00:00Z"}
    code, _, _ = console.cluster.request("POST", f"/api/v1/namespaces/{ns}/events", event)
    assert code == 201
    page = await console.get(f"/namespaces/{ns}/services/ev/revisions/ev-00001")
    row = re.search(r'<table class="data events">.*?</table>', page.text, re.S).group(0)
    assert "Warning" in row and "ExitCode" in row and "Container exited with code 1" in row
    assert "revision-controller" in row and '<td class="num">3</td>' in row


async def test_clean_yaml_round_trips_through_kubectl(console: Console) -> None:
    ns = console.namespace()
    await three_revisions(console, ns, "ym")
    page = await console.get(f"/namespaces/{ns}/services/ym?format=yaml")
    assert page.status_code == 200 and "Show everything" in page.text and "Download" in page.text
    download = await console.get(f"/namespaces/{ns}/services/ym?format=yaml&download=1")
    assert download.headers["content-type"].startswith("application/yaml")
    assert download.headers["content-disposition"] == 'attachment; filename="ym.yaml"'
    clean = yaml.safe_load(download.text)
    for noise in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "annotations"):
        assert noise not in clean["metadata"], noise
    assert "status" not in clean and "timeoutSeconds" in clean["spec"]["template"]["spec"]  # 60, not a default
    assert "containerConcurrency" not in clean["spec"]["template"]["spec"]
    full = yaml.safe_load((await console.get(f"/namespaces/{ns}/services/ym?format=yaml&everything=1&download=1")
                           ).text)
    assert full["status"]["url"] and full["metadata"]["managedFields"]
    stored = console.ksvc(ns, "ym")
    fresh = console.namespace()
    for version in KUBECTL_VERSIONS:
        same = console.cluster.kubectl(version, "apply", "--dry-run=server", "-o", "json", "-f", "-",
                                       input=download.text)
        assert json.loads(same.stdout)["spec"] == stored["spec"]  # applied over itself: nothing changes
    elsewhere = console.cluster.kubectl("1.33", "apply", "--dry-run=server", "-n", fresh, "-o", "json", "-f", "-",
                                        input=download.text.replace(f"namespace: {ns}\n", f"namespace: {fresh}\n"))
    made = json.loads(elsewhere.stdout)
    template = stored["spec"]["template"]
    template["metadata"]["annotations"].pop("client.knative.dev/updateTimestamp")  # a stamp kn and the console add
    assert made["spec"]["template"] == template and made["spec"]["traffic"] == stored["spec"]["traffic"]

    revision = await console.get(f"/namespaces/{ns}/services/ym/revisions/ym-00002?format=yaml&download=1")
    assert revision.headers["content-disposition"] == 'attachment; filename="ym-00002.yaml"'
    parsed = yaml.safe_load(revision.text)
    assert parsed["kind"] == "Revision" and "labels" not in parsed["metadata"] and "ownerReferences" not in \
        parsed["metadata"]
    # A revision's spec never changes: its YAML makes the same revision again (here in another namespace).
    applied = console.cluster.kubectl("1.33", "apply", "--dry-run=server", "-n", fresh, "-o", "json", "-f", "-",
                                      input=revision.text.replace(f"namespace: {ns}\n", f"namespace: {fresh}\n"))
    existing = console.cluster.get(f"/apis/serving.knative.dev/v1/namespaces/{ns}/revisions/ym-00002")
    assert json.loads(applied.stdout)["spec"] == existing["spec"]
    wrong = await console.get(f"/namespaces/{ns}/services/ym?format=xml")
    assert wrong.status_code == 400 and "use ?format=yaml" in wrong.text


async def test_the_diff_of_two_revisions(console: Console) -> None:
    ns = console.namespace()
    await three_revisions(console, ns, "df")
    page = await console.get(f"/namespaces/{ns}/services/df/diff?from=df-00001&to=df-00002")
    assert page.status_code == 200
    listed = re.findall(r"<li>(.*?)</li>", re.search(r'<ul class="diff-list" data-diff>(.*?)</ul>', page.text,
                                                     re.S).group(1))
    assert [html.unescape(item) for item in listed] == [
        "image: …:v2 → …:v3", "env LOG_LEVEL added = debug", "memory limit added = 256Mi", "max scale 3 → 5",
        "timeout 300s → 60s"]
    changed = [html.unescape(label) for label in re.findall(r'<tr class="changed" data-changed><th scope="row">(.*?)'
                                                            r" <span", page.text)]
    assert changed == ["image", "max scale", "timeout", "env LOG_LEVEL", "memory limit", "resolved image"], changed
    ticked = await console.get(f"/namespaces/{ns}/services/df/diff?rev=df-00002&rev=df-00001")
    assert "What changed from df-00001 to df-00002" in text(ticked.text)
    same = await console.get(f"/namespaces/{ns}/services/df/diff?from=df-00002&to=df-00003")
    assert "The two templates are the same" in same.text
    for query, message in (("rev=df-00001", "Tick exactly two revisions to compare; 1 was ticked."),
                           ("from=df-00001&to=df-00009", "There is no revision &#34;df-00009&#34; of this Service"),
                           ("from=df-00001&to=df-00001", "Choose two different revisions."),
                           ("to=df-00001", "Choose the revision to compare from.")):
        wrong = await console.get(f"/namespaces/{ns}/services/df/diff?{query}")
        assert wrong.status_code == 400 and message in wrong.text, query
    chooser = await console.get(f"/namespaces/{ns}/services/df/diff")
    assert chooser.status_code == 200 and '<select id="diff-from" name="from">' in chooser.text


async def test_the_revision_table_says_what_changed_and_filters_to_the_serving_ones(console: Console) -> None:
    ns = console.namespace()
    await three_revisions(console, ns, "tb")
    page = await console.get(f"/namespaces/{ns}/services/tb")
    cells = {name: html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for name, cell in re.findall(
        r'<tr data-revision="([^"]+)">.*?<td class="wrap" data-changes>(.*?)</td>', page.text, re.S)}
    assert cells == {"tb-00003": "same template", "tb-00002": "image v2 → v3, +LOG_LEVEL, +memory limit +2 more",
                     "tb-00001": "first revision"}
    assert f'href="/namespaces/{ns}/services/tb/diff?from=tb-00001&amp;to=tb-00002"' in page.text
    assert page.text.count('name="rev" value=') == 3 and 'form="compare-form"' in page.text
    serving = await console.get(f"/namespaces/{ns}/services/tb?revisions=serving")
    assert re.findall(r'<tr data-revision="([^"]+)">', serving.text) == ["tb-00002", "tb-00001"]
    assert "1 revision without traffic or a tag not shown." in serving.text
    assert "revisions=serving" in html.unescape(re.search(r'sse-connect="([^"]+)"', serving.text).group(1))

    # Revisions deleted with kubectl: a change is said from the revision it is counted from, and the oldest left is
    # not called the first (before, tb-00003 took tb-00002's change as its own, and then was "first revision").
    code, _, body = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/tb", {"spec": {"traffic": [
        {"latestRevision": True, "percent": 100}]}}, content_type="application/merge-patch+json")
    assert code == 200, body
    await console.settled(ns, "tb", revisions=3)
    revisions = f"/apis/serving.knative.dev/v1/namespaces/{ns}/revisions"

    async def changes_cells(without: str) -> dict[str, str]:
        """The Changes column once the console no longer lists `without` (its watch brings the deletion)."""
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            page = (await console.get(f"/namespaces/{ns}/services/tb")).text
            cells = {name: html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for name, cell in re.findall(
                r'<tr data-revision="([^"]+)">.*?<td class="wrap" data-changes>(.*?)</td>', page, re.S)}
            if without not in cells or asyncio.get_running_loop().time() > deadline:
                return cells
            await asyncio.sleep(0.1)

    assert console.cluster.request("DELETE", f"{revisions}/tb-00002")[0] == 200
    assert await changes_cells("tb-00002") == {"tb-00003": "since 00001: image v2 → v3, +LOG_LEVEL, +memory limit +2 more",
                                       "tb-00001": "first revision"}
    assert console.cluster.request("DELETE", f"{revisions}/tb-00001")[0] == 200
    assert await changes_cells("tb-00001") == {"tb-00003": "oldest left: the revisions before it were deleted"}
    oldest = await console.get(f"/namespaces/{ns}/services/tb/revisions/tb-00003")
    assert "The oldest revision left: the ones before it were deleted." in text(oldest.text)


async def test_labels_and_annotations_added_to_a_revision_later_are_not_changes_of_its_template(
        console: Console) -> None:
    """`kubectl label` / `kubectl annotate` on a revision after Knative created it does not change the template it
    was made from: its metadata.managedFields say the label is the labeller's, not the creator's. A label the
    template itself carried still is a change."""
    ns = console.namespace()
    await three_revisions(console, ns, "lt")
    patch(console, ns, "lt", {"spec": {"template": {"metadata": {"labels": {"tier": "gold"}}}}})
    await console.settled(ns, "lt", revisions=4)
    console.cluster.kubectl("1.33", "label", "-n", ns, "revision", "lt-00003", "reviewed=yes")
    console.cluster.kubectl("1.33", "annotate", "-n", ns, "revision", "lt-00003", "example.com/ticket=REL-7")
    console.cluster.kubectl("1.33", "label", "-n", ns, "revision", "lt-00004", "reviewed=yes")
    for _ in range(2):  # the second visit may read the revisions from the watch-fed cache the first one started
        page = await console.get(f"/namespaces/{ns}/services/lt")
        cells = {name: html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for name, cell in re.findall(
            r'<tr data-revision="([^"]+)">.*?<td class="wrap" data-changes>(.*?)</td>', page.text, re.S)}
        assert cells["lt-00003"] == "same template", cells
        assert cells["lt-00004"] == "+label tier", cells
    same = await console.get(f"/namespaces/{ns}/services/lt/diff?from=lt-00002&to=lt-00003")
    assert "The two templates are the same" in same.text
    diff = await console.get(f"/namespaces/{ns}/services/lt/diff?from=lt-00003&to=lt-00004")
    listed = re.findall(r"<li>(.*?)</li>", re.search(r'<ul class="diff-list" data-diff>(.*?)</ul>', diff.text,
                                                     re.S).group(1))
    assert [html.unescape(item) for item in listed] == ['label tier added = gold']
    revision = await console.get(f"/namespaces/{ns}/services/lt/revisions/lt-00003")
    assert "Changes from lt-00002 Same template as lt-00002 (a new revision was forced)." in text(revision.text)
    newest = await console.get(f"/namespaces/{ns}/services/lt/revisions/lt-00004")
    assert "Changes from lt-00003 label tier added = gold" in text(newest.text)


def one_click(page: str, revision: str) -> str:
    """The label of a revision's one-click 100% on a page ("" when it has none)."""
    found = re.search(rf'data-send-all="{re.escape(revision)}"[^>]*>([^<]+)<', page)
    return found.group(1) if found else ""


async def test_roll_back_only_to_a_revision_older_than_the_newest_serving_one(console: Console) -> None:
    """00001 has 100%, 00003 is the newest: sending 100% to 00002 goes forward, not back. The revision table, the
    revision's page and the history (its entry and Event) say the same."""
    ns = console.namespace()
    await three_revisions(console, ns, "fwd")
    patch(console, ns, "fwd", {"spec": {"traffic": [{"revisionName": "fwd-00001", "percent": 100}]}})
    await console.settled(ns, "fwd", revisions=3)
    base = f"/namespaces/{ns}/services/fwd"
    table = (await console.get(base)).text
    assert one_click(table, "fwd-00002") == "Send 100%" and one_click(table, "fwd-00003") == "Send 100%"
    assert one_click((await console.get(f"{base}/revisions/fwd-00002")).text, "fwd-00002") == "Send 100%"

    dialog = await console.get(f"{base}/traffic?revision=fwd-00002")
    assert (await submit(console, f"{base}/traffic", dialog.text, "split-form", "ok")).status_code == 303
    assert entries(console, ns, "fwd")[0].action == "promote"
    assert recorded(console, ns, "fwd", "Promoted")["message"].endswith("00002 100%")
    assert "Promoted" in text((await console.get(f"{base}/history")).text)
    # Now 00002 serves: 00001 is older than it (a roll back), 00003 newer (a send).
    await console.settled(ns, "fwd", revisions=3)
    table = (await console.get(base)).text
    assert one_click(table, "fwd-00001") == "Roll back to this" and one_click(table, "fwd-00003") == "Send 100%"
    assert one_click((await console.get(f"{base}/revisions/fwd-00001")).text, "fwd-00001") == "Roll back to this"


async def test_probes_and_volumes_read_in_words_in_the_table_and_the_diff(console: Console) -> None:
    """A readiness probe given a failure threshold and a Secret mounted as a volume read as which probe and which of
    its fields, which volume and where it is mounted: not `container readinessProbe {"successThreshold": 1,…} → …`
    (found by a walkthrough; the dev cluster defaults the probe as Knative does)."""
    ns = console.namespace()
    console.create_ksvc(ns, "pv")
    await console.settled(ns, "pv")
    console.cluster.kubectl("1.33", "-n", ns, "patch", "ksvc", "pv", "--type", "json", "-p", json.dumps([
        {"op": "add", "path": "/spec/template/spec/containers/0/readinessProbe",
         "value": {"failureThreshold": 3, "periodSeconds": 5, "httpGet": {"path": "/healthz"}}},
        {"op": "add", "path": "/spec/template/spec/containers/0/volumeMounts",
         "value": [{"name": "certs", "mountPath": "/etc/certs", "readOnly": True}]},
        {"op": "add", "path": "/spec/template/spec/volumes",
         "value": [{"name": "certs", "secret": {"secretName": "tls"}}]},
    ]))
    await console.settled(ns, "pv", revisions=2)
    page = await console.get(f"/namespaces/{ns}/services/pv/diff?from=pv-00001&to=pv-00002")
    listed = [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", re.search(
        r'<ul class="diff-list" data-diff>(.*?)</ul>', page.text, re.S).group(1))]
    assert "readiness probe check TCP on the container's port → HTTP GET /healthz on the container's port" in listed
    assert "readiness probe failure threshold added = 3" in listed
    assert "mount /etc/certs added = volume certs, read-only" in listed and "volume certs added = Secret tls" in listed
    assert not [item for item in listed if "{" in item], listed
    table = await console.get(f"/namespaces/{ns}/services/pv")
    [cell] = [text(c) for c in re.findall(r'<td class="wrap" data-changes>(.*?)</td>', table.text, re.S)
              if "pv-00001" in c]
    assert "readiness probe" in cell and "{" not in cell, cell


async def test_the_same_image_resolved_to_other_code_is_a_change(console: Console) -> None:
    """A revision forced with the same template after its tag was pushed again (the dev cluster's images ConfigMap,
    `pushed`) runs other code: the revision table, the revision page and the diff say so instead of "same
    template"."""
    ns = console.namespace()
    image = f"{IMAGE}:pushed-{uuid.uuid4().hex[:8]}"
    code, _, answer = console.cluster.request("POST", KSVC.format(ns=ns), ksvc_manifest("dg", ns, image=image))
    assert code == 201, answer
    await console.settled(ns, "dg")
    images = "/api/v1/namespaces/devcluster-system/configmaps/images"
    code, _, answer = console.cluster.request("PATCH", images, {"data": {"pushed": f"{image} 1\n"}},
                                              content_type="application/merge-patch+json")
    assert code == 200, answer
    try:
        patch(console, ns, "dg", {"spec": {"template": {"metadata": {"annotations": {
            "client.knative.dev/updateTimestamp": "2026-01-01T00:00:00Z"}}}}})
        await console.settled(ns, "dg", revisions=2)
    finally:
        console.cluster.request("PATCH", images, {"data": {"pushed": ""}},
                                content_type="application/merge-patch+json")
    revisions = f"/apis/serving.knative.dev/v1/namespaces/{ns}/revisions"
    digests = [console.cluster.get(f"{revisions}/dg-0000{n}")["status"]["containerStatuses"][0]["imageDigest"]
               for n in (1, 2)]
    assert digests[0] != digests[1] and all(d.startswith(f"{IMAGE}@sha256:") for d in digests), digests
    old, new = (d.split("@", 1)[1][:14] for d in digests)  # sha256: and the first 7 hex digits

    table = await console.get(f"/namespaces/{ns}/services/dg")
    cells = {name: html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for name, cell in re.findall(
        r'<tr data-revision="([^"]+)">.*?<td class="wrap" data-changes>(.*?)</td>', table.text, re.S)}
    assert cells["dg-00002"] == f"image digest @{old} → @{new}", cells
    diff = await console.get(f"/namespaces/{ns}/services/dg/diff?from=dg-00001&to=dg-00002")
    words = text(diff.text)
    assert "The two templates are the same" not in words
    assert f"the same image, resolved to other code: …@{digests[0].split('@', 1)[1]} → …@" in words, words
    assert re.search(r'<tr class="changed" data-changed><th scope="row">resolved image', diff.text)
    page = await console.get(f"/namespaces/{ns}/services/dg/revisions/dg-00002")
    assert "Same template as" not in page.text and "the same image, resolved to other code" in text(page.text)
