"""The live streams of the pages: `/live` + a page's path answers `text/event-stream` with that page's regions as
they change (htmx's SSE extension swaps each into the element whose `sse-swap` names it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import ClusterError, NotFound, Unreachable
from app.cluster.versions import Version, comparable
from app.knative.gateway import Gateway
from app.knative.instances import LABEL_REVISION
from app.knative.models import FAILED, LABEL_SERVICE, revision_from
from app.web import details, history_page, revision_page, services
from app.web.context import acting, checked, identity, lookups, valid_name
from app.web.evidence import Evidence, InstanceLog, Listing, live_instances, revision_pods, service_pods, unlisted
from app.web.hub import Change, Resync
from app.web.informer import Informer
from app.web.live import Live, Refused, View
from app.web.lookups import Lookups
from app.web.permissions import EVERYTHING, Allowed, Permissions, plainly
from app.web.regions import Regions, parse_seen, render_regions
from app.web.routing import CheckedRoute
from app.web.security import COOKIE

router = APIRouter(route_class=CheckedRoute)
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # no proxy may hold events back
DELETED_KEPT = 50  # Services deleted under an open list that it keeps showing, marked (the oldest go first)
SHOWN_LENGTH = services.SHOWN_CHARS + 1024  # the rows a list page names (`ListPage.shown`), with room to spare
CATCH_UP = 1.0  # seconds a live list waits for its namespace's cache to take in a change before it lists instead


class PageView(View):
    """A View of one of the console's pages: reads through the app's lookups, renders with its templates."""

    def __init__(self, who: str, cluster: Cluster, request: Request, namespace: str) -> None:
        super().__init__(request.app.state.live, who, cluster, namespace)
        self.found: Lookups = lookups(request)
        self.principal = acting(request)
        state = request.app.state
        self.permissions: Permissions = state.permissions
        self.allowed: Allowed = EVERYTHING
        self.templates, self.settings, self.rows, self.summaries = state.templates, state.settings, state.rows, \
            state.summaries

    def refusal(self, error: ClusterError) -> str:
        return plainly(error, self.principal.name)

    async def may(self, namespace: str) -> Allowed:
        """What this view's user may do to Services in `namespace` (asked of the cluster, kept a short while)."""
        return await self.permissions.services(self.principal, namespace)

    def use_request(self, request: Request) -> None:
        """Read with the client of the newest tab of this identity (a user's refreshed token, say)."""
        self.use(acting(request).cluster)
        self.found, self.principal = lookups(request), acting(request)


class ServiceFamily(PageView):
    """A page about one Service: the Service and its revisions, and the Events the page shows (`about`)."""

    def __init__(self, who: str, cluster: Cluster, request: Request, namespace: str, name: str) -> None:
        super().__init__(who, cluster, request, namespace)
        self.name = name
        self.obj: dict[str, Any] | None = None
        self.revisions: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.events_problem = ""
        self.pods: dict[str, dict[str, Any]] | None = {}  # None: this identity may not list them
        self.kept: dict[str, dict[str, Any]] = {}  # the revisions when the Service was deleted: the page's last state

    @property
    def problem(self) -> str:
        # Pods or Events this identity may not read: the page says so where they would be, and their feed's
        # refusal is no news.
        said = ({r.POD} if self.pods is None else set()) | ({r.EVENT} if self.events_problem else set())
        health = {k: v for k, v in self.health.items() if k not in said}
        return self.gone or self.failure or next((p for p in health.values() if p), "")

    def loaded(self, obj: dict[str, Any], revisions: list[dict[str, Any]],
               events: list[dict[str, Any]] | None = None) -> None:
        self.obj, self.gone = obj, ""
        self.revisions = {str(i["metadata"]["name"]): i for i in revisions}
        self.events = {str(e["metadata"]["name"]): e for e in events or []}

    def gone_message(self, error: NotFound) -> str:
        return f"The Service {self.name} was deleted."

    def went(self, message: str) -> None:
        if not self.gone:  # its revisions go next (Kubernetes' garbage collector): the page keeps them as they were
            self.kept = dict(self.revisions)
        super().went(message)

    @property
    def last_revisions(self) -> list[dict[str, Any]]:
        """The revisions the page shows: as they are, or as they were when the Service was deleted."""
        return list((self.kept if self.gone else self.revisions).values())

    def about(self, event: dict[str, Any]) -> bool:
        """Whether the page shows this Event."""
        return False

    @staticmethod
    def _keep(objects: dict[str, dict[str, Any]], change: Change) -> None:
        if change.type == "DELETED":
            objects.pop(change.name, None)
        else:
            objects[change.name] = change.obj

    def apply(self, change: Change) -> str:
        if change.resource == r.SERVICE and change.name == self.name:
            if change.type == "DELETED":
                self.went(f"The Service {self.name} was deleted.")
            else:
                self.obj, self.gone = change.obj, ""
        elif change.resource == r.REVISION and change.labels.get(LABEL_SERVICE) == self.name:
            self._keep(self.revisions, change)
        elif change.resource == r.EVENT and self.about(change.obj):
            self._keep(self.events, change)
        else:
            return ""
        return "changed"


