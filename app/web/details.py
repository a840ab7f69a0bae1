"""Service details: basic information, a gradual rollout's progress, what went wrong with a failed revision (and what to
do), conditions, the traffic entries and the revision table with each revision's instances, each a named region that
the live stream replaces when it changes."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.responses import Response

from app.cluster import resources as r
from app.knative import changes, history, traffic
from app.knative import instances as inst
from app.knative.diagnosis import (
    DeletedEntry,
    Diagnosis,
    HeldSplit,
    deleted_entries,
    diagnose,
    held_split,
    not_ready,
)
from app.knative.gateway import Gateway
from app.knative.models import (
    FAILED,
    LABEL_SERVICE,
    SUCCESS,
    RevisionView,
    ServiceView,
    TrafficTarget,
    generation_of,
    newest_first_raw,
    revision_from,
    service_from,
)
from app.knative.naming import short_name
from app.knative.rollout import RolloutProgress, rollout_progress
from app.settings import Settings
from app.web import in_force, yaml_views
from app.web.context import acting, allowed, checked, cluster, identity, lookups, reloaded, service_url
from app.web.evidence import Evidence, gather_evidence, service_pods
from app.web.permissions import EVERYTHING, Allowed
from app.web.regions import Region, Regions, render_regions, stream_url
from app.web.render import render
from app.web.routing import CheckedRoute
from app.web.rows import RowCache, cut, kept_rows

router = APIRouter(route_class=CheckedRoute)
NEWEST_ROWS = 20  # beside every revision with traffic or a tag, the table shows this many of the newest
EXPLAINED = 3  # failed revisions explained at most on the page (the newest first)
HISTORY_ROWS = 5  # the details page's History section; the history page has the rest
PAGES_KEPT = 64  # details pages kept rendered (app.state.pages), the least recently opened dropped first
# The regions of the details page, in page order: the toolbar's actions, then the page's sections (in #live).
REGIONS = (
    Region("actions", "_service_actions.html"),
    Region("status", "_service_status.html"),
    Region("rollout", "_service_rollout.html"),
    Region("failures", "_service_failures.html"),
    Region("conditions", "_service_conditions.html"),
    Region("traffic", "_service_traffic.html"),
    Region("revisions", "_service_revisions.html"),
    Region("history", "_service_history.html"),
    in_force.REGION,  # hidden: what an open Split Traffic dialog's Now column shows
)
REVISION_ROWS_TEMPLATE = "_revision_rows_render.html"
Stamp = tuple[int, int, int]  # what a watch-fed cache held for a label value (app.web.informer.Informer.stamp)
SHOWN = ("", "all", "serving")  # the revision table: the newest and the serving ones, all, the serving ones


@dataclass(frozen=True)
class RevisionRow:
    revision: RevisionView
    pinned: tuple[TrafficTarget, ...]  # entries that name this revision
    floating: tuple[TrafficTarget, ...]  # floating entries that resolve to it now
    newest: bool
    previous: str = ""  # the revision before it ("" for the first)
    changes: str = ""  # what it changed from `previous`, in a few words
    instances: inst.Instances = inst.Instances("", inst.NONE)
    diagnosis: Diagnosis | None = None
    newest_serving: int = 0  # the generation of the newest revision that gets traffic now (traffic.newest_serving)
    waiting: Diagnosis | None = None  # why it is not Ready yet, while deploying, when its instances say (not_ready)
    above: bool = False  # the page explains its failure (or why it is not Ready yet) in a panel above the table

    @property
    def failed(self) -> bool:
        return self.revision.status.label == FAILED

    @property
    def pinned_percent(self) -> int:
        return sum(t.percent for t in self.pinned)

    @property
    def floating_percent(self) -> int:
        return sum(t.percent for t in self.floating)

    @property
    def percent(self) -> int:
        return self.pinned_percent + self.floating_percent

    @property
    def serving(self) -> bool:
        """Traffic or a tag reaches it: always shown."""
        return bool(self.pinned or self.floating)

    @property
    def rolls_back(self) -> bool:
        """Its one-click 100% goes back ("Roll back to this"), not forward ("Send 100%")."""
        return traffic.rolls_back(self.revision.generation, self.newest_serving)

    @property
    def no_action(self) -> str:
        """Why there is no one-click "Send 100%" / "Roll back to this" here ("" when there is one)."""
        status = self.revision.status
        if status.label == FAILED:
            return "Failed: it cannot take traffic"
        if status.label != SUCCESS:
            return "Deploying: can take traffic once Ready"
        if self.percent == 100:
            return "Serving 100%"
        return ""


@dataclass(frozen=True)
class Failure:
    """A failed revision, explained: the diagnosis, and the conditions, events and last log lines behind it."""

    row: RevisionRow
    diagnosis: Diagnosis
    evidence: Evidence | None


@dataclass
class DetailPage:
    namespace: str
    service: ServiceView
    rows: list[RevisionRow]  # the rows shown
    total: int  # revisions in all
    gateway: Gateway
    curl: str
    shown: str = ""  # which revisions the table shows: "" (the newest and the serving ones), "all", "serving"
    history: list[history.Item] = field(default_factory=list)  # the latest few changes
    regions: Regions = field(default_factory=dict)  # rendered, for the page and the stream
    rollout: RolloutProgress | None = None
    failures: list[Failure] = field(default_factory=list)
    waiting: RevisionRow | None = None  # the newest revision, deploying, when its instances say why it is not Ready
    pods_known: bool = True  # False: this identity may not list pods; instances come from the revisions' status
    allowed: Allowed = EVERYTHING  # what the user may do to this Service (the actions offered)
    row_html: list[Markup] = field(default_factory=list)  # the revision table's rows, rendered (render_page)
    gone: str = ""  # the Service was deleted under the open page (the live view): what to say; shown as last known
    deleted: tuple[DeletedEntry, ...] = ()  # traffic entries whose revision no longer exists

    @property
    def show_all(self) -> bool:
        return self.shown == "all"

    @property
    def held(self) -> HeldSplit | None:
        """The split asked for, when Knative has not applied it (the Traffic shown is then the one before)."""
        return held_split(self.service)

    @property
    def deleted_names(self) -> frozenset[str]:
        return frozenset(d.revision for d in self.deleted)

    @property
    def newest_rows(self) -> int:
        return NEWEST_ROWS

    @property
    def hidden(self) -> int:
        return self.total - len(self.rows)

    @property
    def older_serving(self) -> int:
        """The rows shown beside the newest NEWEST_ROWS (default mode): older revisions with traffic or a tag."""
        return len(self.rows) - min(NEWEST_ROWS, self.total)

    @property
    def url(self) -> str:
        return f"/namespaces/{self.namespace}/services/{self.service.name}"

    @property
    def current(self) -> list[dict[str, Any]]:
        """spec.traffic now, as the history compares splits: the split that needs no restoring."""
        return history.normalized(self.service.raw_spec_traffic)

    @property
    def live_url(self) -> str:
        return stream_url(self.url, self.regions, {"revisions": self.shown} if self.shown else {})


def row_key(page: DetailPage, row: RevisionRow) -> tuple[Any, ...] | None:
    """Everything a revision's row shows, or None when the revision has no version to know it by (its row is then
    always rendered): the revision as the API gave it (uid and resourceVersion: its template, status, creator), what
    the Service's traffic gives it, whether it is the newest, the revision before it and what changed since, its
    instances, the diagnosis line (or why it is not Ready yet) and whether a panel above says it, and the page's
    Service, latest revision and what the user may do."""
    meta = row.revision.raw_metadata
    uid, version = meta.get("uid"), meta.get("resourceVersion")
    if not (isinstance(uid, str) and isinstance(version, str) and uid and version):
        return None
    return ("revision", page.namespace, page.service.name, uid, version, row.pinned, row.floating, row.newest,
            row.previous, row.changes, row.instances, row.diagnosis.what if row.diagnosis else None,
            row.waiting.what if row.waiting else None, row.above, row.newest_serving, page.service.latest_created,
            page.allowed.patch, page.allowed.logs, page.gone)


def render_page(templates: Jinja2Templates, settings: Settings, cache: RowCache, page: DetailPage) -> DetailPage:
    """The page's regions, its revision rows from `cache` where they were rendered before (a Service with 300
    revisions renders the few rows that changed, not the 21 it shows)."""
    base = f"/namespaces/{page.namespace}/services/{page.service.name}"

    def render(missing: list[int]) -> list[Markup]:
        return cut(templates, REVISION_ROWS_TEMPLATE, rows=[page.rows[index] for index in missing], base=base,
                   allowed=page.allowed, gone=page.gone)

    page.row_html = kept_rows(cache, [row_key(page, row) for row in page.rows], render)
    page.regions = render_regions(templates, REGIONS, page, settings)
    return page


def shown_mode(revisions: str) -> str:
    """The revision table's `?revisions=`: all, serving, or anything else for the default."""
    return revisions if revisions in SHOWN else ""


