"""Service Management: the list of Services of a namespace (or of all namespaces), 50 to a page, with a filter
(name, image, label) and sortable columns.

A namespace's list is read from the namespace's watch-fed cache of Services (app.web.informer, one per user and
namespace, made with the user's own credentials) whenever that cache vouches for it: it is connected, listed, and
has taken in this browser's own latest writes there (app.web.written). Otherwise (the first visit, a watch that
dropped, a write it has not seen yet, `Cache-Control: no-cache` as a browser's hard reload sends) the page lists
as before. Either way the page is the same, so its links count Services (`start`) rather than carry the API's
continue tokens, which a cached page could not give; a token in a link from before is still followed. The list of
all namespaces is always read from the API, a page at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import ClusterError, Forbidden
from app.knative import finding
from app.knative.gateway import Gateway
from app.knative.models import ServiceView, service_from
from app.settings import Settings
from app.web import written
from app.web.context import allowed, checked, cluster, identity, lookups, reloaded, services_url
from app.web.informer import Informer, Informers
from app.web.lookups import Lookups
from app.web.permissions import EVERYTHING, Allowed
from app.web.regions import Region, Regions, render_regions, stream_url
from app.web.render import render
from app.web.routing import CheckedRoute
from app.web.rows import RowCache, cut, render_rows

router = APIRouter(route_class=CheckedRoute)
ALL = "*"  # the namespace selector's choice for every namespace

# The regions of the list page: the table with its pager (the filter box stays outside, so that a live update
# never takes what is being typed).
REGIONS = (Region("services", "_services_rows.html"),)
SHOWN_CHARS = 4096  # the rows a list page names in its live stream's URL (`ListPage.shown`), at most
DELETED_ROWS = "_service_deleted_rows.html"


def list_url(namespace: str) -> str:
    """A namespace's list, or ("") the list of all namespaces."""
    return services_url(namespace) if namespace else "/services"


@dataclass(frozen=True)
class ListQuery:
    """What the user asked to see: the filter as typed, and the order."""

    text: str = ""
    found: finding.Filter = field(default_factory=finding.Filter)
    order: finding.Sort = field(default_factory=finding.Sort)
    problem: str = ""  # why the filter cannot be applied

    @property
    def complete(self) -> bool:
        """Whether the list must be read whole (to filter or sort it) rather than a page at a time."""
        return not self.found.empty or self.order != finding.Sort() or bool(self.problem)

    @property
    def params(self) -> dict[str, str]:
        return ({"filter": self.text} if self.text else {}) | \
            ({"sort": self.order.text} if self.order != finding.Sort() else {})


def list_query(text: str, order: str) -> ListQuery:
    try:
        return ListQuery(text, finding.parse_filter(text), finding.parse_sort(order))
    except finding.FilterError as error:
        return ListQuery(text, finding.Filter(), finding.parse_sort(order), str(error))


@dataclass(frozen=True)
class DeletedService:
    """A Service the page showed that was deleted while it was open (app.web.streams keeps them): its row stays,
    marked Deleted, rather than vanishing unseen."""

    obj: dict[str, Any]  # as it was last seen
    at: str  # when the console saw it go (RFC 3339, UTC)