class ServicePage(ServiceFamily):
    """A Service's details page: the Service, its revisions and their pods."""

    resources = (r.SERVICE, r.REVISION, r.POD)

    def __init__(self, who: str, cluster: Cluster, request: Request, namespace: str, name: str,
                 shown: str) -> None:
        super().__init__(who, cluster, request, namespace, name)
        self.shown = shown
        self.gateway: Gateway | None = None
        self.evidence: dict[str, Evidence] = {}

    async def load(self) -> None:
        (obj, revisions), self.gateway, pods, self.allowed = await asyncio.gather(
            self.found.service_objects(self.namespace, self.name), self.found.gateway(),
            service_pods(self.cluster, self.namespace, self.name), self.may(self.namespace))
        self.loaded(obj, revisions)
        self.pods = None if pods is None else {str(p["metadata"]["name"]): p for p in pods}
        self.evidence = await details.read_evidence(self.cluster, self.principal.name, self.namespace, obj, revisions,
                                                    pods)

    def _failed(self) -> set[str]:
        return {name for name, obj in self.revisions.items() if revision_from(obj).status.label == FAILED}

    def apply(self, change: Change) -> str:
        if change.resource == r.REVISION and change.labels.get(LABEL_SERVICE) == self.name:
            failed = self._failed()
            self._keep(self.revisions, change)
            # A revision that just failed: its events and last log lines are read for the page.
            return "reload" if self._failed() - failed else "changed"
        if change.resource == r.POD:
            if change.labels.get(LABEL_SERVICE) != self.name or self.pods is None:
                return ""
            self._keep(self.pods, change)
            # An instance of a failed revision restarted: its events and logs moved on.
            return "reload" if change.labels.get(LABEL_REVISION) in self._failed() else "changed"
        return super().apply(change)

    def regions(self) -> Regions:
        if self.obj is None or self.gateway is None:
            return {}
        page = details.detail_page(self.namespace, self.obj, self.last_revisions, self.gateway,
                                   self.shown, self.summaries, None if self.pods is None else list(self.pods.values()),
                                   self.evidence, self.allowed, gone=self.gone)
        return details.render_page(self.templates, self.settings, self.rows, page).regions


