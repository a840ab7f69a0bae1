"""Service details: basic information, conditions, tag URLs and the revision table, refreshed while unsettled."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.knative.gateway import Gateway
from app.knative.models import RevisionView, ServiceView
from app.web.context import checked, lookups
from app.web.render import render

router = APIRouter()


@dataclass(frozen=True)
class RevisionRow:
    revision: RevisionView
    percent: int
    tags: tuple[str, ...]
    latest: bool


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
    rows = [RevisionRow(r, service.percent_of(r.name), service.tags_of(r.name), r.name == service.latest_created)
            for r in revisions]
    settled = service.status.settled and all(r.status.settled for r in revisions)
    return DetailPage(namespace, service, rows, gateway, gateway.curl(service.default_domain), poll=not settled)


@router.get("/namespaces/{namespace}/services/{name}")
async def service_details(request: Request, namespace: str, name: str, partial: str = "") -> Response:
    page = await detail_page(request, checked("namespace", namespace), checked("Service", name))
    return render(request, "_service_live.html" if partial == "live" else "service.html", page)
