"""The details page kept rendered (app.web.details.PageCache): opened again with nothing changed it is the same page,
not built again, whatever the number of revisions; a revision that goes (the Service itself unchanged), a new version
of the Service and a hard reload make it anew; a change to one of the Service's pods changes the key; pages that
explain a failure, or whose revisions were listed, are not kept; each user has their own. A page built anew renders
only the revision rows that changed (the others come from the row cache), and a row is what its key says."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cluster import resources as r
from app.knative.diagnosis import Diagnosis
from app.knative.gateway import Gateway
from app.knative.instances import Instances
from app.knative.models import TrafficTarget, revision_from
from app.settings import Settings
from app.web import details, render
from app.web.hub import Change
from app.web.permissions import EVERYTHING, Allowed
from app.web.rows import RowCache
from tests.support import wait_for
from tests.web.conftest import KSVC, Console

REVISIONS = "/apis/serving.knative.dev/v1/namespaces/{ns}/revisions"


def app_of(console: Console) -> Any:
    return console.http._transport.app  # type: ignore[attr-defined]


def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the Services whose details page is built (and rendered) from here on."""
    names: list[str] = []
    build = details.detail_page

    def counting(namespace: str, obj: dict[str, Any], *args: Any, **kwargs: Any) -> details.DetailPage:
        names.append(obj["metadata"]["name"])
        return build(namespace, obj, *args, **kwargs)

    monkeypatch.setattr(details, "detail_page", counting)
    return names


async def trusted(console: Console, ns: str, *kinds: r.Resource, within: float = 10.0) -> None:
    """Wait until the app's watch-fed caches of these kinds in `ns` are trusted (the page is then read from them)."""
    informers = app_of(console).state.live.informers.informers
    deadline = asyncio.get_running_loop().time() + within
    while not all(any(i.trusted for (_, namespace, kind), i in informers.items() if namespace == ns and kind == want)
                  for want in kinds):
        assert asyncio.get_running_loop().time() < deadline, "the caches never listed"
        await asyncio.sleep(0.02)


def rows(page: str) -> list[str]:
    return re.findall(r'<tr data-revision="([^"]+)"', page)


def regions(page: str) -> str:
    """The page without what differs per request (the form token)."""
    return re.sub(r'name="csrf_token" value="[^"]*"|"X-CSRF-Token": "[^"]*"', "", page)


async def two_revisions(console: Console, ns: str, name: str) -> None:
    """A Service with two Ready revisions, all its traffic on the second (the first has none and no tag)."""
    console.create_ksvc(ns, name)
    wait_for(lambda: console.ksvc(ns, name).get("status", {}).get("latestCreatedRevisionName") == f"{name}-00001",
             message="revision 1")
    patch = {"spec": {"template": {"spec": {"containers": [
        {"image": "ghcr.io/knative/helloworld-go:latest", "env": [{"name": "TARGET", "value": "two"}]}]}}}}
    code, _, body = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/{name}", patch,
                                            content_type="application/merge-patch+json")
    assert code == 200, body
    await console.settled(ns, name, revisions=2)


async def test_a_page_opened_again_is_kept_until_a_revision_goes(console: Console,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ns = console.namespace()
    await two_revisions(console, ns, "kept")
    path = f"/namespaces/{ns}/services/kept"
    await console.get(path)  # starts the caches of the namespace's revisions and pods
    await trusted(console, ns, r.REVISION, r.POD)
    builds = built(monkeypatch)
    first = (await console.get(path)).text
    again = (await console.get(path)).text
    assert builds == ["kept"]  # built once, then kept
    assert regions(again) == regions(first) and rows(first) == ["kept-00002", "kept-00001"]
    # The old revision goes (as `kubectl delete revision` would): the Service itself does not change.
    before = console.ksvc(ns, "kept")["metadata"]["resourceVersion"]
    code, _, body = console.cluster.request("DELETE", f"{REVISIONS.format(ns=ns)}/kept-00001")
    assert code == 200, body
    informers = app_of(console).state.live.informers.informers
    cache = next(i for (_, namespace, kind), i in informers.items() if namespace == ns and kind == r.REVISION)
    deadline = asyncio.get_running_loop().time() + 10
    while "kept-00001" in cache.objects:
        assert asyncio.get_running_loop().time() < deadline, "the revision cache never saw the delete"
        await asyncio.sleep(0.02)
    assert console.ksvc(ns, "kept")["metadata"]["resourceVersion"] == before
    assert rows((await console.get(path)).text) == ["kept-00002"]  # fails with a key of the Service's version alone
    assert builds == ["kept", "kept"]
    await console.get(path, headers={"Cache-Control": "no-cache"})  # a hard reload builds it anew
    assert builds == ["kept", "kept", "kept"]


async def test_a_change_to_a_pod_or_to_the_service_makes_a_new_key(console: Console,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "pods")
    await console.settled(ns, "pods")
    path = f"/namespaces/{ns}/services/pods"
    await console.get(path)
    await trusted(console, ns, r.REVISION, r.POD)
    builds = built(monkeypatch)
    await console.get(path)
    await console.get(path)
    assert builds == ["pods"]
    informers = app_of(console).state.live.informers.informers
    pods = next(i for (_, namespace, kind), i in informers.items() if namespace == ns and kind == r.POD)
    pod = next(iter(pods.by_label["pods"].values()))
    newer = str(int(pod["metadata"]["resourceVersion"]) + 10**9)  # newer than anything the cache has taken in
    pods._apply(Change(r.POD, "MODIFIED", {**pod, "metadata": {**pod["metadata"], "resourceVersion": newer}}))
    await console.get(path)
    assert builds == ["pods", "pods"]  # the same Service and revisions, another pod: built again
    code, _, body = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/pods",
                                            {"metadata": {"labels": {"team": "a"}}},
                                            content_type="application/merge-patch+json")
    assert code == 200, body
    await console.get(path)
    assert builds == ["pods", "pods", "pods"]  # a new version of the Service


