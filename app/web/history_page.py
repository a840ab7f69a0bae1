"""A Service's history, newest first: the changes the console made (with Restore this split), the changes made
outside it, and the cluster's Events about the Service, its Configuration and its Route (app.knative.history)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import Forbidden
from app.knative import history
from app.knative.models import ServiceView, newest_first_raw, service_from
from app.web import in_force
from app.web.context import acting, allowed, checked, service_url
from app.web.details import SummaryCache, read_revisions, summaries
from app.web.permissions import EVERYTHING, Allowed, refusal
from app.web.regions import Region, Regions, render_regions, stream_url
from app.web.render import render
from app.web.routing import CheckedRoute

router = APIRouter(route_class=CheckedRoute)
SHOWN = 100  # items on the page; "Show all" for the rest
REGIONS = (Region("history", "_history_items.html"), in_force.REGION)  # split: for an open Restore dialog


@dataclass
class HistoryPage:
    namespace: str
    service: ServiceView
    items: list[history.Item]
    total: int
    current: list[dict[str, Any]]  # spec.traffic now, normalized: the split that needs no restoring
    show_all: bool = False
    events_problem: str = ""
    regions: Regions = field(default_factory=dict)
    allowed: Allowed = EVERYTHING  # what the user may do to this Service (Restore this split)
    gone: str = ""  # the Service was deleted under the open page: what to say; the page is its last known history

    @property
    def url(self) -> str:
        return f"{service_url(self.namespace, self.service.name)}/history"

    @property
    def limit(self) -> int:
        return history.LIMIT

    @property
    def live_url(self) -> str:
        return stream_url(self.url, self.regions, {"all": "1"} if self.show_all else {})


def history_page(namespace: str, obj: dict[str, Any], revisions: list[dict[str, Any]], events: list[dict[str, Any]],
                 show_all: bool = False, events_problem: str = "", cache: SummaryCache | None = None,
                 allowed: Allowed = EVERYTHING, gone: str = "") -> HistoryPage:
    ordered = newest_first_raw(revisions)
    items = history.timeline(obj, ordered, events)
    shown = items if show_all else items[:SHOWN]
    return HistoryPage(namespace, service_from(obj), history.with_summaries(shown, summaries(ordered, cache)),
                       len(items),
                       history.normalized((obj.get("spec") or {}).get("traffic")), show_all, events_problem,
                       allowed=allowed, gone=gone)


async def read_events(client: Cluster, namespace: str, name: str, who: str) -> tuple[list[dict[str, Any]], str]:
    """Events about the Service and the Configuration and Route Knative made for it (they share its name), read as
    the user `who`; or why they cannot be."""
    try:
        listed = await client.list(r.EVENT, namespace, field_selector=f"involvedObject.name={name}")
    except Forbidden:
        return [], f"{refusal(who, 'list', 'events', namespace)}. Only the console's own record and the revisions " \
                   "are shown."
    return [e for e in listed.get("items") or [] if (e.get("involvedObject") or {}).get("kind") in KINDS], ""


KINDS = ("Service", "Configuration", "Route")


def about(event: dict[str, Any], name: str) -> bool:
    involved = event.get("involvedObject") or {}
    return involved.get("name") == name and involved.get("kind") in KINDS


async def read_page(request: Request, namespace: str, name: str, show_all: bool) -> HistoryPage:
    who = acting(request)
    (obj, revisions), (events, problem), may = await asyncio.gather(
        read_revisions(request, namespace, name), read_events(who.cluster, namespace, name, who.name),
        allowed(request, namespace))
    return history_page(namespace, obj, revisions, events, show_all, problem, request.app.state.summaries, may)


@router.get("/namespaces/{namespace}/services/{name}/history")
async def service_history(request: Request, namespace: str, name: str, all: str = "", partial: str = "") -> Response:
    page = await read_page(request, checked("namespace", namespace), checked("Service", name), bool(all))
    page.regions = render_regions(request.app.state.templates, REGIONS, page, request.app.state.settings)
    return render(request, "_history_live.html" if partial == "live" else "history.html", page)
