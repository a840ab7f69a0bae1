"""Pages whose object is deleted while they are open (with kubectl, as another user would): the live details and
revision pages say it is gone, show no live status that is no longer true, offer no action that would fail (each
disabled with the reason) and keep what they last knew, said as such; a Service created again under the same name
fills the page again. Without JavaScript, the pages, dialogs and forms of a deleted Service or revision answer a
clear 404 and write nothing."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import httpx

from tests.support import wait_for
from tests.web.conftest import KSVC, Console, Event, EventStream, form_fields, live_settings, open_stream, served
from tests.web.test_live import patch_ksvc, stream_path
from tests.web.test_writes import submit

Shown = dict[str, str]  # region → the HTML the page shows now
REVISIONS = "/apis/serving.knative.dev/v1/namespaces/{ns}/revisions"


async def showing(events: EventStream, shown: Shown, predicate: Callable[[Shown], bool], within: float = 15) -> None:
    """Take the stream's regions into `shown` until `predicate` holds for them."""
    def take(event: Event) -> bool:
        if event.name:
            shown[event.name] = event.data
        return predicate(shown)

    await events.until(take, within)


def enabled(region: str, label: str) -> bool:
    """Whether a region offers the action `label` as a link (not a disabled button)."""
    return bool(re.search(rf"<a [^>]*>{re.escape(label)}</a>", region))


def disabled_because(region: str, label: str) -> str:
    """The reason a region gives for the disabled action `label` ("" when it is not disabled)."""
    found = re.search(rf'<button [^>]*aria-disabled="true" title="([^"]*)"[^>]*>{re.escape(label)}</button>', region)
    return html.unescape(found.group(1)) if found else ""


def second_revision(console: Console, ns: str, name: str) -> None:
    patch_ksvc(console, ns, name, {"spec": {"template": {"spec": {"containers": [
        {"image": "ghcr.io/knative/helloworld-go:latest", "env": [{"name": "TARGET", "value": "two"}]}]}}}})


async def test_a_details_page_under_a_deleted_service(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "hello")
    await console.settled(ns, "hello")
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/namespaces/{ns}/services/hello")
        for label in ("Create Revision", "Split Traffic", "Delete"):
            assert enabled(page.text, label), label
        async with open_stream(http, stream_path(page)) as events:
            await events.next()
            console.cluster.kubectl("1.33", "-n", ns, "delete", "ksvc", "hello")
            shown: Shown = {}
            await showing(events, shown, lambda s: "was deleted" in s.get("connection", ""))
            assert "The Service hello was deleted." in shown["connection"]
            status = html.unescape(shown["status"])
            assert "Success" not in status and ">Deleted</span>" in status and "last known" in status
            assert "Deleted" in shown["revisions"] and "running" not in shown["revisions"]
            assert "data-send-all" not in shown["revisions"] and "Success" not in shown["revisions"]
            assert not enabled(shown["revisions"], "Logs")
            assert not shown["conditions"].strip()  # the conditions of a Service that is no more
            for label in ("Create Revision", "Split Traffic", "Delete", "YAML", "History", "Check traffic"):
                assert disabled_because(shown["actions"], label) == "The Service hello was deleted.", label
            # Created again under the same name: the page fills with it, its actions back.
            console.create_ksvc(ns, "hello")
            await showing(events, shown, lambda s: not s["connection"] and "Success" in s["status"]
                          and "hello-00001" in s["revisions"] and "Deleted" not in s["revisions"])
            assert "Ready" in shown["conditions"]
            for label in ("Create Revision", "Split Traffic", "Delete"):
                assert enabled(shown["actions"], label), label


async def test_a_revision_page_under_a_deleted_revision(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "rev")
    await console.settled(ns, "rev")
    second_revision(console, ns, "rev")
    await console.settled(ns, "rev", revisions=2)
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/namespaces/{ns}/services/rev/revisions/rev-00001")
        assert "Roll back to this" in page.text
        async with open_stream(http, stream_path(page)) as events:
            await events.next()
            console.cluster.kubectl("1.33", "-n", ns, "delete", "revision", "rev-00001")
            shown: Shown = {}
            await showing(events, shown, lambda s: "rev-00001 was deleted" in s.get("connection", ""))
            summary = html.unescape(shown["summary"])
            assert "Roll back to this" not in summary and "data-send-all" not in summary
            assert ">Deleted</span>" in summary and "last known" in summary and "Success" not in summary
            assert "running" not in shown["instances"]
            assert disabled_because(shown["logs"], "All of its logs, following new lines") == \
                "The revision rev-00001 was deleted."
            assert disabled_because(shown["actions"], "YAML") == "The revision rev-00001 was deleted."
            assert enabled(shown["actions"], "rev-00002 »")  # its neighbour is still there


async def test_without_javascript_a_deleted_service_answers_404_and_nothing_is_written(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "gone")
    await console.settled(ns, "gone")
    base = f"/namespaces/{ns}/services/gone"
    split, wizard = await console.get(f"{base}/traffic"), await console.get(f"{base}/revisions/new")
    console.cluster.kubectl("1.33", "-n", ns, "delete", "ksvc", "gone")
    for path in (base, f"{base}/traffic", f"{base}/delete", f"{base}/revisions/new", f"{base}/history",
                 f"{base}/check", f"{base}/traffic?revision=gone-00001"):
        page = await console.get(path)
        assert page.status_code == 404, path
        assert f"There is no Service &#34;gone&#34; in the namespace {ns}. It may have been deleted." in page.text, path
    revision = await console.get(f"{base}/revisions/gone-00001")
    assert revision.status_code == 404 and "There is no Service &#34;gone&#34;" in revision.text
    assert "gone-00001&#34; in the namespace" not in revision.text  # the revision is not called a Service
    logs = await console.get(f"{base}/revisions/gone-00001/logs")
    assert logs.status_code == 404 and "There is no revision &#34;gone-00001&#34; of the Service gone." in logs.text
    for path, page, form in ((f"{base}/traffic", split, "split-form"), (f"{base}/revisions/new", wizard, "wizard")):
        answer = await console.post_fields(path, form_fields(page.text, form))
        assert answer.status_code == 404 and "There is no Service &#34;gone&#34;" in answer.text, path
    assert console.cluster.get(KSVC.format(ns=ns))["items"] == []  # nothing made again
    wait_for(lambda: console.cluster.get(REVISIONS.format(ns=ns))["items"] == [], message="its revisions gone")


async def test_a_history_page_under_a_deleted_service(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "past")
    await console.settled(ns, "past")
    for tag in ("first", "second"):  # two splits made in the console: the first can be restored
        dialog = await console.get(f"/namespaces/{ns}/services/past/traffic")
        done = await submit(console, f"/namespaces/{ns}/services/past/traffic", dialog.text, "split-form", "ok",
                            rows=[("latest", "", "100", tag)])
        assert done.status_code == 303, done.text
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/namespaces/{ns}/services/past/history")
        assert enabled(page.text, "Restore this split")
        async with open_stream(http, stream_path(page)) as events:
            await events.next()
            console.cluster.kubectl("1.33", "-n", ns, "delete", "ksvc", "past")
            shown: Shown = {}
            await showing(events, shown, lambda s: "was deleted" in s.get("connection", ""))
            assert disabled_because(shown["history"], "Restore this split") == "The Service past was deleted."
            assert "last known" in shown["history"]