class SummaryCache:
    """What a revision changed from the one before it, kept by both revisions' uid and resourceVersion (a revision's
    template never changes): a page that is rendered again, or a live page after a change, compares none again."""

    def __init__(self, capacity: int = 8192, pages: int = 64) -> None:
        self.capacity, self.pages = capacity, pages
        self.summaries: OrderedDict[tuple[str, ...], str] = OrderedDict()
        self.orders: OrderedDict[tuple[Any, ...], tuple[list[dict[str, Any]], list[history.Item]]] = OrderedDict()

    def ordered(self, service: dict[str, Any], revisions: list[dict[str, Any]], stamp: Stamp | None = None,
                ) -> tuple[list[dict[str, Any]], list[history.Item]]:
        """The revisions newest first and the Service's timeline, kept by the versions of the Service and of every
        revision (what they are computed from, whoever reads them), or by the stamp of the watch-fed cache the
        revisions came from (the same revisions, without reading the version of each): a page opened again, with
        nothing changed, sorts and walks its few hundred revisions no more. Callers must not change what they get."""
        if stamp is not None and _version(service)[1]:
            key: tuple[Any, ...] = (_version(service), stamp)
        else:
            versions = [_version(service), *(_version(r) for r in revisions)]
            if not all(version for _, version in versions):  # not as the API gives them: nothing to know them by
                ordered = newest_first_raw(revisions)
                return ordered, history.timeline(service, ordered, newest=HISTORY_ROWS)
            key = (versions[0], frozenset(versions[1:]))
        found = self.orders.get(key)
        if found is None:
            ordered = newest_first_raw(revisions)
            found = self.orders[key] = (ordered, history.timeline(service, ordered, newest=HISTORY_ROWS))
            while len(self.orders) > self.pages:
                self.orders.popitem(last=False)
        else:
            self.orders.move_to_end(key)
        return found

    def get(self, older: dict[str, Any], newer: dict[str, Any]) -> str:
        key = (*_version(older), *_version(newer))
        found = self.summaries.get(key)
        if found is None:
            found = self.summaries[key] = changes.summary(changes.revision_diffs(older, newer))
            while len(self.summaries) > self.capacity:
                self.summaries.popitem(last=False)
        else:
            self.summaries.move_to_end(key)
        return found


