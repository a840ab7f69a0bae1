"""Service details: basic information, conditions, the traffic entries, and the revision table, refreshed while
unsettled."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.knative.gateway import Gateway
from app.knative.models import FAILED, SUCCESS, RevisionView, ServiceView, TrafficTarget
from app.web.context import checked, lookups
from app.web.render import render

router = APIRouter()


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
    rows: list[RevisionRow]
    gateway: Gateway
    curl: str
    poll: bool


async def detail_page(request: Request, namespace: str, name: str) -> DetailPage:
    found = lookups(request)
    (_, service, revisions), gateway = await asyncio.gather(found.service(namespace, name), found.gateway())
    rows = [RevisionRow(r, service.pinned_to(r.name), service.floating_to(r.name), r.name == service.latest_created)
            for r in revisions]
    settled = service.status.settled and all(r.status.settled for r in revisions)
    return DetailPage(namespace, service, rows, gateway, gateway.curl(service.default_domain), poll=not settled)


@router.get("/namespaces/{namespace}/services/{name}")
async def service_details(request: Request, namespace: str, name: str, partial: str = "") -> Response:
    page = await detail_page(request, checked("namespace", namespace), checked("Service", name))
    return render(request, "_service_live.html" if partial == "live" else "service.html", page)
