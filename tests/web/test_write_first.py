"""Split Traffic writes first and reads only when needed: the common OK is one conditional PATCH with the form's
resourceVersion and no read; the guarantees of the read path still hold (a named row must be a revision of this
Service, vouched for by the form's signature or checked by a read; a spec change by someone else is a conflict)."""

from __future__ import annotations

from tests.web.conftest import Console, form_fields, rows_in
from tests.web.test_metrics import scrape, value
from tests.web.test_writes import _two_revisions, split_path, submit

KSVC_RESOURCE = "services.serving.knative.dev"
REVISIONS = "revisions.serving.knative.dev"


def calls(samples: dict, verb: str, resource: str) -> float:
    return value(samples, "knative_console_kubernetes_request_duration_seconds_count", verb=verb, resource=resource)


async def test_the_common_ok_is_one_patch_and_no_read(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "quick")
    page = await console.get(split_path(ns, "quick"))
    assert form_fields(page.text, "split-form").count(("basis_rows", "")) == 0
    before = await scrape(console)
    done = await submit(console, split_path(ns, "quick"), page.text, "split-form", "ok", rows=[
        ("latest", "", "0", ""), ("revision", "quick-00002", "50", ""), ("revision", "quick-00001", "50", "")])
    assert done.status_code == 303
    after = await scrape(console)
    assert calls(after, "patch", KSVC_RESOURCE) == calls(before, "patch", KSVC_RESOURCE) + 1
    assert calls(after, "get", KSVC_RESOURCE) == calls(before, "get", KSVC_RESOURCE)
    assert calls(after, "list", REVISIONS) == calls(before, "list", REVISIONS)
    traffic = console.ksvc(ns, "quick")["spec"]["traffic"]
    assert sorted((t.get("revisionName", "@latest"), t["percent"]) for t in traffic) == [
        ("@latest", 0), ("quick-00001", 50), ("quick-00002", 50)]


async def test_a_named_row_the_form_did_not_offer_is_checked_by_a_read(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "mine")
    await _two_revisions(console, ns, "theirs")
    page = await console.get(split_path(ns, "mine"))
    assert ("revision", "mine-00001", "100", "") in rows_in(form_fields(page.text, "split-form"))
    # Another Service's revision in place of one of ours: the signature no longer covers the rows.
    forged = await submit(console, split_path(ns, "mine"), page.text, "split-form", "ok", rows=[
        ("latest", "", "0", ""), ("revision", "mine-00002", "50", ""), ("revision", "theirs-00001", "50", "")])
    assert forged.status_code == 422
    assert "This form lists a revision that this Service does not have (any more)." in forged.text
    assert sorted(t.get("revisionName", "@latest") for t in console.ksvc(ns, "mine")["spec"]["traffic"]) == [
        "@latest", "mine-00001"]


async def test_a_signature_from_another_service_vouches_for_nothing(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "here")
    await _two_revisions(console, ns, "there")
    here, there = (await console.get(split_path(ns, "here"))), (await console.get(split_path(ns, "there")))
    there_fields = dict(form_fields(there.text, "split-form"))
    # The rows and signature of "there"'s form, posted to "here" with "here"'s basis: refused after a read.
    forged = await submit(console, split_path(ns, "here"), here.text, "split-form", "ok", rows=[
        ("latest", "", "0", ""), ("revision", "there-00002", "50", ""), ("revision", "there-00001", "50", "")],
        basis_rows=there_fields["basis_rows"])
    assert forged.status_code == 422
    assert "here-00001" in str(console.ksvc(ns, "here")["spec"]["traffic"])