def test_pages_that_explain_a_failure_or_were_listed_are_not_kept() -> None:
    cache = details.PageCache(capacity=2)
    obj = {"metadata": {"name": "s", "uid": "u", "resourceVersion": "7"}}
    stamp = (1, 1, 3)
    key = details.page_key(obj, stamp, stamp, Gateway("127.0.0.1:8080"), EVERYTHING)
    assert key is not None
    assert details.page_key(obj, None, stamp, Gateway(), EVERYTHING) is None  # revisions listed
    assert details.page_key(obj, stamp, None, Gateway(), EVERYTHING) is None  # pods listed, or not readable
    # What the user may do is part of the key: the actions offered differ.
    assert key != details.page_key(obj, stamp, stamp, Gateway("127.0.0.1:8080"), Allowed(patch="no"))
    page = details.DetailPage("ns", details.service_from(obj), [], 0, Gateway(), "")
    cache.put(("alice", "ns", "s", ""), key, page)
    assert cache.get(("alice", "ns", "s", ""), key) is page
    assert cache.get(("bob", "ns", "s", ""), key) is None  # another identity
    assert cache.get(("alice", "ns", "s", ""), (*key[:2], (1, 1, 4), *key[3:])) is None
    failing = details.DetailPage("ns", details.service_from(obj), [], 0, Gateway(), "", failures=[object()])  # type: ignore[list-item]
    cache.put(("alice", "ns", "s", ""), key, failing)
    assert cache.get(("alice", "ns", "s", ""), key) is None  # its Events and logs are read for each view
    for name in ("a", "b", "c"):
        cache.put(("alice", "ns", name, ""), key, page)
    assert len(cache.pages) == 2


