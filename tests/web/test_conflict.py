"""Conflicts only when there is one: a form carries what it was built from, so a status update (a revision
becoming Ready) or a label someone added goes through with the fresh resourceVersion, while a change to the spec
the user is editing gets the conflict page with the other change beside the user's input, loses nothing, and
applies when submitted again."""

from __future__ import annotations

import asyncio

from tests.web.conftest import KSVC, Console, form_fields, form_values, rows_in
from tests.web.test_gone import REVISIONS
from tests.web.test_writes import _two_revisions, split_path, submit, wizard_path


def merge_patch(console: Console, ns: str, name: str, body: dict) -> None:
    code, _, answer = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/{name}", body,
                                              content_type="application/merge-patch+json")
    assert code == 200, answer["message"]


async def test_no_false_conflict_while_a_new_revision_becomes_ready(slow_console: Console) -> None:
    """10 runs of: create revision → open Split Traffic → wait until Ready → OK. None may conflict. The runs go side by
    side, each on a Service of its own, against the cluster whose revisions take 1 s to start (the dialog is opened
    well before the new revision is Ready)."""
    console = slow_console
    ns = console.namespace()

    async def run(number: int) -> None:
        name = f"alone-{number}"
        console.create_ksvc(ns, name)
        await console.settled(ns, name)
        wizard = await console.get(wizard_path(ns, name))
        created = await submit(console, wizard_path(ns, name), wizard.text, "wizard", "create", env_name="TARGET",
                               env_value=f"run {number}")
        assert created.status_code == 303, created.text
        dialog = await console.get(split_path(ns, name))
        before = console.ksvc(ns, name)["metadata"]["resourceVersion"]
        await console.settled(ns, name, revisions=2)
        assert console.ksvc(ns, name)["metadata"]["resourceVersion"] != before  # status moved meanwhile
        rows = [r if r[0] != "revision" else (r[0], r[1], "50" if r[1].endswith(("00001", "00002")) else "0", r[3])
                for r in rows_in(form_fields(dialog.text, "split-form"))]
        if sum(int(r[2]) for r in rows) != 100:  # the dialog opened before the new revision was listed
            rows = [(k, rev, "100" if rev.endswith("00001") else "0", tag) for k, rev, _, tag in rows]
        response = await submit(console, split_path(ns, name), dialog.text, "split-form", "ok", rows=rows)
        assert response.status_code == 303, f"run {number}: {response.status_code}\n{response.text[:3000]}"

    await console.get("/healthz")  # one browser: its cookie (and CSRF token) set before the runs share it
    await asyncio.gather(*(run(number) for number in range(10)))


async def test_a_label_added_meanwhile_is_no_conflict(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "lbl")
    dialog = await console.get(split_path(ns, "lbl"))
    merge_patch(console, ns, "lbl", {"metadata": {"labels": {"team": "other"}}})
    rows = [("latest", "", "0", ""), ("revision", "lbl-00002", "30", ""), ("revision", "lbl-00001", "70", "")]
    response = await submit(console, split_path(ns, "lbl"), dialog.text, "split-form", "ok", rows=rows)
    assert response.status_code == 303
    stored = console.ksvc(ns, "lbl")
    assert stored["metadata"]["labels"] == {"team": "other"}  # theirs kept
    assert [t["percent"] for t in stored["spec"]["traffic"]] == [0, 30, 70]  # ours applied


async def test_split_after_someone_else_changed_the_traffic(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "race")
    dialog = await console.get(split_path(ns, "race"))
    # The other writer (kubectl, another console tab) sends everything to the new revision, pinned.
    merge_patch(console, ns, "race", {"spec": {"traffic": [{"revisionName": "race-00002", "percent": 100}]}})
    theirs = console.ksvc(ns, "race")
    mine = [("latest", "", "0", ""), ("revision", "race-00002", "30", ""), ("revision", "race-00001", "70", "")]
    response = await submit(console, split_path(ns, "race"), dialog.text, "split-form", "ok", rows=mine)
    assert response.status_code == 409
    assert "Someone else changed this Service while the dialog was open." in response.text
    assert ("Traffic was latest ready revision (now 00002) 0% · 00001 100%; it is now 00002 100%."
            in response.text)
    assert "The revision template changed" not in response.text  # only the traffic did
    assert rows_in(form_fields(response.text, "split-form")) == mine  # the user's numbers are kept
    assert form_values(response.text, "basis_generation") == [str(theirs["metadata"]["generation"])]
    assert console.ksvc(ns, "race")["spec"] == theirs["spec"]  # no lost update
    again = await submit(console, split_path(ns, "race"), response.text, "split-form", "ok")
    assert again.status_code == 303
    assert [t["percent"] for t in console.ksvc(ns, "race")["spec"]["traffic"]] == [0, 30, 70]


async def test_split_after_someone_else_changed_traffic_and_template_in_one_write(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "both-ways")
    dialog = await console.get(split_path(ns, "both-ways"))
    merge_patch(console, ns, "both-ways", {"spec": {
        "template": {"spec": {"containers": [{"image": "example.com/app:3"}]}},
        "traffic": [{"revisionName": "both-ways-00002", "percent": 100}]}})
    mine = [("latest", "", "0", ""), ("revision", "both-ways-00002", "30", ""),
            ("revision", "both-ways-00001", "70", "")]
    response = await submit(console, split_path(ns, "both-ways"), dialog.text, "split-form", "ok", rows=mine)
    assert response.status_code == 409
    assert "it is now 00002 100%." in response.text
    assert "The revision template changed: a new revision is on its way." in response.text
    assert rows_in(form_fields(response.text, "split-form")) == mine