def _version(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or meta.get("name") or ""), str(meta.get("resourceVersion") or "")


def summaries(ordered: list[dict[str, Any]], cache: SummaryCache | None = None) -> Callable[[str], str]:
    """What each revision changed from the one before it (revisions newest first), computed when asked for."""
    index = {_name_of(o): i for i, o in enumerate(ordered)}
    kept = cache or SummaryCache()

    def summary_of(name: str) -> str:
        at = index.get(name)
        if at is None:
            return ""
        generation = generation_of(ordered[at].get("metadata") or {})
        if at + 1 >= len(ordered):
            return "oldest left: the revisions before it were deleted" if generation > 1 else "first revision"
        older = ordered[at + 1].get("metadata") or {}
        between = 0 < generation_of(older) < generation - 1  # revisions made between them were deleted since
        return (f"since {_short(older)}: " if between else "") + kept.get(ordered[at + 1], ordered[at])

    return summary_of


def _short(metadata: dict[str, Any]) -> str:
    """`00001` for the revision `hw-00001` of the Service `hw` (its full name when it has no Service label)."""
    name = str(metadata.get("name") or "")
    service = str((metadata.get("labels") or {}).get(LABEL_SERVICE) or "")
    return short_name(name, service) if service else name


def revision_rows(service: ServiceView, ordered: list[dict[str, Any]], shown: str,
                  summary_of: Callable[[str], str],
                  pods: dict[str, list[dict[str, Any]]] | None = None) -> list[RevisionRow]:
    """The revision table: newest first, each revision with traffic or a tag, and (unless only those are asked for)
    the newest NEWEST_ROWS or all; only the rows shown are parsed. `pods` by revision, None when unknown (the
    instances then come from the status)."""
    serving = {t.revision_name for t in service.traffic}
    newest = serving_generation(service, ordered)
    rows = []
    for index, obj in enumerate(ordered):
        name = (obj.get("metadata") or {}).get("name")
        if not (shown == "all" or (shown == "" and index < NEWEST_ROWS) or name in serving):
            continue
        revision = revision_from(obj)
        previous = str((ordered[index + 1].get("metadata") or {}).get("name") or "") if index + 1 < len(ordered) \
            else ""
        mine = None if pods is None else [inst.instance_from(pod) for pod in pods.get(revision.name, [])]
        words = inst.describe(revision, mine, service.reachable(revision.name))
        row = RevisionRow(revision, service.pinned_to(revision.name), service.floating_to(revision.name),
                          revision.name == service.latest_created, previous, summary_of(revision.name),
                          words, diagnose(revision, mine or ()), newest, not_ready(revision, mine or ()))
        if pods is not None and UNSCHEDULABLE in (_reason(row.diagnosis), _reason(row.waiting)):
            # No node for its instances: say which of the Service's other revisions hold some (rare: read only then).
            holders = holding(pods, revision.name)
            row = replace(row, diagnosis=diagnose(revision, mine or (), holders),
                          waiting=not_ready(revision, mine or (), holders))
        rows.append(row)
    return rows


