"""The live streams of the pages: `/live` + a page's path answers `text/event-stream` with that page's regions as
they change (htmx's SSE extension swaps each into the element whose `sse-swap` names it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import NotFound
from app.knative.gateway import Gateway
from app.knative.instances import LABEL_REVISION
from app.knative.models import FAILED, LABEL_SERVICE, revision_from
from app.web import details, services
from app.web.context import acting, checked, identity, lookups
from app.web.evidence import Evidence, service_pods
from app.web.hub import Change
from app.web.live import Live, Refused, View
from app.web.lookups import Lookups
from app.web.permissions import EVERYTHING, Allowed
from app.web.regions import Regions, parse_seen, render_regions
from app.web.security import COOKIE

router = APIRouter()
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # no proxy may hold events back


class PageView(View):
    """A View of one of the console's pages: reads through the app's lookups, renders with its templates."""

    def __init__(self, who: str, cluster: Cluster, request: Request, namespace: str) -> None:
        super().__init__(request.app.state.live, who, cluster, namespace)
        self.found: Lookups = lookups(request)
        self.principal = acting(request)
        self.permissions = request.app.state.permissions
        self.allowed: Allowed = EVERYTHING
        self.templates, self.settings, self.rows = request.app.state.templates, request.app.state.settings, \
            request.app.state.rows

    def use_request(self, request: Request) -> None:
        """Read with the client of the newest tab of this identity (a user's refreshed token, say)."""
        self.use(acting(request).cluster)
        self.found, self.principal = lookups(request), acting(request)


class ServicePage(PageView):
    """A Service's details page: the Service, its revisions and their pods."""

    resources = (r.SERVICE, r.REVISION, r.POD)

    def __init__(self, who: str, cluster: Cluster, request: Request, namespace: str, name: str,
                 show_all: bool) -> None:
        super().__init__(who, cluster, request, namespace)
        self.name, self.show_all = name, show_all
        self.obj: dict[str, Any] | None = None
        self.revisions: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, dict[str, Any]] | None = {}  # None: this identity may not list pods
        self.evidence: dict[str, Evidence] = {}
        self.gateway: Gateway | None = None

    async def load(self) -> None:
        (obj, revisions), self.gateway, pods, self.allowed = await asyncio.gather(
            self.found.service_objects(self.namespace, self.name), self.found.gateway(),
            service_pods(self.cluster, self.namespace, self.name),
            self.permissions.services(self.principal, self.namespace))
        self.obj, self.gone = obj, ""
        self.revisions = {str(i["metadata"]["name"]): i for i in revisions}
        self.pods = None if pods is None else {str(p["metadata"]["name"]): p for p in pods}
        self.evidence = await details.read_evidence(self.cluster, self.principal.name, self.namespace, obj, revisions,
                                                    pods)

    @property
    def problem(self) -> str:
        if self.pods is None:  # pods are not readable for this identity: their feed's refusal is no news
            health = {k: v for k, v in self.health.items() if k != r.POD}
            return self.gone or self.failure or next((p for p in health.values() if p), "")
        return super().problem

    def _failed(self) -> set[str]:
        return {name for name, obj in self.revisions.items() if revision_from(obj).status.label == FAILED}

    def gone_message(self, error: NotFound) -> str:
        return f"The Service {self.name} no longer exists: it was deleted."

    def apply(self, change: Change) -> str:
        if change.resource == r.SERVICE and change.name == self.name:
            if change.type == "DELETED":
                self.gone = f"The Service {self.name} was deleted."
            else:
                self.obj, self.gone = change.obj, ""
            return "changed"
        if change.resource == r.REVISION and change.labels.get(LABEL_SERVICE) == self.name:
            failed = self._failed()
            if change.type == "DELETED":
                self.revisions.pop(change.name, None)
            else:
                self.revisions[change.name] = change.obj
            # A revision that just failed: its events and last log lines are read for the page.
            return "reload" if self._failed() - failed else "changed"
        if change.resource == r.POD and change.labels.get(LABEL_SERVICE) == self.name and self.pods is not None:
            if change.type == "DELETED":
                self.pods.pop(change.name, None)
            else:
                self.pods[change.name] = change.obj
            # An instance of a failed revision restarted: its events and logs moved on.
            return "reload" if change.labels.get(LABEL_REVISION) in self._failed() else "changed"
        return ""

    def regions(self) -> Regions:
        if self.obj is None or self.gateway is None:
            return {}
        page = details.detail_page(self.namespace, self.obj, list(self.revisions.values()), self.gateway,
                                   self.show_all, None if self.pods is None else list(self.pods.values()),
                                   self.evidence, self.allowed)
        return render_regions(self.templates, details.REGIONS, page, self.settings)