async def test_two_consoles_at_once_one_wins_and_the_other_is_told(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "duel")
    first = await console.get(split_path(ns, "duel"))
    second = await console.get(split_path(ns, "duel"))
    a = [("latest", "", "0", ""), ("revision", "duel-00002", "10", ""), ("revision", "duel-00001", "90", "")]
    b = [("latest", "", "0", ""), ("revision", "duel-00002", "60", ""), ("revision", "duel-00001", "40", "")]
    answers = await asyncio.gather(
        submit(console, split_path(ns, "duel"), first.text, "split-form", "ok", rows=a),
        submit(console, split_path(ns, "duel"), second.text, "split-form", "ok", rows=b))
    assert sorted(r.status_code for r in answers) == [303, 409]
    winner = a if answers[0].status_code == 303 else b
    loser = answers[1] if answers[0].status_code == 303 else answers[0]
    assert [t["percent"] for t in console.ksvc(ns, "duel")["spec"]["traffic"]] == [int(r[2]) for r in winner]
    assert "Someone else changed this Service" in loser.text
    assert rows_in(form_fields(loser.text, "split-form")) == (b if winner is a else a)


async def test_new_revision_after_someone_else_changed_the_template(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "both")
    await console.settled(ns, "both")
    wizard = await console.get(wizard_path(ns, "both"))
    merge_patch(console, ns, "both", {"spec": {"template": {"spec": {"containers": [
        {"image": "theirs:2"}]}}}})
    theirs = console.ksvc(ns, "both")
    response = await submit(console, wizard_path(ns, "both"), wizard.text, "wizard", "create", image="mine:2")
    assert response.status_code == 409
    assert "Someone else changed this Service while you were working." in response.text
    assert "Image was ghcr.io/knative/helloworld-go:latest; it is now theirs:2." in response.text
    assert form_values(response.text, "image") == ["mine:2"]
    assert console.ksvc(ns, "both")["spec"] == theirs["spec"]
    assert "both-00003" in response.text  # the new revision's name moved on with theirs
    again = await submit(console, wizard_path(ns, "both"), response.text, "wizard", "create")
    assert again.status_code == 303, again.text
    assert console.ksvc(ns, "both")["spec"]["template"]["spec"]["containers"][0]["image"] == "mine:2"


async def test_new_revision_over_a_label_change_is_no_conflict(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "lab")
    await console.settled(ns, "lab")
    wizard = await console.get(wizard_path(ns, "lab"))
    merge_patch(console, ns, "lab", {"metadata": {"labels": {"team": "other"}}})
    response = await submit(console, wizard_path(ns, "lab"), wizard.text, "wizard", "create", image="mine:2")
    assert response.status_code == 303
    stored = console.ksvc(ns, "lab")
    assert stored["metadata"]["labels"] == {"team": "other"}
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "mine:2"


async def test_delete_of_a_changed_service_asks_again(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "keep")
    await console.settled(ns, "keep")
    page = await console.get(f"/namespaces/{ns}/services/keep/delete")
    merge_patch(console, ns, "keep", {"spec": {"template": {"spec": {"containers": [{"image": "example.com/app:2"}]}}}})
    response = await console.post_fields(f"/namespaces/{ns}/services/keep/delete", form_fields(page.text, "delete"))
    assert response.status_code == 409 and "Someone changed this Service after you opened this page." in response.text
    assert console.ksvc(ns, "keep")["metadata"]["name"] == "keep"


async def test_delete_over_a_status_change_goes_ahead(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "gone")
    page = await console.get(f"/namespaces/{ns}/services/gone/delete")  # while it is still becoming Ready
    merge_patch(console, ns, "gone", {"metadata": {"labels": {"x": "y"}}})
    await console.settled(ns, "gone")
    response = await console.post_fields(f"/namespaces/{ns}/services/gone/delete", form_fields(page.text, "delete"))
    assert response.status_code == 303
    code, _, _ = console.cluster.request("GET", f"{KSVC.format(ns=ns)}/gone")
    assert code == 404




async def test_a_split_to_a_revision_deleted_while_the_dialog_was_open_is_refused(console: Console) -> None:
    """The OK of a form the console vouched for writes without reading first; but a revision one of its rows names
    may have been deleted since the dialog opened (by kubectl, by Knative's garbage collection). Where the console's
    watch-fed cache of the namespace's revisions says so, the OK reads first and tells the user, instead of sending
    traffic to a revision that no longer exists (which Knative's admission lets through, and the Route then fails
    with)."""
    ns = console.namespace()
    await _two_revisions(console, ns, "gone")
    merge_patch(console, ns, "gone", {"spec": {"traffic": [{"latestRevision": True, "percent": 100}]}})
    await console.settled(ns, "gone", revisions=2)
    details = f"/namespaces/{ns}/services/gone"
    await console.get(details)  # the details page reads the revisions from the watch-fed cache, started here
    dialog = await console.get(split_path(ns, "gone") + "?revision=gone-00001")  # its one-click Roll back
    back = rows_in(form_fields(dialog.text, "split-form"))
    assert ("revision", "gone-00001", "100", "") in back, back
    code, _, answer = console.cluster.request("DELETE", f"{REVISIONS.format(ns=ns)}/gone-00001")
    assert code == 200, answer
    for _ in range(100):  # until the cache (which the details page shows) no longer has it
        if 'data-revision="gone-00001"' not in (await console.get(details)).text:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the details page still shows gone-00001")
    before = console.ksvc(ns, "gone")["spec"]
    response = await submit(console, split_path(ns, "gone"), dialog.text, "split-form", "ok")
    assert response.status_code == 422, response.status_code
    assert "This form lists a revision that this Service does not have (any more)." in response.text
    assert rows_in(form_fields(response.text, "split-form")) == back  # what the form held, kept
    assert console.ksvc(ns, "gone")["spec"] == before  # nothing written