UNSCHEDULABLE = "Unschedulable"  # the scheduler's reason, as the revision and its diagnosis carry it


def _reason(found: Diagnosis | None) -> str:
    return found.reason if found is not None else ""


def holding(pods: dict[str, list[dict[str, Any]]], revision: str) -> list[tuple[str, int]]:
    """The Service's revisions other than `revision` whose pods a node runs (bound, not being deleted): (name, how
    many), newest first."""
    held = []
    for name, found in pods.items():
        count = sum(1 for pod in found if isinstance(pod, dict) and (pod.get("spec") or {}).get("nodeName")
                    and not (pod.get("metadata") or {}).get("deletionTimestamp"))
        if name != revision and count:
            held.append((name, count))
    return sorted(held, reverse=True)


def serving_generation(service: ServiceView, revisions: list[dict[str, Any]]) -> int:
    """The generation of the newest revision that gets traffic now, from the revisions as the API gives them."""
    serving = {t.revision_name for t in service.traffic if t.percent > 0}
    return traffic.newest_serving(service, {_name_of(o): generation_of(o.get("metadata") or {}) for o in revisions
                                            if _name_of(o) in serving})


def explained(service: ServiceView, rows: list[RevisionRow]) -> list[RevisionRow]:
    """The failed revisions the page explains: the newest, and any the Service's traffic names."""
    named = {t.revision_name for t in service.spec_traffic}
    chosen = [row for row in rows if row.diagnosis is not None and
              (row.revision.name == service.latest_created or row.revision.name in named)]
    return chosen[:EXPLAINED]


def explainable(service: ServiceView, ordered: list[dict[str, Any]], rows: list[RevisionRow],
                pods: dict[str, list[dict[str, Any]]] | None) -> list[RevisionRow]:
    """The rows `explained` chooses from, newest first: those the table shows, and the newest revision and those the
    traffic names when the table leaves them out (`?revisions=serving` does a failed newest revision with no
    traffic), so that which failures the page explains does not depend on the table's mode."""
    named = {t.revision_name for t in service.spec_traffic} | {service.latest_created}
    missing = named - {row.revision.name for row in rows}
    if not missing:
        return rows
    position = {_name_of(obj): index for index, obj in enumerate(ordered)}
    extra = revision_rows(service, [obj for obj in ordered if _name_of(obj) in missing], "all", _no_summary, pods)
    return sorted([*rows, *extra], key=lambda row: position.get(row.revision.name, len(position)))


