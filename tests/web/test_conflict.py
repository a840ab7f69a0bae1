"""Two writers: a write that carries a stale resourceVersion gets the conflict message with the fresh state
and keeps the user's input; the other writer's change is not lost; submitting again applies."""

from __future__ import annotations

from tests.web.conftest import KSVC, Console, form_values
from tests.web.test_writes import _split_form, _two_revisions, _wizard


async def test_split_after_someone_else_changed_the_service(console: Console) -> None:
    ns = console.namespace()
    service = await _two_revisions(console, ns, "race")
    seen = service["metadata"]["resourceVersion"]
    # The other writer (kubectl, another console tab) sends everything to the old revision.
    code, _, _ = console.cluster.request(
        "PATCH", f"{KSVC.format(ns=ns)}/race",
        {"spec": {"traffic": [{"revisionName": "race-00001", "percent": 100}]}},
        content_type="application/merge-patch+json")
    assert code == 200
    theirs = console.ksvc(ns, "race")
    mine = [("race-00002", "30", "", "1"), ("race-00001", "70", "", "0")]
    response = await console.post(f"/namespaces/{ns}/services/race/traffic", _split_form(seen, mine))
    assert response.status_code == 409
    assert "Someone else changed this Service while the dialog was open." in response.text
    assert form_values(response.text, "row_percent") == ["30", "70"]  # the user's numbers are kept
    fresh_rv = form_values(response.text, "resource_version")[0]
    assert fresh_rv != seen
    assert console.ksvc(ns, "race")["spec"] == theirs["spec"]  # no lost update
    again = await console.post(f"/namespaces/{ns}/services/race/traffic", _split_form(fresh_rv, mine))
    assert again.status_code == 303
    assert [t["percent"] for t in console.ksvc(ns, "race")["spec"]["traffic"]] == [30, 70]


async def test_new_revision_after_someone_else_changed_the_service(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "both")
    seen = (await console.settled(ns, "both"))["metadata"]["resourceVersion"]
    console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/both", {"metadata": {"labels": {"team": "other"}}},
                            content_type="application/merge-patch+json")
    rows = [("", "0", "", "1"), ("both-00001", "100", "", "0")]
    response = await _wizard(console, ns, "both", 3, "create", rows, seen, image="mine:2")
    assert response.status_code == 409
    assert "Someone else changed this Service while you were working." in response.text
    assert form_values(response.text, "image") == ["mine:2"]
    stored = console.ksvc(ns, "both")
    assert stored["metadata"]["labels"] == {"team": "other"} and stored["metadata"]["generation"] == 1


async def test_delete_of_a_changed_service_asks_again(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "keep")
    seen = (await console.settled(ns, "keep"))["metadata"]["resourceVersion"]
    console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/keep", {"metadata": {"labels": {"x": "y"}}},
                            content_type="application/merge-patch+json")
    response = await console.post(f"/namespaces/{ns}/services/keep/delete", {"resource_version": seen})
    assert response.status_code == 409 and "Someone changed this Service after you opened this page." in response.text
    assert console.ksvc(ns, "keep")["metadata"]["name"] == "keep"