@dataclass
class ListPage:
    namespace: str  # "" for all namespaces
    namespaces: list[str] | None
    items: list[dict[str, Any]]  # the Services of this page, as the API lists them
    gateway: Gateway
    start: int = 0  # how many Services come before this page
    total: int = 0
    next_token: str = ""  # the API's continue token for the next page
    token: str = ""  # the token this page was listed with
    query: ListQuery = field(default_factory=ListQuery)
    problem: str = ""  # why nothing can be listed (a filter that cannot be applied, a list not allowed)
    page_size: int = 50
    regions: Regions = field(default_factory=dict)  # rendered, for the page and the stream
    row_html: list[Markup] = field(default_factory=list)  # each item's row, rendered (app.web.rows)
    allowed: Allowed = EVERYTHING  # what the user may do here (Create Service, Delete); everywhere, for all namespaces
    delete_in: dict[str, str] = field(default_factory=dict)  # all namespaces: why not Delete in each row's namespace
    deleted: list[DeletedService] = field(default_factory=list)  # its live stream's only: Services deleted meanwhile

    def no_delete(self, namespace: str) -> str:
        """Why the user may not delete a Service of `namespace` ("" when they may)."""
        return self.delete_in.get(namespace, self.allowed.delete)

    @property
    def rows(self) -> Markup:
        """The rows as one piece of HTML, laid out as a template loop over them would lay them out."""
        # Markup: each row is a whole <tr> that the autoescaped rows template wrote (app.web.rows); str.join does
        # not escape them again, as a template loop (or Markup's own join) would, row by row.
        return Markup("".join(["\n    " + str(html) + "\n  " for html in self.row_html]))  # noqa: S704

    @property
    def order(self) -> finding.Sort:
        """The order the rows are in: as asked when the list is read whole, else the API's."""
        if self.query.complete:
            return self.query.order
        return finding.Sort("namespace" if self.all_namespaces else "name")

    @property
    def all_namespaces(self) -> bool:
        return not self.namespace

    @property
    def url(self) -> str:
        return list_url(self.namespace)

    @property
    def offsets(self) -> bool:
        """Whether its links count Services (`start`) rather than carry the API's continue tokens: a namespace's
        list (read from the cache or listed) and a filtered or sorted one (read whole)."""
        return not self.all_namespaces or self.query.complete

    @property
    def place(self) -> dict[str, str]:
        """This page's place in the list, for links that must come back to it (its live stream)."""
        if self.offsets:
            return self.query.params | ({"start": str(self.start)} if self.start else {})
        return {"continue": self.token, "start": str(self.start)} if self.token else {}

    @property
    def next_query(self) -> str:
        if self.offsets:
            return urlencode(self.query.params | {"start": self.start + len(self.items)})
        return urlencode({"continue": self.next_token, "start": self.start + len(self.items)})

    @property
    def has_next(self) -> bool:
        if self.offsets:
            return self.start + len(self.items) < self.total
        return bool(self.next_token)

    @property
    def first_query(self) -> str:
        return urlencode(self.query.params)

    def sort_link(self, key: str) -> str:
        """A column heading's link: sorted by that column (the other way round if it already is)."""
        order = self.query.order.toggled(key)
        params = ({"filter": self.query.text} if self.query.text else {}) | \
            ({"sort": order.text} if order != finding.Sort() else {})
        return self.url + (f"?{urlencode(params)}" if params else "")

    def sorted_by(self, key: str) -> str:
        """`ascending` / `descending` for the column the list is sorted by, "none" for the others (aria-sort)."""
        if self.query.order.key != key:
            return "none"
        return "descending" if self.query.order.descending else "ascending"

    @property
    def shown(self) -> str:
        """The rows of this page, for its live stream: a stream that comes back to a console started again (whose
        new live page never saw them) marks those whose Service went meanwhile. "name" (a namespace's page) or
        "namespace/name", comma-separated, as many as fit in SHOWN_CHARS."""
        text = ""
        for item in self.items:
            namespace, name = service_key(item)
            key = name if self.namespace else f"{namespace}/{name}"
            if len(text) + len(key) + 1 > SHOWN_CHARS:
                break
            text = f"{text},{key}" if text else key
        return text

    @property
    def live_url(self) -> str:
        return stream_url(self.url, self.regions, self.place, {"shown": self.shown} if self.items else {})


def list_page(
    namespace: str, listed: dict[str, Any], gateway: Gateway, namespaces: list[str] | None, start: int = 0,
    token: str = "", allowed: Allowed = EVERYTHING,
) -> ListPage:
    """The Service Management page for one page of the API's list (its rows are rendered by `render_list`)."""
    items = [i for i in listed.get("items") or [] if isinstance(i, dict)]
    metadata = listed.get("metadata") or {}
    remaining = metadata.get("remainingItemCount")
    next_token = str(metadata.get("continue") or "")
    total = start + len(items) + (remaining if isinstance(remaining, int) else (1 if next_token else 0))
    return ListPage(namespace, namespaces, items, gateway, start=start, total=total, next_token=next_token,
                    token=token, allowed=allowed)