def _name_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def detail_page(namespace: str, obj: dict[str, Any], revisions: list[dict[str, Any]], gateway: Gateway,
                shown: str = "", cache: SummaryCache | None = None, pods: list[dict[str, Any]] | None = None,
                evidence: dict[str, Evidence] | None = None, allowed: Allowed = EVERYTHING,
                stamp: Stamp | None = None, gone: str = "") -> DetailPage:
    """The page for a Service, its revisions and their pods as the API gives them (pods None: not readable);
    `stamp`, that of the watch-fed cache the revisions came from; `gone`, what to say when the Service was deleted
    (the page is then its last known state, with no action)."""
    service = service_from(obj)
    cache = cache or SummaryCache()
    ordered, changed = cache.ordered(obj, revisions, stamp)
    summary_of = summaries(ordered, cache)
    latest = history.with_summaries(changed[:HISTORY_ROWS], summary_of)
    grouped = None if pods is None else inst.by_revision(pods)
    rows = revision_rows(service, ordered, shown, summary_of, grouped)
    candidates = explainable(service, ordered, rows, grouped)
    failures = [Failure(row, row.diagnosis, (evidence or {}).get(row.revision.name))
                for row in explained(service, candidates) if row.diagnosis is not None]
    # The newest revision, still deploying, whose instances say why it is not Ready yet: said at the top too.
    waiting = next((row for row in candidates if row.revision.name == service.latest_created
                    and row.waiting is not None and row.diagnosis is None), None)
    rollout = rollout_progress(service, [row.revision for row in rows])
    above = {f.row.revision.name for f in failures} | ({waiting.revision.name} if waiting else set())
    rows = [replace(row, above=True) if row.revision.name in above else row for row in rows]
    return DetailPage(namespace, service, rows, len(revisions), gateway, gateway.curl(service.default_domain),
                      shown, latest, rollout=rollout, failures=failures, waiting=waiting, pods_known=pods is not None,
                      allowed=allowed, gone=gone,
                      deleted=deleted_entries(service, {_name_of(obj) for obj in revisions}))


async def read_evidence(client: Any, user: str, namespace: str, obj: dict[str, Any], revisions: list[dict[str, Any]],
                        pods: list[dict[str, Any]] | None) -> dict[str, Evidence]:
    """Events and last log lines for the failed revisions the page explains (few; usually none)."""
    service = service_from(obj)
    grouped = {} if pods is None else inst.by_revision(pods)
    # Only the revisions `explained` may pick (the newest, those the traffic names): not a row for every one shown.
    named = {t.revision_name for t in service.spec_traffic} | {service.latest_created}
    candidates = newest_first_raw([r for r in revisions if (r.get("metadata") or {}).get("name") in named])
    rows = explained(service, revision_rows(service, candidates, "all", _no_summary, grouped))
    found = await asyncio.gather(*(gather_evidence(client, user, namespace, row.revision.name,
                                                   [inst.instance_from(p) for p in grouped.get(row.revision.name, [])])
                                   for row in rows))
    return {e.revision: e for e in found}


def _no_summary(name: str) -> str:
    return ""


def complete(obj: dict[str, Any], revisions: list[dict[str, Any]]) -> bool:
    """Whether `revisions` has every revision the Service names (its latest, and those its traffic names): a cache
    that lags behind a write that just made one is not used for the page that write leads to."""
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    named = {status.get("latestCreatedRevisionName"), status.get("latestReadyRevisionName")}
    named |= {t.get("revisionName") for t in [*(spec.get("traffic") or []), *(status.get("traffic") or [])]
              if isinstance(t, dict)}
    return not (named - {None, ""}) - {(r.get("metadata") or {}).get("name") for r in revisions}


async def read_stamped(request: Request, namespace: str, name: str) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                                             Stamp | None]:
    """The Service, and its revisions from the namespace's watch-fed cache when it has them all (with the cache's
    stamp for them), else listed (stamp None)."""
    who, client = identity(request)
    informer = request.app.state.live.informers.get(who, client, namespace, r.REVISION, LABEL_SERVICE)
    cached, stamp = informer.labelled(name), informer.stamp(name)
    if cached is not None:
        obj = await client.get(r.SERVICE, name, namespace)
        if complete(obj, cached):
            return obj, cached, stamp
    obj, listed = await lookups(request).service_objects(namespace, name)
    return obj, listed, None


