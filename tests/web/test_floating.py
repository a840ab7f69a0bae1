"""A share goes to the revision it was typed next to: named rows are pinned by name, so a revision created
afterwards (with kubectl, behind the console's back) gets none of their traffic, through the real gateway; the
floating entry is its own row; a Service with Knative's default floating 100% shows and edits correctly."""

from __future__ import annotations

import json
from collections import Counter

import httpx

from tests.web.conftest import Console, form_fields, rows_in
from tests.web.test_writes import _two_revisions, split_path, submit


async def gateway_revisions(console: Console, host: str, count: int = 200) -> Counter[str]:
    """Which revision answered each of `count` requests through the dev cluster's gateway."""
    answered: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=console.cluster.gateway_url, headers={"Host": host}, trust_env=False,
                                 timeout=10) as client:
        for _ in range(count):
            response = await client.get("/")
            assert response.status_code == 200, response.text
            answered[response.headers["X-Knative-Revision"]] += 1
    return answered


async def third_revision_with_kubectl(console: Console, ns: str, name: str) -> None:
    patch = json.dumps({"spec": {"template": {"spec": {"containers": [
        {"image": "ghcr.io/knative/helloworld-go:latest", "env": [{"name": "TARGET", "value": "Unreviewed"}]}]}}}})
    console.cluster.kubectl("1.33", "-n", ns, "patch", "ksvc", name, "--type", "merge", "-p", patch)
    await console.settled(ns, name, revisions=3)


async def test_a_share_typed_next_to_the_newest_revision_stays_with_it(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "flt")  # floating entry at 0%, flt-00001 at 100%
    dialog = await console.get(split_path(ns, "flt"))
    rows = [("latest", "", "0", ""), ("revision", "flt-00002", "40", "candidate"), ("revision", "flt-00001", "60", "")]
    assert [r[:2] for r in rows_in(form_fields(dialog.text, "split-form"))] == [r[:2] for r in rows]
    saved = await submit(console, split_path(ns, "flt"), dialog.text, "split-form", "ok", rows=rows)
    assert saved.status_code == 303
    await console.settled(ns, "flt", revisions=2)
    await third_revision_with_kubectl(console, ns, "flt")
    answered = await gateway_revisions(console, f"flt.{ns}.example.com")
    assert answered["flt-00003"] == 0, answered
    assert answered == Counter({"flt-00002": 80, "flt-00001": 120})
    assert await gateway_revisions(console, f"candidate-flt.{ns}.example.com", 20) == Counter({"flt-00002": 20})


async def test_send_all_to_the_newest_revision_stays_with_it(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "prm")
    preset = await console.get(split_path(ns, "prm") + "?revision=prm-00002")
    saved = await submit(console, split_path(ns, "prm"), preset.text, "split-form", "ok")
    assert saved.status_code == 303
    await console.settled(ns, "prm", revisions=2)
    await third_revision_with_kubectl(console, ns, "prm")
    assert await gateway_revisions(console, f"prm.{ns}.example.com") == Counter({"prm-00002": 200})
    # And rolling back pins the old one the same way.
    back = await console.get(split_path(ns, "prm") + "?revision=prm-00001")
    assert (await submit(console, split_path(ns, "prm"), back.text, "split-form", "ok")).status_code == 303
    await console.settled(ns, "prm", revisions=3)
    assert await gateway_revisions(console, f"prm.{ns}.example.com") == Counter({"prm-00001": 200})