def page_start(start: int, total: int, page_size: int) -> int:
    """`start`, or the last page's when it is past the end."""
    return min(start, max(total - 1, 0) // page_size * page_size) if total else 0


def found_page(namespace: str, items: list[dict[str, Any]], gateway: Gateway, namespaces: list[str] | None,
               query: ListQuery, start: int, page_size: int) -> ListPage:
    """One page of the Services that match the filter, in the order asked for (from the whole list)."""
    matching = [] if query.problem else finding.sort_services(
        [i for i in items if isinstance(i, dict) and finding.matches(query.found, i)], query.order)
    start = page_start(start, len(matching), page_size)
    return ListPage(namespace, namespaces, matching[start:start + page_size], gateway, start=start,
                    total=len(matching), query=query, problem=query.problem, page_size=page_size)


def render_list(templates: Jinja2Templates, settings: Settings, cache: RowCache, page: ListPage) -> Regions:
    """The list page's regions, its rows taken from the cache where their Service has not changed."""
    page.row_html = render_rows(templates, cache, page.namespace, page.gateway, page.items, page.no_delete)
    if page.deleted:
        page.row_html = with_deleted(templates, page)
    return render_regions(templates, REGIONS, page, settings)


def with_deleted(templates: Jinja2Templates, page: ListPage) -> list[Markup]:
    """The page's rows with a row for each Service deleted while it was open, where it stood in the page's order."""
    shown = {service_key(item) for item in page.items}
    deleted = [gone for gone in page.deleted if service_key(gone.obj) not in shown]  # created again since: listed again
    html = cut(templates, DELETED_ROWS, namespace=page.namespace,
               deleted=[DeletedRow(service_from(gone.obj), gone.at) for gone in deleted])
    key = finding.SORTS[page.order.key][1]
    rows = [(key(obj), row) for obj, row in zip(page.items, page.row_html, strict=True)]
    rows += [(key(gone.obj), row) for gone, row in zip(deleted, html, strict=True)]
    # A stable sort: the listed rows keep their order, each deleted one goes where it stood among them.
    return [row for _, row in sorted(rows, key=lambda pair: pair[0], reverse=page.order.descending)]


@dataclass(frozen=True)
class DeletedRow:
    service: ServiceView
    at: str


def service_key(obj: dict[str, Any]) -> tuple[str, str]:
    """A Service's (namespace, name), as the list knows its rows."""
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


@router.get("/")
async def home(request: Request) -> Response:
    namespace = request.app.state.settings.namespace or cluster(request).namespace
    return RedirectResponse(services_url(namespace), status_code=307)


@router.get("/namespace")
async def choose_namespace(request: Request, namespace: str = "") -> Response:
    """The namespace selector's target, so that it works without JavaScript."""
    if namespace.strip() == ALL:
        return RedirectResponse(list_url(""), status_code=303)
    return RedirectResponse(services_url(checked("namespace", namespace.strip())), status_code=303)


May = Callable[[str], Awaitable[Allowed]]  # what the user may do to Services in a namespace ("": everywhere)


async def permitted(page: ListPage, may: May) -> ListPage:
    """`page`, with why its rows' Delete is not offered in each namespace shown: for all namespaces, asked per
    namespace of the page's rows unless the user may delete everywhere."""
    if page.all_namespaces and page.allowed.delete:
        shown = sorted({str((item.get("metadata") or {}).get("namespace") or "") for item in page.items})
        answers = await asyncio.gather(*(may(namespace) for namespace in shown))
        page.delete_in = {namespace: answer.delete for namespace, answer in zip(shown, answers, strict=True)}
    return page


def cache_of(request: Request, namespace: str) -> Informer | None:
    """The namespace's watch-fed cache of Services for this request's user (started here if there is none)."""
    who, client = identity(request)
    return service_cache(request.app.state.live.informers, request.app.state.settings, who, client, namespace)


def service_cache(informers: Informers, settings: Settings, who: str, client: Cluster,
                  namespace: str) -> Informer | None:
    """The namespace's watch-fed cache of Services for this user (started here if there is none), or None for all
    namespaces, or when the caches of all users already hold `list_cache_services` Services (0: none is kept)."""
    limit = settings.list_cache_services
    if not namespace or limit <= 0:
        return None
    if informers.running(who, namespace, r.SERVICE) is None and informers.holding(r.SERVICE) >= limit:
        return None
    return informers.get(who, client, namespace, r.SERVICE)


def vouching(request: Request, namespace: str) -> Informer | None:
    """The cache, when it may answer this request now: fresh, caught up with this browser's own writes in the
    namespace, and not asked to be passed by (`Cache-Control: no-cache`, as a browser's hard reload sends)."""
    cache = cache_of(request, namespace)
    if cache is None or reloaded(request):
        return None
    writes = written.of(request)
    return cache if cache.vouches(writes.floor(namespace), writes.gone(namespace)) else None


async def read_complete(found: Lookups, may: May, namespace: str, query: ListQuery, start: int,
                        page_size: int, cached: list[dict[str, Any]] | None = None,
                        ) -> tuple[ListPage, list[dict[str, Any]]]:
    """The page asked for of the Services that match (read whole, to filter and sort: `cached` when the cache
    answers), and all that were read."""

    async def every() -> list[dict[str, Any]]:
        if cached is not None:
            return cached
        return await found.all_services(namespace, "" if query.problem else query.found.label_selector)

    try:
        items, gateway, namespaces, allows = await asyncio.gather(every(), found.gateway(), found.namespaces(),
                                                                  may(namespace))
    except Forbidden as error:
        if namespace:
            raise
        gateway, namespaces = await asyncio.gather(found.gateway(), found.namespaces())
        return ListPage(namespace, namespaces, [], gateway, query=query, problem=not_allowed(error)), []
    page = found_page(namespace, items, gateway, namespaces, query, start, page_size)
    page.allowed = allows
    return await permitted(page, may), items


async def read_paged(found: Lookups, may: May, namespace: str, start: int, token: str) -> ListPage:
    """One page of the API's list, as it orders it (by name; by namespace and name for all namespaces)."""
    try:
        listed, gateway, namespaces, allows = await asyncio.gather(
            found.services(namespace, token), found.gateway(), found.namespaces(), may(namespace))
    except Forbidden as error:
        if namespace:
            raise
        gateway, namespaces = await asyncio.gather(found.gateway(), found.namespaces())
        return ListPage(namespace, namespaces, [], gateway, problem=not_allowed(error))
    if namespace and not listed.get("items") and not token:
        await found.require_namespace(namespace)
    return await permitted(list_page(namespace, listed, gateway, namespaces, start if token else 0, token, allows), may)


async def read_counted(found: Lookups, may: May, namespace: str, start: int, page_size: int,
                       cached: Informer | None = None) -> ListPage:
    """The page from the `start`th Service of a namespace, in the API's order: from the cache when it answers (read
    at once, before anything is awaited), else from the API's list, read as far as that page's end."""
    if cached is not None:
        total = len(cached.names)
        start = page_start(start, total, page_size)
        items = cached.window(start, page_size)
        gateway, namespaces, allows = await asyncio.gather(found.gateway(), found.namespaces(), may(namespace))
    else:
        (first, total), gateway, namespaces, allows = await asyncio.gather(
            found.first_services(namespace, start + page_size), found.gateway(), found.namespaces(), may(namespace))
        start = page_start(start, total, page_size)
        items = first[start:start + page_size]
    if not total:
        await found.require_namespace(namespace)
    return ListPage(namespace, namespaces, items, gateway, start=start, total=total, page_size=page_size,
                    allowed=allows)


async def read_list(request: Request, namespace: str, query: ListQuery, start: int, token: str) -> ListPage | Response:
    """The page of the list asked for; a redirect when a page token has expired."""
    found = lookups(request)
    page_size = request.app.state.settings.page_size

    async def may(where: str) -> Allowed:
        return await allowed(request, where)

    cached = vouching(request, namespace)
    if query.complete:
        everything = cached.everything() if cached is not None else None
        return (await read_complete(found, may, namespace, query, start, page_size, everything))[0]
    if namespace and not token:
        return await read_counted(found, may, namespace, start, page_size, cached)
    try:
        return await read_paged(found, may, namespace, start, token)
    except ClusterError as error:
        if not token or error.code not in (400, 410):
            raise
        # The list changed too much since the first page was shown: start again from the top.
        return RedirectResponse(list_url(namespace), status_code=303)


def not_allowed(error: Forbidden) -> str:
    return ("These credentials may not list Services in all namespaces; choose a namespace above. "
            f"({error.message})")


async def _list(request: Request, namespace: str, partial: str, start: int, token: str, text: str,
                order: str) -> Response:
    page = await read_list(request, namespace, list_query(text, order), start, token)
    if isinstance(page, Response):
        return page
    state = request.app.state
    page.regions = render_list(state.templates, state.settings, state.rows, page)
    status = 403 if page.problem and not page.query.problem else 400 if page.problem else 200
    return render(request, "_services_rows.html" if partial == "rows" else "services.html", page, status=status)


@router.get("/namespaces/{namespace}/services")
async def service_list(
    request: Request, namespace: str, partial: str = "", start: int = Query(0, ge=0, le=10**9),
    token: str = Query("", alias="continue", max_length=4096), text: str = Query("", alias="filter", max_length=4096),
    sort: str = Query("", max_length=64),
) -> Response:
    return await _list(request, checked("namespace", namespace), partial, start, token, text, sort)


@router.get("/services")
async def all_services(
    request: Request, partial: str = "", start: int = Query(0, ge=0, le=10**9),
    token: str = Query("", alias="continue", max_length=4096), text: str = Query("", alias="filter", max_length=4096),
    sort: str = Query("", max_length=64),
) -> Response:
    """The Services of every namespace, with a Namespace column (for credentials that may list them all)."""
    return await _list(request, "", partial, start, token, text, sort)
