"""History: every change the console makes leaves an entry in the Service's knative-console/history annotation
(written in the same PATCH as the change) and an Event on the Service (read back through the API); the history
page and the details page's section list them newest first with the changes made outside the console; Restore this
split puts an old split back, with the usual before → after and conflict safety."""

from __future__ import annotations

import html
import re
from typing import Any

from app.knative import history
from tests.support import wait_for
from tests.web.conftest import KSVC, Console, form_fields, rows_in
from tests.web.test_writes import _create_form, split_path, submit, wizard_path

USER = "devcluster-admin"  # who the dev cluster says the console's kubeconfig is


def entries(console: Console, ns: str, name: str) -> list[history.Entry]:
    return history.entries_of(console.ksvc(ns, name))


def events(console: Console, ns: str, name: str) -> dict[str, dict[str, Any]]:
    """The console's Events about the Service, by reason."""
    listed = console.cluster.get(f"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3D{name},"
                                 "reportingComponent%3Dknative-console")["items"]
    return {e["reason"]: e for e in listed}


def recorded(console: Console, ns: str, name: str, reason: str) -> dict[str, Any]:
    return wait_for(lambda: events(console, ns, name).get(reason), message=f"the {reason} Event")


def text(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(page)).split())


async def test_each_change_is_recorded_in_the_service_and_as_an_event(console: Console) -> None:
    ns = console.namespace()
    created = await console.post(f"/namespaces/{ns}/services", _create_form("hist", env_name=["TARGET"],
                                                                            env_value=["One"]))
    assert created.status_code == 303
    [made] = entries(console, ns, "hist")
    assert (made.action, made.by, made.generations, made.revision) == ("create", USER, (0, 1), "hist-00001")
    event = recorded(console, ns, "hist", "ServiceCreated")
    assert event["message"] == f"Service created by {USER}; traffic: latest ready revision 100%"
    assert event["involvedObject"]["uid"] == console.ksvc(ns, "hist")["metadata"]["uid"]
    assert event["type"] == "Normal" and event["source"] == {"component": "knative-console"}
    await console.settled(ns, "hist")

    page = await console.get(wizard_path(ns, "hist"))
    rows = [("new", "hist-00002", "0", ""), ("latest", "", "0", ""), ("revision", "hist-00001", "100", "")]
    step = await submit(console, wizard_path(ns, "hist"), page.text, "wizard", "create", rows=rows,
                        env_value="Two")
    assert step.status_code == 303, step.text
    newest = entries(console, ns, "hist")[0]
    assert (newest.action, newest.generations, newest.revision) == ("revision", (1, 2), "hist-00002")
    assert [t.to_spec() for t in newest.after] == console.ksvc(ns, "hist")["spec"]["traffic"]
    assert recorded(console, ns, "hist", "RevisionCreated")["message"] == (
        f"Revision created hist-00002 by {USER} (TARGET changed); traffic: latest ready revision 100% → "
        "latest ready revision 0% · 00001 100%")
    await console.settled(ns, "hist", revisions=2)

    dialog = await console.get(split_path(ns, "hist"))
    fifty = [("latest", "", "0", ""), ("revision", "hist-00002", "50", ""), ("revision", "hist-00001", "50", "")]
    assert (await submit(console, split_path(ns, "hist"), dialog.text, "split-form", "ok", rows=fifty)).status_code \
        == 303
    split = entries(console, ns, "hist")[0]
    assert (split.action, split.generations) == ("split", (2, 3))
    assert recorded(console, ns, "hist", "TrafficSplit")["message"] == (
        f"Traffic split by {USER}; traffic: latest ready revision 0% · 00001 100% → latest ready revision 0% · "
        "00002 50% · 00001 50%")

    for revision, reason, action in (("hist-00002", "Promoted", "promote"), ("hist-00001", "RolledBack", "rollback")):
        await console.settled(ns, "hist", revisions=2)
        one_click = await console.get(f"{split_path(ns, 'hist')}?revision={revision}")
        assert (await submit(console, split_path(ns, "hist"), one_click.text, "split-form", "ok")).status_code == 303
        assert entries(console, ns, "hist")[0].action == action
        assert recorded(console, ns, "hist", reason)["message"].endswith(f"{revision[-5:]} 100%")

    page = await console.get(f"/namespaces/{ns}/services/hist/history")
    assert page.status_code == 200
    actions = [e.action for e in entries(console, ns, "hist")]
    assert actions == ["rollback", "promote", "split", "revision", "create"]
    shown = re.findall(r'<tr data-source="console" data-entry="([^"]+)">', page.text)
    assert shown == [e.id for e in entries(console, ns, "hist")]  # newest first, each once (Event and entry merged)
    assert text(page.text).count("Rolled back") == 1 and "Created Revision" in text(page.text)  # Knative's own Event
    details = await console.get(f"/namespaces/{ns}/services/hist")
    assert re.findall(r'<tr data-source="console" data-entry="([^"]+)">', details.text) == shown[:5]

    await console.settled(ns, "hist", revisions=2)
    confirm = await console.get(f"/namespaces/{ns}/services/hist/delete")
    assert (await submit(console, f"/namespaces/{ns}/services/hist/delete", confirm.text, "delete", "")
            ).status_code == 303
    assert recorded(console, ns, "hist", "ServiceDeleted")["message"] == (
        f"Service deleted by {USER}; it sent: latest ready revision 0% · 00001 100%")


