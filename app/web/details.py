"""Service details: basic information, conditions, the traffic entries and the revision table, each a named region
that the live stream replaces when it changes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.cluster import resources as r
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
from app.web.context import allowed, checked, identity, lookups
from app.web.permissions import EVERYTHING, Allowed
from app.web.regions import Region, Regions, render_regions, stream_url
from app.web.render import render

router = APIRouter()
NEWEST_ROWS = 20  # beside every revision with traffic or a tag, the table shows this many of the newest
# The regions of the details page, in page order. Later work adds its own (rollout progress, instances, history).
REGIONS = (
    Region("status", "_service_status.html"),
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
            return f"Failed: {status.reason or 'not Ready'}" + (f" ({status.message})" if status.message else "")
        if status.label != SUCCESS:
            return "Deploying: can take traffic once Ready"
        if self.percent == 100:
            return "Serving 100%"
        return ""


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


def revision_rows(service: ServiceView, revisions: list[dict[str, Any]], show_all: bool) -> list[RevisionRow]:
    """The revision table: newest first, each revision with traffic or a tag, and the newest NEWEST_ROWS; only the
    rows shown are parsed."""
    serving = {t.revision_name for t in service.traffic}
    shown = [obj for index, obj in enumerate(newest_first_raw(revisions))
             if show_all or index < NEWEST_ROWS or (obj.get("metadata") or {}).get("name") in serving]
    return [RevisionRow(revision, service.pinned_to(revision.name), service.floating_to(revision.name),
                        revision.name == service.latest_created)
            for revision in map(revision_from, shown)]


def detail_page(namespace: str, obj: dict[str, Any], revisions: list[dict[str, Any]], gateway: Gateway,
                show_all: bool = False, allowed: Allowed = EVERYTHING) -> DetailPage:
    """The page for a Service and its revisions as the API gives them."""
    service = service_from(obj)
    return DetailPage(namespace, service, revision_rows(service, revisions, show_all), len(revisions), gateway,
                      gateway.curl(service.default_domain), show_all, allowed=allowed)


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
    (obj, revisions), gateway, may = await asyncio.gather(read_revisions(request, namespace, name),
                                                          lookups(request).gateway(), allowed(request, namespace))
    return detail_page(namespace, obj, revisions, gateway, show_all, may)


@router.get("/namespaces/{namespace}/services/{name}")
async def service_details(request: Request, namespace: str, name: str, partial: str = "",
                          revisions: str = "") -> Response:
    page = await read_page(request, checked("namespace", namespace), checked("Service", name), revisions == "all")
    page.regions = render_regions(request.app.state.templates, REGIONS, page, request.app.state.settings)
    return render(request, "_service_live.html" if partial == "live" else "service.html", page)