class ServiceList(PageView):
    """One page of the Service list."""

    resources = (r.SERVICE,)

    def __init__(self, who: str, cluster: Cluster, request: Request, namespace: str, token: str, start: int) -> None:
        super().__init__(who, cluster, request, namespace)
        self.token, self.start = token, start
        self.page: services.ListPage | None = None
        self.listed: dict[str, Any] = {}

    async def load(self) -> None:
        listed, gateway, namespaces, self.allowed = await asyncio.gather(
            self.found.services(self.namespace, self.token), self.found.gateway(), self.found.namespaces(),
            self.permissions.services(self.principal, self.namespace))
        self.listed = listed
        self.page = services.list_page(self.namespace, listed, gateway, namespaces, self.start, self.token,
                                       self.allowed)

    def apply(self, change: Change) -> str:
        if change.resource != r.SERVICE or self.page is None:
            return ""
        items = self.listed.get("items") or []
        index = next((i for i, item in enumerate(items) if item["metadata"]["name"] == change.name), None)
        if change.type in ("ADDED", "DELETED"):
            return "reload"  # the page's members move
        if index is None:
            return ""
        items[index] = change.obj
        self.page = services.list_page(self.namespace, self.listed, self.page.gateway, self.page.namespaces,
                                       self.start, self.token, self.allowed)
        return "changed"

    def regions(self) -> Regions:
        if self.page is None:
            return {}
        return services.render_list(self.templates, self.settings, self.rows, self.page)


async def _open(request: Request, key: tuple[Any, ...], make: Callable[[str, Cluster], View], seen: str) -> Response:
    live: Live = request.app.state.live
    who, client = identity(request)
    try:
        stream = await live.attach(who, key, lambda: make(who, client), request.cookies.get(COOKIE, "")[:64])
        if stream.view.cluster is not client and isinstance(stream.view, PageView):
            stream.view.use_request(request)
    except Refused as why:
        return Response(live.refusal(str(why)), media_type="text/event-stream", headers=HEADERS)
    return StreamingResponse(live.events(stream, parse_seen(seen), request.headers.get("last-event-id", "")[:64]),
                             media_type="text/event-stream", headers=HEADERS)


@router.get("/live/namespaces/{namespace}/services/{name}")
async def service_stream(request: Request, namespace: str, name: str, revisions: str = "",
                         seen: str = Query("", max_length=2048)) -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    show_all = revisions == "all"
    return await _open(request, ("service", namespace, name, show_all),
                       lambda who, client: ServicePage(who, client, request, namespace, name, show_all), seen)


@router.get("/live/namespaces/{namespace}/services")
async def list_stream(request: Request, namespace: str, start: int = Query(0, ge=0, le=10**9),
                      token: str = Query("", alias="continue", max_length=4096),
                      seen: str = Query("", max_length=2048)) -> Response:
    checked("namespace", namespace)
    start = start if token else 0
    return await _open(request, ("services", namespace, token, start),
                       lambda who, client: ServiceList(who, client, request, namespace, token, start), seen)