class RevisionLive(ServiceFamily):
    """A revision's page: the Service, its revisions, the revision's Events and its Pods (the last log lines are read
    again when an instance shown starts, becomes ready, restarts or goes)."""

    resources = (r.SERVICE, r.REVISION, r.EVENT, r.POD)

    def __init__(self, who: str, cluster: Cluster, request: Request, namespace: str, service: str, name: str) -> None:
        super().__init__(who, cluster, request, namespace, service)
        self.revision = name
        self.unlisted = Listing(None)  # why the pods could not be listed, when they could not
        self.logs: list[InstanceLog] = []
        self.seen: dict[str, Any] | None = None  # the revision as last read: what the page shows once it is deleted

    async def load(self) -> None:
        (obj, revisions), (events, self.events_problem), listing, self.allowed = await asyncio.gather(
            self.found.service_objects(self.namespace, self.name),
            revision_page.read_events(self.cluster, self.namespace, self.revision, self.principal.name),
            self.found_instances(), self.may(self.namespace))
        self.loaded(obj, revisions, events)
        self.logs = await revision_page.read_excerpt(self.cluster, self.principal.name, self.namespace, listing,
                                                     revision_page.named(revisions, self.revision))

    async def found_instances(self) -> Listing:
        """The revision's pods, kept by name for the changes that follow."""
        try:
            pods = await revision_pods(self.cluster, self.namespace, self.revision)
        except Unreachable:
            raise
        except ClusterError as error:
            self.pods, self.unlisted = None, unlisted(error, self.principal.name)
            return self.unlisted
        self.pods = {str(p["metadata"]["name"]): p for p in pods}
        return self.listing

    @property
    def listing(self) -> Listing:
        return self.unlisted if self.pods is None else Listing(live_instances(self.pods.values()))

    def _shown(self) -> list[tuple[str, bool, int]]:
        """The instances whose last lines the page shows, as far as a change to them means new lines."""
        return [(i.name, i.ready, i.restarts) for i in (self.listing.pods or [])[:revision_page.EXCERPT_INSTANCES]]

    def about(self, event: dict[str, Any]) -> bool:
        involved = event.get("involvedObject") or {}
        return bool(involved.get("name") == self.revision and involved.get("kind") == "Revision") or \
            revision_page.instance_event(event, self.revision)

    def apply(self, change: Change) -> str:
        if change.resource == r.POD:
            if change.labels.get(LABEL_REVISION) != self.revision or self.pods is None:
                return ""
            before = self._shown()
            self._keep(self.pods, change)
            return "reload" if self._shown() != before else "changed"
        return super().apply(change)

    @property
    def problem(self) -> str:
        return self.revision_gone or super().problem

    @property
    def revision_gone(self) -> str:
        """The revision was deleted (its Service is still there): what to say."""
        if self.obj is None or self.gone or self.revision in self.revisions:
            return ""
        return f"The revision {self.revision} was deleted."

    def regions(self) -> Regions:
        found = {str(o["metadata"]["name"]): o for o in self.last_revisions}
        self.seen = found.get(self.revision, self.seen)
        if self.obj is None or self.seen is None:
            return {}
        found[self.revision] = self.seen
        page = revision_page.revision_page(self.namespace, self.obj, list(found.values()), self.revision,
                                           list(self.events.values()), self.listing, self.logs, self.events_problem,
                                           self.allowed, gone=self.gone or self.revision_gone,
                                           service_gone=bool(self.gone))
        return render_regions(self.templates, revision_page.REGIONS, page, self.settings)


class HistoryLive(ServiceFamily):
    """A Service's history: the Service, its revisions and the Events about it."""

    resources = (r.SERVICE, r.REVISION, r.EVENT)

    def __init__(self, who: str, cluster: Cluster, request: Request, namespace: str, name: str,
                 show_all: bool) -> None:
        super().__init__(who, cluster, request, namespace, name)
        self.show_all = show_all

    async def load(self) -> None:
        (obj, revisions), (events, self.events_problem), self.allowed = await asyncio.gather(
            self.found.service_objects(self.namespace, self.name),
            history_page.read_events(self.cluster, self.namespace, self.name, self.principal.name),
            self.may(self.namespace))
        self.loaded(obj, revisions, events)

    def about(self, event: dict[str, Any]) -> bool:
        return history_page.about(event, self.name)

    def regions(self) -> Regions:
        if self.obj is None:
            return {}
        page = history_page.history_page(self.namespace, self.obj, self.last_revisions,
                                         list(self.events.values()), self.show_all, self.events_problem,
                                         self.summaries, self.allowed, gone=self.gone)
        return render_regions(self.templates, history_page.REGIONS, page, self.settings)


