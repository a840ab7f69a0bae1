"""Service details: basic information, a gradual rollout's progress, what went wrong with a failed revision (and what to
do), conditions, the traffic entries and the revision table with each revision's instances, each a named region that
the live stream replaces when it changes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.cluster import resources as r
from app.knative import instances as inst
from app.knative.diagnosis import Diagnosis, diagnose
from app.knative.gateway import Gateway
from app.knative.models import (
    FAILED,
    LABEL_SERVICE,
    SUCCESS,
    RevisionView,
    ServiceView,
    TrafficTarget,
    newest_first_raw,
    revision_from,
    service_from,
)
from app.knative.rollout import RolloutProgress, rollout_progress
from app.web.context import acting, allowed, checked, identity, lookups
from app.web.evidence import Evidence, gather_evidence, service_pods
from app.web.permissions import EVERYTHING, Allowed
from app.web.regions import Region, Regions, render_regions, stream_url
from app.web.render import render

router = APIRouter()
NEWEST_ROWS = 20  # beside every revision with traffic or a tag, the table shows this many of the newest
EXPLAINED = 3  # failed revisions explained at most on the page (the newest first)
# The regions of the details page, in page order. Later work adds its own (history).
REGIONS = (
    Region("status", "_service_status.html"),
    Region("rollout", "_service_rollout.html"),
    Region("failures", "_service_failures.html"),
    Region("conditions", "_service_conditions.html"),
    Region("traffic", "_service_traffic.html"),
    Region("revisions", "_service_revisions.html"),
)


@dataclass(frozen=True)
class RevisionRow:
    revision: RevisionView
    pinned: tuple[TrafficTarget, ...]  # entries that name this revision
    floating: tuple[TrafficTarget, ...]  # floating entries that resolve to it now
    newest: bool
    instances: inst.Instances = inst.Instances("", inst.NONE)
    diagnosis: Diagnosis | None = None

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
    show_all: bool = False
    regions: Regions = field(default_factory=dict)  # rendered, for the page and the stream
    rollout: RolloutProgress | None = None
    failures: list[Failure] = field(default_factory=list)
    pods_known: bool = True  # False: this identity may not list pods; instances come from the revisions' status
    allowed: Allowed = EVERYTHING  # what the user may do to this Service (the actions offered)

    @property
    def newest_rows(self) -> int:
        return NEWEST_ROWS

    @property
    def hidden(self) -> int:
        return self.total - len(self.rows)

    @property
    def live_url(self) -> str:
        path = f"/namespaces/{self.namespace}/services/{self.service.name}"
        return stream_url(path, self.regions, {"revisions": "all"} if self.show_all else {})


def revision_rows(service: ServiceView, revisions: list[dict[str, Any]], show_all: bool,
                  pods: dict[str, list[inst.Instance]] | None = None) -> list[RevisionRow]:
    """The revision table: newest first, each revision with traffic or a tag, and the newest NEWEST_ROWS; only the
    rows shown are parsed. `pods` by revision, None when unknown (the instances then come from the status)."""
    serving = {t.revision_name for t in service.traffic}
    shown = [obj for index, obj in enumerate(newest_first_raw(revisions))
             if show_all or index < NEWEST_ROWS or (obj.get("metadata") or {}).get("name") in serving]
    rows = []
    for revision in map(revision_from, shown):
        mine = None if pods is None else pods.get(revision.name, [])
        rows.append(RevisionRow(revision, service.pinned_to(revision.name), service.floating_to(revision.name),
                                revision.name == service.latest_created, inst.describe(revision, mine),
                                diagnose(revision, mine or ())))
    return rows


def explained(service: ServiceView, rows: list[RevisionRow]) -> list[RevisionRow]:
    """The failed revisions the page explains: the newest, and any the Service's traffic names."""
    named = {t.revision_name for t in service.spec_traffic}
    chosen = [row for row in rows if row.diagnosis is not None and
              (row.revision.name == service.latest_created or row.revision.name in named)]
    return chosen[:EXPLAINED]


def detail_page(namespace: str, obj: dict[str, Any], revisions: list[dict[str, Any]], gateway: Gateway,
                show_all: bool = False, pods: list[dict[str, Any]] | None = None,
                evidence: dict[str, Evidence] | None = None, allowed: Allowed = EVERYTHING) -> DetailPage:
    """The page for a Service, its revisions and their pods as the API gives them (pods None: not readable)."""
    service = service_from(obj)
    rows = revision_rows(service, revisions, show_all, None if pods is None else inst.by_revision(pods))
    failures = [Failure(row, row.diagnosis, (evidence or {}).get(row.revision.name))
                for row in explained(service, rows) if row.diagnosis is not None]
    return DetailPage(namespace, service, rows, len(revisions), gateway, gateway.curl(service.default_domain),
                      show_all, rollout=rollout_progress(service), failures=failures, pods_known=pods is not None,
                      allowed=allowed)


async def read_evidence(client: Any, user: str, namespace: str, obj: dict[str, Any], revisions: list[dict[str, Any]],
                        pods: list[dict[str, Any]] | None) -> dict[str, Evidence]:
    """Events and last log lines for the failed revisions the page explains (few; usually none)."""
    service = service_from(obj)
    grouped = {} if pods is None else inst.by_revision(pods)
    rows = explained(service, revision_rows(service, revisions, False, grouped))
    found = await asyncio.gather(*(gather_evidence(client, user, namespace, row.revision.name,
                                                   grouped.get(row.revision.name, [])) for row in rows))
    return {e.revision: e for e in found}


def complete(obj: dict[str, Any], revisions: list[dict[str, Any]]) -> bool:
    """Whether `revisions` has every revision the Service names (its latest, and those its traffic names): a cache
    that lags behind a write that just made one is not used for the page that write leads to."""
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    named = {status.get("latestCreatedRevisionName"), status.get("latestReadyRevisionName")}
    named |= {t.get("revisionName") for t in [*(spec.get("traffic") or []), *(status.get("traffic") or [])]
              if isinstance(t, dict)}
    return not (named - {None, ""}) - {(r.get("metadata") or {}).get("name") for r in revisions}


async def read_revisions(request: Request, namespace: str, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Service, and its revisions from the namespace's watch-fed cache when it has them all, else listed."""
    who, client = identity(request)
    informer = request.app.state.live.informers.get(who, client, namespace, r.REVISION, LABEL_SERVICE)
    cached = informer.labelled(name)
    if cached is not None:
        obj = await client.get(r.SERVICE, name, namespace)
        if complete(obj, cached):
            return obj, cached
    return await lookups(request).service_objects(namespace, name)


async def read_page(request: Request, namespace: str, name: str, show_all: bool) -> DetailPage:
    _, client = identity(request)
    (obj, revisions), gateway, pods, may = await asyncio.gather(read_revisions(request, namespace, name),
                                                                lookups(request).gateway(),
                                                                service_pods(client, namespace, name),
                                                                allowed(request, namespace))
    evidence = await read_evidence(client, acting(request).name, namespace, obj, revisions, pods)
    return detail_page(namespace, obj, revisions, gateway, show_all, pods, evidence, may)


@router.get("/namespaces/{namespace}/services/{name}")
async def service_details(request: Request, namespace: str, name: str, partial: str = "",
                          revisions: str = "") -> Response:
    page = await read_page(request, checked("namespace", namespace), checked("Service", name), revisions == "all")
    page.regions = render_regions(request.app.state.templates, REGIONS, page, request.app.state.settings)
    return render(request, "_service_live.html" if partial == "live" else "service.html", page)