async def test_the_default_floating_hundred_percent_shows_and_edits(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "dflt")
    await console.settled(ns, "dflt")
    details = await console.get(f"/namespaces/{ns}/services/dflt")
    assert 'data-entry="latest"' in details.text and "— now dflt-00001" in details.text
    # The share it gets, then how (found by a walkthrough: "0% + 100% via the latest ready revision").
    assert 'data-percent="100"><span data-share>100%</span><div class="hint" data-floating>via the latest ' \
           "ready revision</div>" in details.text
    dialog = await console.get(split_path(ns, "dflt"))
    assert rows_in(form_fields(dialog.text, "split-form")) == [("latest", "", "100", ""),
                                                               ("revision", "dflt-00001", "0", "")]
    assert "Latest ready revision</strong> <span class=\"floating\">follows every new revision</span>" in dialog.text
    unchanged = await submit(console, split_path(ns, "dflt"), dialog.text, "split-form", "ok")
    assert unchanged.status_code == 303
    assert console.ksvc(ns, "dflt")["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]
    rows = [("latest", "", "50", "edge"), ("revision", "dflt-00001", "50", "")]
    edited = await submit(console, split_path(ns, "dflt"), dialog.text, "split-form", "ok", rows=rows)
    assert edited.status_code == 303
    assert console.ksvc(ns, "dflt")["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 50, "tag": "edge"},
        {"latestRevision": False, "percent": 50, "revisionName": "dflt-00001"}]
    await console.settled(ns, "dflt")
    details = await console.get(f"/namespaces/{ns}/services/dflt")  # dflt-00001 both by name and as the latest
    assert 'data-percent="100"><span data-share>100%</span><div class="hint" data-floating>50% by name, 50% ' \
           "via the latest ready revision</div>" in details.text
    page = await console.get(f"/namespaces/{ns}/services/dflt/revisions/dflt-00001")
    assert '100% <span class="floating">(50% by name, 50% via the latest ready revision' in page.text
    # All of it by name, the floating entry at 0% pointing here too: said so (found by a walkthrough: "100%" over
    # "the latest ready revision points here, at 0%" read as if that entry gave the 100%).
    rows = [("latest", "", "0", "edge"), ("revision", "dflt-00001", "100", "")]
    again = await console.get(split_path(ns, "dflt"))
    assert (await submit(console, split_path(ns, "dflt"), again.text, "split-form", "ok", rows=rows)).status_code == 303
    await console.settled(ns, "dflt")
    details = await console.get(f"/namespaces/{ns}/services/dflt")
    assert 'data-percent="100"><span data-share>100%</span><div class="hint" data-floating>by name; the latest ready ' \
           "revision points here too, at 0%</div>" in details.text


async def test_the_floating_row_is_added_and_removed_on_purpose(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "addrm")
    dialog = await console.get(split_path(ns, "addrm"))
    removed = await submit(console, split_path(ns, "addrm"), dialog.text, "split-form", "remove-0")
    assert removed.status_code == 200
    assert [r[0] for r in rows_in(form_fields(removed.text, "split-form"))] == ["revision", "revision"]
    assert "Add a latest-revision row" in removed.text
    assert console.ksvc(ns, "addrm")["spec"]["traffic"][0] == {"latestRevision": True, "percent": 0}  # no write yet
    saved = await submit(console, split_path(ns, "addrm"), removed.text, "split-form", "ok")
    assert saved.status_code == 303
    assert console.ksvc(ns, "addrm")["spec"]["traffic"] == [
        {"latestRevision": False, "percent": 100, "revisionName": "addrm-00001"}]
    again = await console.get(split_path(ns, "addrm"))
    added = await submit(console, split_path(ns, "addrm"), again.text, "split-form", "add-latest")
    assert [r[0] for r in rows_in(form_fields(added.text, "split-form"))] == ["revision", "revision", "latest"]


async def test_list_and_details_tell_the_floating_entry_from_a_tag_named_latest(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "tags")
    dialog = await console.get(split_path(ns, "tags"))
    rows = [("latest", "", "50", ""), ("revision", "tags-00002", "0", "latest"), ("revision", "tags-00001", "50", "")]
    assert (await submit(console, split_path(ns, "tags"), dialog.text, "split-form", "ok", rows=rows)).status_code == 303
    await console.settled(ns, "tags", revisions=2)
    listing = await console.get(f"/namespaces/{ns}/services")
    assert ('<span class="floating" title="The floating entry: follows every new revision once it is Ready">latest '
            'ready revision</span> <span class="hint">(now 00002)</span> 50%') in listing.text
    assert '00002 0% <code class="tag" title="Traffic tag">latest</code>' in listing.text
    details = await console.get(f"/namespaces/{ns}/services/tags")
    assert '<code class="tag" title="Traffic tag">latest</code>' in details.text
    assert '<span class="badge" title="The most recently created revision">newest</span>' in details.text


async def test_a_floating_entry_at_zero_percent_does_not_read_as_a_share(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "zero")  # floating entry at 0% (now zero-00002), zero-00001 at 100%
    details = await console.get(f"/namespaces/{ns}/services/zero")
    row = details.text.split('data-revision="zero-00002"', 1)[1].split("</tr>", 1)[0]
    assert "+ 0%" not in row
    assert '<div class="hint" data-floating>the latest ready revision points here, at 0%</div>' in row