class ServiceList(PageView):
    """One page of the Service list (of a namespace, or "" for all), filtered and sorted as asked. A namespace's is
    read again from the namespace's cache once that has taken in the change that moved the page (the same watch
    feeds both), or listed when it has not within CATCH_UP seconds."""

    resources = (r.SERVICE,)

    def __init__(self, who: str, cluster: Cluster, request: Request, namespace: str, token: str, start: int,
                 query: services.ListQuery) -> None:
        super().__init__(who, cluster, request, namespace)
        self.token, self.start, self.query = token, start, query
        self.page: services.ListPage | None = None
        self.everything: dict[tuple[str, str], dict[str, Any]] = {}  # a list read whole: every Service read
        self.cache = services.cache_of(request, namespace)
        self.needed: Version | None = None  # the newest change this page has seen: the cache must have it too
        # Services the page showed that were deleted since: their rows stay, marked (the newest DELETED_KEPT)
        self.deleted: dict[tuple[str, str], services.DeletedService] = {}
        # The rows shown before changes may have been missed (a relist): those that are not there when the page is
        # read again are looked for, and marked deleted if they are gone (`missed`)
        self.unsure: dict[tuple[str, str], dict[str, Any]] = {}

    async def cached(self) -> Informer | None:
        if self.cache is None:
            return None
        if self.cache.task.done():  # ended while idle: start another
            self.cache = services.service_cache(self.live.informers, self.settings, self.identity, self.cluster,
                                                self.namespace)
            if self.cache is None:
                return None
        # First read: the cache as it is; after a change: once it has that change too, if that comes soon.
        return self.cache if await self.cache.reaches(self.needed, 0 if self.needed is None else CATCH_UP) else None

    def recall(self, shown: str) -> None:
        """A tab's page showed these rows (`ListPage.shown`): those this page does not show now, and has not marked
        deleted, are looked for when it is read next (now: a tab that comes back to a console started again brings
        what it showed, which the new page never saw)."""
        keys = []
        for part in shown.split(",")[:self.settings.page_size]:
            namespace, _, name = part.rpartition("/") if not self.namespace else (self.namespace, "/", part)
            if namespace and name and valid_name(namespace) and valid_name(name):
                keys.append((namespace, name))
        listed = {_key(item) for item in self.page.items} if self.page is not None else set()
        new = {key: {"metadata": {"name": key[1], "namespace": key[0]}} for key in keys
               if key not in listed and key not in self.deleted and key not in self.unsure}
        if not new:
            return
        self.unsure.update(new)
        if self.page is not None:  # read again now (else the first read is still to come)
            self.inbox.put_nowait(Resync(r.SERVICE))

    def resynced(self) -> None:
        if self.page is not None:
            self.unsure.update((_key(item), item) for item in self.page.items)

    async def load(self) -> None:
        await self.read()
        if self.unsure:
            await self.missed()
            self.unsure = {}

    async def missed(self) -> None:
        """The rows shown before a relist (or by a tab, `recall`) that the page read again lacks: those whose Service
        is gone (not in the list read whole or the namespace's cache, else not found) are marked deleted, as when the
        watch sees one go; the others moved elsewhere in the list (another page)."""
        assert self.page is not None
        shown = {_key(item) for item in self.page.items}
        lacking = {key: obj for key, obj in self.unsure.items() if key not in shown and key not in self.deleted}
        if self.query.complete:
            gone = [key for key in lacking if key not in self.everything]
        elif self.cache is not None and not self.cache.task.done() and self.cache.vouches():  # the namespace, cached
            gone = [key for key in lacking if key[1] not in self.cache.objects]
        else:
            found = await asyncio.gather(*(self._exists(*key) for key in lacking))
            gone = [key for key, there in zip(lacking, found, strict=True) if not there]
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for key in gone:
            self.deleted[key] = services.DeletedService(lacking[key], at)
        while len(self.deleted) > DELETED_KEPT:
            del self.deleted[next(iter(self.deleted))]

    async def _exists(self, namespace: str, name: str) -> bool:
        try:
            await self.cluster.get(r.SERVICE, name, namespace)
        except NotFound:
            return False
        except Unreachable:
            raise  # the page says so, and looks again once the cluster answers (`unsure` is kept)
        except ClusterError:
            return True  # it cannot be told (the user may list Services but not read this one): not marked
        return True

    async def read(self) -> None:
        cached = await self.cached()
        if self.query.complete:
            self.page, items = await services.read_complete(
                self.found, self.may, self.namespace, self.query, self.start, self.settings.page_size,
                None if cached is None else cached.everything())
            self.everything = {_key(item): item for item in items}
        elif self.namespace:
            self.page = await services.read_counted(self.found, self.may, self.namespace, self.start,
                                                    self.settings.page_size, cached)
        else:
            self.page = await services.read_paged(self.found, self.may, self.namespace, self.start, self.token)

    def apply(self, change: Change) -> str:
        if change.resource != r.SERVICE or self.page is None:
            return ""
        version = comparable((change.obj.get("metadata") or {}).get("resourceVersion"))
        if version is not None and (self.needed is None or version > self.needed):
            self.needed = version
        self.note_deleted(change)
        if self.query.complete:
            if change.type == "DELETED":
                self.everything.pop(_key(change.obj), None)
            else:
                self.everything[_key(change.obj)] = change.obj
            shown = self.page
            self.page = services.found_page(self.namespace, list(self.everything.values()), shown.gateway,
                                            shown.namespaces, self.query, self.start, self.settings.page_size)
            self.page.allowed, self.page.delete_in = shown.allowed, shown.delete_in
            if self.page.all_namespaces and self.page.allowed.delete and \
                    any(_key(item)[0] not in shown.delete_in for item in self.page.items):
                return "reload"  # a row of a namespace whose permissions were not asked yet
            return "changed"
        items = self.page.items
        index = next((i for i, item in enumerate(items) if _key(item) == _key(change.obj)), None)
        if change.type in ("ADDED", "DELETED"):
            return "reload"  # the page's members move
        if index is None:
            return ""
        items[index] = change.obj
        return "changed"

    def note_deleted(self, change: Change) -> None:
        """A Service shown here that was deleted is kept, to be shown as such; one created again is listed again."""
        assert self.page is not None
        key = _key(change.obj)
        if change.type != "DELETED":
            self.deleted.pop(key, None)
            return
        if key in self.deleted or any(_key(item) == key for item in self.page.items):
            at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.deleted[key] = services.DeletedService(change.obj, at)
            while len(self.deleted) > DELETED_KEPT:
                del self.deleted[next(iter(self.deleted))]

    def regions(self) -> Regions:
        if self.page is None or self.gone:
            return {}
        self.page.deleted = list(self.deleted.values())
        return services.render_list(self.templates, self.settings, self.rows, self.page)