async def read_revisions(request: Request, namespace: str, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Service, and its revisions from the namespace's watch-fed cache when it has them all, else listed."""
    obj, revisions, _ = await read_stamped(request, namespace, name)
    return obj, revisions


async def read_pods(request: Request, namespace: str, name: str) -> tuple[list[dict[str, Any]] | None, Stamp | None]:
    """The Service's pods from the namespace's watch-fed cache of pods when it can be trusted (with its stamp), else
    listed (stamp None); None when this identity may not list pods. Pods come and go with scaling: a cache saves the
    page listing (and decoding) every one of them each time it is opened."""
    who, client = identity(request)
    informer = request.app.state.live.informers.get(who, client, namespace, r.POD, LABEL_SERVICE)
    cached, stamp = informer.labelled(name), informer.stamp(name)
    return (cached, stamp) if cached is not None else (await service_pods(client, namespace, name), None)


class PageCache:
    """Details pages as rendered, per identity, Service and table mode, each with the key of everything it was made
    from: the Service's version, the stamps of the watch-fed caches its revisions and pods came from, the gateway and
    what the user may do. A page opened again with nothing changed is not built or rendered again, whatever the
    number of revisions; any change to one of them makes a new key, and a hard reload makes it anew. Pages that
    explain a failure (their Events and logs are read for each view) and pages whose revisions or pods were listed
    are not kept."""

    def __init__(self, capacity: int = PAGES_KEPT) -> None:
        self.capacity = capacity
        self.pages: OrderedDict[tuple[str, ...], tuple[tuple[Any, ...], DetailPage]] = OrderedDict()

    def get(self, where: tuple[str, ...], key: tuple[Any, ...] | None) -> DetailPage | None:
        found = self.pages.get(where)
        if key is None or found is None or found[0] != key:
            return None
        self.pages.move_to_end(where)
        return found[1]

    def put(self, where: tuple[str, ...], key: tuple[Any, ...] | None, page: DetailPage) -> None:
        if key is None or page.failures:
            self.pages.pop(where, None)
            return
        self.pages[where] = (key, page)
        self.pages.move_to_end(where)
        while len(self.pages) > self.capacity:
            self.pages.popitem(last=False)


def page_key(obj: dict[str, Any], revisions: Stamp | None, pods: Stamp | None, gateway: Gateway,
             may: Allowed) -> tuple[Any, ...] | None:
    """What a details page is made from, or None when part of it came from a LIST (nothing to know it by)."""
    uid, version = _version(obj)
    if revisions is None or pods is None or not version:
        return None
    return uid, version, revisions, pods, gateway, may


async def read_page(request: Request, namespace: str, name: str, shown: str) -> DetailPage:
    """The page, rendered: kept from the last time it was made when nothing it is made from has changed."""
    who, client = identity(request)
    (obj, revisions, stamp), gateway, (pods, pods_stamp), may = await asyncio.gather(
        read_stamped(request, namespace, name), lookups(request).gateway(), read_pods(request, namespace, name),
        allowed(request, namespace))
    kept: PageCache = request.app.state.pages
    where, key = (who, namespace, name, shown), page_key(obj, stamp, pods_stamp, gateway, may)
    page = None if reloaded(request) else kept.get(where, key)
    if page is not None:
        return page
    evidence = await read_evidence(client, acting(request).name, namespace, obj, revisions, pods)
    page = detail_page(namespace, obj, revisions, gateway, shown, request.app.state.summaries, pods, evidence, may,
                       stamp)
    state = request.app.state
    render_page(state.templates, state.settings, state.rows, page)
    kept.put(where, key, page)
    return page


@router.get("/namespaces/{namespace}/services/{name}")
async def service_details(request: Request, namespace: str, name: str, partial: str = "", revisions: str = "",
                          format: str = "", everything: str = "", download: str = "") -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    if yaml_views.requested(format) == "yaml":
        obj = await cluster(request).get(r.SERVICE, name, namespace)
        place = yaml_views.Place(namespace, name, "", service_url(namespace, name))
        return yaml_views.respond(request, obj, place, everything, download)
    page = await read_page(request, namespace, name, shown_mode(revisions))
    return render(request, "_service_live.html" if partial == "live" else "service.html", page)