def rendered_rows(console: Console, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the revisions whose rows are rendered (not taken from the row cache) from here on."""
    names: list[str] = []
    cut = details.cut

    def counting(templates: Any, template: str, **context: Any) -> list[Any]:
        names.extend(row.revision.name for row in context["rows"])
        return cut(templates, template, **context)

    monkeypatch.setattr(details, "cut", counting)
    return names


async def quiet_page(console: Console, path: str, rendered: list[str], within: float = 15.0) -> str:
    """The page once the cluster has stopped changing what it shows (the revision with no traffic scaling to zero,
    say): built anew (a hard reload) with no row rendered."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        rendered.clear()
        page = (await console.get(path, headers={"Cache-Control": "no-cache"})).text
        if not rendered:
            return page
        assert asyncio.get_running_loop().time() < deadline, f"the rows never stopped changing: {rendered}"
        await asyncio.sleep(0.2)


async def test_a_page_built_again_renders_only_the_rows_that_changed(console: Console,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ns = console.namespace()
    await two_revisions(console, ns, "rows")
    path = f"/namespaces/{ns}/services/rows"
    rendered = rendered_rows(console, monkeypatch)
    reload = {"Cache-Control": "no-cache"}
    first = await quiet_page(console, path, rendered)
    again = (await console.get(path, headers=reload)).text  # built anew, its rows from the row cache
    assert rendered == [] and regions(again) == regions(first)
    # A change to one revision (a label put on it later: a new resourceVersion, though its Changes cell does not
    # name it, since it is no change of the template) renders that row alone; the first revision's does not change.
    code, _, body = console.cluster.request("PATCH", f"{REVISIONS.format(ns=ns)}/rows-00002",
                                            {"metadata": {"labels": {"reviewed": "yes"}}},
                                            content_type="application/merge-patch+json")
    assert code == 200, body
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        page = (await console.get(path, headers=reload)).text
        if rendered:
            break
        assert asyncio.get_running_loop().time() < deadline, "the revision's change never reached the page"
        await asyncio.sleep(0.05)
    assert rendered == ["rows-00002"] and "label reviewed" not in page and regions(page) == regions(first)
    # What the Service's traffic gives a revision is part of its row: a new split renders both rows again.
    rendered.clear()
    split = {"spec": {"traffic": [{"revisionName": "rows-00001", "percent": 30},
                                  {"revisionName": "rows-00002", "percent": 70}]}}
    code, _, body = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/rows", split,
                                            content_type="application/merge-patch+json")
    assert code == 200, body
    deadline = asyncio.get_running_loop().time() + 10
    while not re.search(r'data-revision="rows-00001".*?data-share>30%', page := (await console.get(
            path, headers=reload)).text, re.S):  # once the Route serves it (the rows show the traffic served)
        assert asyncio.get_running_loop().time() < deadline, "the split never reached the page"
        await asyncio.sleep(0.05)
    assert sorted(set(rendered)) == ["rows-00001", "rows-00002"] and "data-share>70%" in page


TARGETS = st.builds(TrafficTarget, percent=st.sampled_from([0, 30, 100]), revision_name=st.just("svc-00001"),
                    latest_revision=st.booleans(), tag=st.sampled_from(["", "canary"]))
FIELDS = {  # what a revision's row is made from, each with the values a test may give it
    "pinned": st.lists(TARGETS, max_size=2).map(tuple), "floating": st.lists(TARGETS, max_size=1).map(tuple),
    "newest": st.booleans(), "previous": st.sampled_from(["", "svc-00000"]),
    "changes": st.sampled_from(["first revision", "image", "env TARGET"]),
    "instances": st.builds(Instances, words=st.sampled_from(["1 running", "scaled to zero"]),
                           tone=st.sampled_from(["ok", "idle"])),
    "diagnosis": st.sampled_from([None, Diagnosis("svc-00001", "The image could not be pulled", "Fix the image")]),
    "waiting": st.sampled_from([None, Diagnosis("svc-00001", "Its container runs but does not pass its readiness "
                                                             "probe (a TCP connection to port 8080)", "Check it")]),
    "latest": st.sampled_from(["svc-00001", "svc-00002"]),
    "allowed": st.sampled_from([EVERYTHING, Allowed(patch="you may not"), Allowed(logs="no pods for you")]),
    "ready": st.booleans(),
}
ROW = st.fixed_dictionaries(FIELDS)
TEMPLATES = render.templates()  # one environment: each example renders with the templates compiled once


@st.composite
def variants(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A row, and rows that each differ from it in one thing."""
    base = draw(ROW)
    changed = draw(st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=len(FIELDS)))
    return [base, *({**base, name: draw(FIELDS[name])} for name in changed)]


@settings(max_examples=200, deadline=None)
@given(rows=variants())
def test_a_row_is_what_its_key_says(rows: list[dict[str, Any]]) -> None:
    """Rows rendered through one row cache are the rows rendered without it: no two rows that look different share
    a key, whatever the traffic, tags, instances, diagnosis (or why it is not Ready yet), latest revision and
    permissions."""
    templates, settings_ = TEMPLATES, Settings()
    cache = RowCache()
    condition = {"type": "Ready", "status": "True"}
    for variant in rows:
        revision = revision_from({
            # A revision's status is part of it: another status, another resourceVersion.
            "metadata": {"name": "svc-00001", "uid": "u1", "resourceVersion": "9" if variant["ready"] else "10",
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"containers": [{"image": "app:1"}]},
            "status": {"conditions": [condition if variant["ready"] else {**condition, "status": "False",
                                                                           "reason": "ImagePullBackOff"}]}})
        obj = {"metadata": {"name": "svc", "uid": "s", "resourceVersion": "3"},
               "status": {"latestCreatedRevisionName": variant["latest"]}}
        row = details.RevisionRow(revision, variant["pinned"], variant["floating"], variant["newest"],
                                  variant["previous"], variant["changes"], variant["instances"], variant["diagnosis"],
                                  waiting=variant["waiting"])
        page = details.DetailPage("ns", details.service_from(obj), [row], 1, Gateway(), "", allowed=variant["allowed"])
        alone = details.render_page(templates, settings_, RowCache(), page).row_html
        assert details.render_page(templates, settings_, cache, page).row_html == alone