async def test_restore_puts_an_old_split_back(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions_made_here(console, ns, "rs")
    fifty = [("latest", "", "0", ""), ("revision", "rs-00002", "50", "blue"), ("revision", "rs-00001", "50", "")]
    dialog = await console.get(split_path(ns, "rs"))
    assert (await submit(console, split_path(ns, "rs"), dialog.text, "split-form", "ok", rows=fifty)).status_code \
        == 303
    split = entries(console, ns, "rs")[0]
    then = console.ksvc(ns, "rs")["spec"]["traffic"]
    await console.settled(ns, "rs", revisions=2)
    one_click = await console.get(f"{split_path(ns, 'rs')}?revision=rs-00001")
    assert (await submit(console, split_path(ns, "rs"), one_click.text, "split-form", "ok")).status_code == 303
    assert console.ksvc(ns, "rs")["spec"]["traffic"] != then

    history_page = await console.get(f"/namespaces/{ns}/services/rs/history")
    assert f'data-restore="{split.id}"' in history_page.text
    restore = await console.get(f"{split_path(ns, 'rs')}?restore={split.id}")
    assert restore.status_code == 200 and "Restore an earlier split" in restore.text
    words = text(restore.text)
    assert "Now latest ready revision (now 00002) 0% · 00002 0% (tag blue) · 00001 100% After OK latest ready " \
           "revision (now 00002) 0% · 00002 50% (tag blue) · 00001 50%" in words
    assert rows_in(form_fields(restore.text, "split-form"))[:3] == fifty
    done = await submit(console, split_path(ns, "rs"), restore.text, "split-form", "ok")
    assert done.status_code == 303
    assert console.ksvc(ns, "rs")["spec"]["traffic"] == then  # exactly the old split, entries in their order
    newest = entries(console, ns, "rs")[0]
    assert (newest.action, newest.restored) == ("restore", split.id)
    assert recorded(console, ns, "rs", "TrafficRestored")["message"].startswith(f"Split restored by {USER}")
    again = await console.get(f"/namespaces/{ns}/services/rs/history")
    assert f'data-entry="{split.id}"' in again.text and "current split" in again.text


async def test_restore_is_safe(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions_made_here(console, ns, "safe")
    dialog = await console.get(split_path(ns, "safe"))
    rows = [("latest", "", "0", ""), ("revision", "safe-00002", "30", ""), ("revision", "safe-00001", "70", "")]
    assert (await submit(console, split_path(ns, "safe"), dialog.text, "split-form", "ok", rows=rows)).status_code \
        == 303
    split = entries(console, ns, "safe")[0]
    await console.settled(ns, "safe", revisions=2)
    restore = await console.get(f"{split_path(ns, 'safe')}?restore={entries(console, ns, 'safe')[1].id}")
    assert restore.status_code == 200
    # Someone else changes the traffic while the dialog is open: OK shows their change and writes nothing.
    theirs = [{"revisionName": "safe-00002", "percent": 100}]
    console.cluster.bind(ns, "edit", user="carol")
    code, _, _ = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/safe", {"spec": {"traffic": theirs}},
                                         content_type="application/merge-patch+json",
                                         token=console.cluster.user_tokens["carol"])
    assert code == 200
    stale = await submit(console, split_path(ns, "safe"), restore.text, "split-form", "ok")
    assert stale.status_code == 409 and "Someone else changed this Service" in stale.text
    assert console.ksvc(ns, "safe")["spec"]["traffic"] == [{"latestRevision": False, "percent": 100,
                                                            "revisionName": "safe-00002"}]
    outside = await console.get(f"/namespaces/{ns}/services/safe/history")
    row = re.search(r'<tr data-source="outside">(.*?)</tr>', outside.text, re.S)
    assert row and "Changed outside the console" in row.group(1) and "carol" in row.group(1)
    assert "traffic now: 00002 100%" in text(row.group(1))
    details = await console.get(f"/namespaces/{ns}/services/safe")
    assert "<dd data-last-modifier>carol</dd>" in details.text and f"<dd data-creator>{USER}</dd>" in details.text

    unknown = await console.get(f"{split_path(ns, 'safe')}?restore=nope")
    assert unknown.status_code == 404 and "not in the Service&#39;s history" in unknown.text
    code, _, _ = console.cluster.request("DELETE", f"/apis/serving.knative.dev/v1/namespaces/{ns}/revisions/safe-00001")
    assert code == 200
    gone = await console.get(f"{split_path(ns, 'safe')}?restore={split.id}")
    assert gone.status_code == 409 and "safe-00001 no longer exists" in gone.text
    assert 'id="split-form"' not in gone.text
    # The history says so beside the entry, instead of offering a restore that would be refused.
    listed = await console.get(f"/namespaces/{ns}/services/safe/history")
    row = re.search(rf'<tr data-source="console" data-entry="{split.id}">(.*?)</tr>', listed.text, re.S)
    assert row and f'data-restore="{split.id}"' not in row.group(1), row
    assert "Cannot be restored: safe-00001 no longer exists." in text(row.group(1))


async def _two_revisions_made_here(console: Console, ns: str, name: str) -> None:
    """A Service and a second revision at 0%, both made with the console (so both are in its history)."""
    assert (await console.post(f"/namespaces/{ns}/services", _create_form(name))).status_code == 303
    await console.settled(ns, name)
    page = await console.get(wizard_path(ns, name))
    rows = [("new", f"{name}-00002", "0", ""), ("latest", "", "0", ""), ("revision", f"{name}-00001", "100", "")]
    made = await submit(console, wizard_path(ns, name), page.text, "wizard", "create", rows=rows, env_value="Two")
    assert made.status_code == 303, made.text
    await console.settled(ns, name, revisions=2)


async def test_what_was_done_outside_the_console_before_its_first_change_stays_in_the_history(
        console: Console) -> None:
    """A Service made with kubectl and changed there gets a split from the console: its history still says it was
    created outside the console, and lists the revisions and the change made there before the console's entry."""
    ns = console.namespace()
    console.create_ksvc(ns, "before")
    wait_for(lambda: console.ksvc(ns, "before").get("status", {}).get("latestCreatedRevisionName") == "before-00001",
             message="revision 1")
    patch = {"spec": {"template": {"spec": {"containers": [
        {"image": "ghcr.io/knative/helloworld-go:latest", "env": [{"name": "TARGET", "value": "Two"}]}]}}}}
    code, _, body = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/before", patch,
                                            content_type="application/merge-patch+json")
    assert code == 200, body
    await console.settled(ns, "before", revisions=2)
    code, _, body = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/before", {"spec": {"traffic": [
        {"revisionName": "before-00001", "percent": 100}]}}, content_type="application/merge-patch+json")
    assert code == 200, body
    await console.settled(ns, "before", revisions=2)
    dialog = await console.get(split_path(ns, "before"))
    fifty = [("latest", "", "50", ""), ("revision", "before-00001", "50", "")]
    assert (await submit(console, split_path(ns, "before"), dialog.text, "split-form", "ok", rows=fifty)
            ).status_code == 303
    page = await console.get(f"/namespaces/{ns}/services/before/history")
    rows = re.findall(r'<tr data-source="(console|outside)"[^>]*>(.*?)</tr>', page.text, re.S)
    words = [text(row) for _, row in rows]  # made within a second or two: only the creation is surely the oldest
    assert sorted(source for source, _ in rows) == ["console"] + ["outside"] * 4, words
    assert "Service created outside the console" in words[-1]
    [made] = [w for w in words if "Revision 00002 created outside the console" in w]
    assert "+TARGET" in made and any("Revision 00001 created outside the console" in w for w in words)
    [changed] = [w for w in words if "Changed outside the console" in w]
    assert "1 change to the spec" in changed  # the traffic patch, which made no revision
    # Each such row says where the change was made once, and under its title by what it may have been made.
    outside = [w for (source, _), w in zip(rows, words, strict=True) if source == "outside"]
    assert all(w.count("outside the console") == 1 and "kubectl, kn or another tool" in w for w in outside), outside