_key = services.service_key


async def _open(request: Request, key: tuple[Any, ...], make: Callable[[str, Cluster], View], seen: str,
                shown: str = "") -> Response:
    live: Live = request.app.state.live
    who, client = identity(request)
    hello = live.csrf_event(getattr(request.state, "csrf_token", ""))
    try:
        stream = await live.attach(who, key, lambda: make(who, client), request.cookies.get(COOKIE, "")[:64],
                                   acting(request).until)
        if stream.view.cluster is not client and isinstance(stream.view, PageView):
            stream.view.use_request(request)
        if shown and isinstance(stream.view, ServiceList):
            stream.view.recall(shown)
    except Refused as why:
        return Response(hello + live.refusal(str(why)), media_type="text/event-stream", headers=HEADERS)
    # `last`: the last event a tab got before it gave its stream back while out of sight (app.js); a new EventSource
    # cannot send it as Last-Event-ID, which a browser's own reconnect sends (and which then wins).
    last = request.headers.get("last-event-id") or request.query_params.get("last", "")
    return StreamingResponse(live.events(stream, parse_seen(seen), last[:64], hello), media_type="text/event-stream",
                             headers=HEADERS)


@router.get("/live/namespaces/{namespace}/services/{name}")
async def service_stream(request: Request, namespace: str, name: str, revisions: str = "",
                         seen: str = Query("", max_length=2048)) -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    shown = details.shown_mode(revisions)
    return await _open(request, ("service", namespace, name, shown),
                       lambda who, client: ServicePage(who, client, request, namespace, name, shown), seen)


@router.get("/live/namespaces/{namespace}/services")
async def list_stream(request: Request, namespace: str, start: int = Query(0, ge=0, le=10**9),
                      token: str = Query("", alias="continue", max_length=4096),
                      text: str = Query("", alias="filter", max_length=4096), sort: str = Query("", max_length=64),
                      seen: str = Query("", max_length=2048),
                      shown: str = Query("", max_length=SHOWN_LENGTH)) -> Response:
    return await _list_stream(request, checked("namespace", namespace), start, token, text, sort, seen, shown)


@router.get("/live/services")
async def all_list_stream(request: Request, start: int = Query(0, ge=0, le=10**9),
                          token: str = Query("", alias="continue", max_length=4096),
                          text: str = Query("", alias="filter", max_length=4096), sort: str = Query("", max_length=64),
                          seen: str = Query("", max_length=2048),
                          shown: str = Query("", max_length=SHOWN_LENGTH)) -> Response:
    return await _list_stream(request, "", start, token, text, sort, seen, shown)


async def _list_stream(request: Request, namespace: str, start: int, token: str, text: str, sort: str,
                       seen: str, shown: str) -> Response:
    query = services.list_query(text, sort)
    start = start if token or query.complete or namespace else 0
    token = "" if namespace else token  # a namespace's pages count Services
    return await _open(request, ("services", namespace, token, start, query),
                       lambda who, client: ServiceList(who, client, request, namespace, token, start, query), seen,
                       shown)


@router.get("/live/namespaces/{namespace}/services/{service}/revisions/{name}")
async def revision_stream(request: Request, namespace: str, service: str, name: str,
                          seen: str = Query("", max_length=2048)) -> Response:
    checked("namespace", namespace)
    checked("Service", service)
    checked("revision", name)
    return await _open(request, ("revision", namespace, service, name),
                       lambda who, client: RevisionLive(who, client, request, namespace, service, name), seen)


@router.get("/live/namespaces/{namespace}/services/{name}/history")
async def history_stream(request: Request, namespace: str, name: str, all: str = "",
                         seen: str = Query("", max_length=2048)) -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    show_all = bool(all)
    return await _open(request, ("history", namespace, name, show_all),
                       lambda who, client: HistoryLive(who, client, request, namespace, name, show_all), seen)
