"""A revision's logs: the last lines of each instance's own container (`user-container` unless the revision names
it), and then, while the page is open, every new line, followed through the Kubernetes pods/log API
(`follow=true`) with the requesting identity's client, so that it works on any cluster whose RBAC lets the user get
pods/log.

`/namespaces/{ns}/services/{name}/revisions/{revision}/logs` is the page; `/live` + that path its stream of new lines
(server-sent events named `log`, each a line's HTML, which the page appends) and of its Instances section (`instances`,
which the page swaps in whenever the revision's pods change). The instances followed are the revision's ready pods,
and those that become ready while the page is open (a scale-up, a cold start).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.responses import Response, StreamingResponse

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import ClusterError, NotFound
from app.knative.instances import LABEL_REVISION, Instance, container_of, describe, instance_from
from app.knative.models import FAILED, RevisionView, revision_from, service_from
from app.settings import Settings
from app.web.context import acting, checked, identity
from app.web.evidence import (
    InstanceLog,
    RevisionInstances,
    RevisionLogs,
    list_instances,
    logs_problem,
    read_logs,
    revision_instances,
)
from app.web.hub import Change, Health, Message
from app.web.live import RETRY_MS, Live, Refused, event
from app.web.permissions import plainly
from app.web.regions import Region, render_regions
from app.web.render import render
from app.web.revision_page import NoSuchRevision
from app.web.routing import CheckedRoute
from app.web.security import COOKIE
from app.web.streams import HEADERS
from app.web.tasks import end

router = APIRouter(route_class=CheckedRoute)
TAIL = 100  # lines per instance on the page
MISSED = 200  # lines per instance, at most, fetched once the logs go on after they stopped
_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")
INSTANCES = 5  # instances shown and followed at most
LINE_QUEUE = 1000  # lines waiting for a slow browser; past this the oldest are dropped
INSTANCES_REGION = Region("instances", "_revision_instances.html")


@dataclass
class LogsPage:
    namespace: str
    service: str
    revision: str
    instances: RevisionInstances
    logs: RevisionLogs
    shown: dict[str, str] = field(default_factory=dict)  # pod → the node's time of the newest line the page shows

    @property
    def path(self) -> str:
        return self.logs.path

    @property
    def live_url(self) -> str:
        """The stream goes on from the newest line each instance's section shows: one written between the page and
        its stream comes once, and those on the page do not come again."""
        after = ",".join(f"{pod}={stamp}" for pod, stamp in self.shown.items())
        return "/live" + self.path + (f"?{urlencode({'after': after})}" if after else "")


def unstamped(logs: list[InstanceLog]) -> dict[str, str]:
    """Takes the node's time off each line (read with `timestamps=true`); gives the newest per instance."""
    shown = {}
    for log in logs:
        texts = []
        for stamped in log.lines:
            stamp, _, text = stamped.partition(" ")
            if moment(stamp) is None:
                texts.append(stamped)  # a node that does not stamp its lines
            else:
                texts.append(text)
                shown[log.instance.name] = stamp
        log.lines = texts
    return shown


def parse_after(text: str) -> dict[str, str]:
    """The stream's `after` parameter back into {pod: the node's time as `moment` gives it}; anything malformed is
    left out (the stream then sends that instance's lines from its last TAIL, as for an instance it sees start)."""
    found = {}
    for part in text.split(",")[:INSTANCES]:
        pod, _, stamp = part.partition("=")
        at = moment(stamp)
        if pod and len(pod) <= 253 and at is not None:
            found[pod] = at
    return found


def log_line(pod: str, text: str) -> str:
    """One line's HTML for the page (escaped: a log is the container's to write)."""
    return str(Markup('<div class="log-line"><span class="log-pod">{}</span> {}</div>').format(pod, text))


@router.get("/namespaces/{namespace}/services/{name}/revisions/{revision}/logs")
async def revision_logs(request: Request, namespace: str, name: str, revision: str) -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    checked("revision", revision)
    _, client = identity(request)
    user = acting(request).name
    try:
        obj = await client.get(r.REVISION, revision, namespace)
    except NotFound as error:  # a 404 page that says which revision, of which Service
        raise NoSuchRevision(404, "NotFound", f'There is no revision "{revision}" of the Service {name}.') from error
    view = revision_from(obj)
    listing, reachable = await asyncio.gather(list_instances(client, user, namespace, revision),
                                              _reachable(client, namespace, name, revision))
    logs = RevisionLogs(namespace, name, revision, container_of(view.raw_spec), tail=TAIL,
                        problem=logs_problem(listing), following=True, failed=view.status.label == FAILED,
                        unreached=not reachable).waiting_for_a_node(listing.pods)
    if listing.pods is not None:
        started = [i for i in listing.pods if not i.unschedulable]  # one no node took has no log to read
        logs.logs = await read_logs(client, user, namespace, started[:INSTANCES], TAIL, timestamps=True)
        logs.more = max(len(started) - INSTANCES, 0)
    page = LogsPage(namespace, name, revision, RevisionInstances(describe(view, listing.pods, reachable), listing.pods,
                                                                  listing.why), logs, unstamped(logs.logs))
    return render(request, "revision_logs.html", page)


async def _reachable(client: Cluster, namespace: str, service: str, revision: str) -> bool:
    """Whether a request can reach the revision (ServiceView.reachable); True when the Service cannot be read, which
    says nothing against it."""
    try:
        return service_from(await client.get(r.SERVICE, service, namespace)).reachable(revision)
    except ClusterError:
        return True


@dataclass
class InstancesView:
    """The context of the page's Instances section when the stream renders it again."""

    instances: RevisionInstances


class InstancesRenderer:
    """The logs page's Instances section, rendered again from the revision's pods (its status for the words, read
    once, when first needed: the stream starts following the lines without waiting for it), and its Logs section's
    note, which follows the instances followed."""

    def __init__(self, templates: Jinja2Templates, settings: Settings, reachable: bool = True) -> None:
        self.templates, self.settings = templates, settings
        self.revision: RevisionView | None = None
        self.reachable = reachable  # as the page found it (ServiceView.reachable): what would start an instance

    async def render(self, client: Cluster, namespace: str, revision: str, pods: list[Instance]) -> str:
        if self.revision is None:
            self.revision = revision_from(await client.get(r.REVISION, revision, namespace))
        view = InstancesView(RevisionInstances(describe(self.revision, pods, self.reachable), pods))
        return str(render_regions(self.templates, (INSTANCES_REGION,), view, self.settings)[INSTANCES_REGION.name])

    def note(self, namespace: str, service: str, revision: str, followed: list[str]) -> str:
        """The note as the page would say it now: the instances followed, or (none) that none is running."""
        logs = RevisionLogs(namespace, service, revision, following=True, unreached=not self.reachable)
        return self.templates.get_template("_logs_note.html").render(logs=logs, followed=followed)


class LogFollower:
    """New lines of a revision's ready instances, from the moment it starts, and its Instances section whenever its
    pods change, as server-sent events."""

    def __init__(self, live: Live, who: str, client: Cluster, namespace: str, revision: str, user: str,
                 over: asyncio.Future[None], instances: InstancesRenderer | None = None,
                 shown: dict[str, str] | None = None, service: str = "") -> None:
        self.live, self.who, self.client, self.user = live, who, client, user
        self.over = over  # done when the stream must end (Live.over)
        self.namespace, self.revision = namespace, revision
        self.lines: asyncio.Queue[tuple[str, str]] = asyncio.Queue(LINE_QUEUE)
        self.followed: dict[str, asyncio.Task[None]] = {}
        self.stopped = False  # the watch of the pods is refused or down: nothing is followed until it is back
        self.stopped_at = 0.0  # the loop's time when they stopped
        # pod → the node's time of the newest line sent (a `moment`), from the newest line the page showed on
        self.sent: dict[str, str] = dict(shown or {})
        self.instances = instances
        self.pods_changed = False  # a pod of the revision changed: the Instances section is rendered again
        self.instances_sent = ""  # the Instances section last sent (an unchanged one is not sent again)
        self.service = service
        # Whether the Logs section's note says instances are followed: a page that showed no line says none runs (or
        # why none can), and the note is sent again whenever that changes (a cold start, the last instance gone).
        self.note_followed = bool(self.sent)
        self.note_stale = False  # whether traffic reaches the revision changed: the note says it again

    def _follow(self, instance: Instance, since_seconds: int | None = None, from_start: bool = False) -> None:
        pod = instance.name
        if pod not in self.followed and len(self.followed) < INSTANCES:
            self.followed[pod] = asyncio.get_running_loop().create_task(
                self._lines_of(pod, instance.container, since_seconds, from_start), name=f"log {pod}")

    async def _lines_of(self, pod: str, container: str, since_seconds: int | None, from_start: bool) -> None:
        """The pod's new lines; with `since_seconds` (the logs go on after they stopped), first those written in
        that many last seconds that were not sent before; `from_start`, first its last TAIL lines that were not sent
        or shown on the page (for an instance that became ready while the page was open: its start and the request
        that woke it). Lines sent or shown before are told apart by the node's time of each line."""
        tail = MISSED if since_seconds is not None else TAIL if from_start else 0
        floor = self.sent.get(pod, "") if tail else ""  # the newest line of this pod sent before
        try:
            async with self.client.log(pod, self.namespace, container, tail_lines=tail, follow=True,
                                       since_seconds=since_seconds, timestamps=True) as output:
                async for stamped in output:
                    stamp, _, text = stamped.partition(" ")
                    at = moment(stamp)
                    if at is None:
                        text = stamped  # a node that does not stamp its lines
                    elif floor and at <= floor:
                        continue  # sent before the logs stopped
                    else:
                        self.sent[pod] = max(at, self.sent.get(pod, ""))
                    if self.lines.full():
                        self.lines.get_nowait()  # the browser lags: it loses the oldest lines, not the stream
                    self.lines.put_nowait((pod, text))
        except ClusterError:
            pass  # it stopped or went; a restart that becomes ready is followed again
        finally:
            self.followed.pop(pod, None)

    async def _unfollow(self) -> None:
        await end(list(self.followed.values()))

    async def _health(self, message: Health) -> bytes:
        """A follow of pods/log, like a watch, is authorized only when it starts: when the watch of the pods is
        refused (the user's rights were taken away) or cannot connect, the lines stop too, and the page says so;
        once it is back, the ready instances are followed again."""
        if message.problem and not self.stopped:
            self.stopped, self.stopped_at = True, asyncio.get_running_loop().time()
            await self._unfollow()
            why = message.problem
            if message.refused:  # said in plain words, as the pages say it: read again, and take the refusal
                try:
                    await revision_instances(self.client, self.namespace, self.revision)
                except ClusterError as error:
                    why = plainly(error, self.user)
            return _problem(f"The logs stopped: {why}")
        if not message.problem and self.stopped:
            self.stopped = False
            # Whole seconds, and one more: a line of the same second as the stop that was sent is told apart by its
            # time; one that was not is fetched.
            since = math.ceil(asyncio.get_running_loop().time() - self.stopped_at) + 1
            for instance in await revision_instances(self.client, self.namespace, self.revision):
                if instance.ready:
                    self._follow(instance, since)
            return _problem(f"The logs go on: the lines written while they stopped come first (at most {MISSED} "
                            "an instance).")
        return b""

    def _reached(self, change: Change) -> None:
        """The Service changed: whether traffic reaches the revision (ServiceView.reachable, what would start an
        instance) is taken from it, and the Instances section and the note say it again when that changed."""
        if self.instances is None or change.name != self.service or change.type == "DELETED":
            return
        reachable = service_from(change.obj).reachable(self.revision)
        if reachable != self.instances.reachable:
            self.instances.reachable = reachable
            self.pods_changed = self.note_stale = True

    def _seen(self, message: Message) -> None:
        if isinstance(message, Change) and message.resource == r.SERVICE:
            self._reached(message)
            return
        if self.stopped:
            return
        if isinstance(message, Change) and message.labels.get(LABEL_REVISION) == self.revision:
            self.pods_changed = True
            instance = instance_from(message.obj)
            if message.type != "DELETED" and instance.ready and not instance.terminating:
                self._follow(instance, from_start=True)

    async def _instances(self) -> bytes:
        """The Instances section again, read from the revision's pods now ("" when it has not changed). A read that
        fails leaves it as it was: the pods' watch says why (_health), and the next change reads it again."""
        self.pods_changed = False
        if self.instances is None:
            return b""
        try:
            pods = await revision_instances(self.client, self.namespace, self.revision)
            html = await self.instances.render(self.client, self.namespace, self.revision, pods)
        except ClusterError:
            return b""
        if html == self.instances_sent:
            return b""
        self.instances_sent = html
        return event(INSTANCES_REGION.name, html)

    def _note(self) -> bytes:
        """The Logs section's note again, when instances are followed and it said none were, or the other way round
        (not while the logs are stopped: the page then says why)."""
        if self.instances is None or self.stopped or (bool(self.followed) == self.note_followed and
                                                       not self.note_stale):
            return b""
        self.note_followed, self.note_stale = bool(self.followed), False
        return event("logs-note", self.instances.note(self.namespace, self.service, self.revision,
                                                      sorted(self.followed)))

    async def events(self) -> AsyncIterator[bytes]:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        yield f"retry: {RETRY_MS}\n\n".encode()
        try:
            async with AsyncExitStack() as stack:
                await stack.enter_async_context(self.live.hub.follow(self.who, self.client, self.namespace, r.POD,
                                                                     inbox))
                if self.service and self.instances is not None:  # whether traffic reaches the revision, as it changes
                    await stack.enter_async_context(self.live.hub.follow(self.who, self.client, self.namespace,
                                                                         r.SERVICE, inbox))
                for instance in await revision_instances(self.client, self.namespace, self.revision):
                    if instance.ready:  # from after the newest line the page showed (from its start if none)
                        self._follow(instance, from_start=True)
                while not self.over.done():
                    getters: set[asyncio.Future[Any]] = {asyncio.ensure_future(self.lines.get()),
                                                         asyncio.ensure_future(inbox.get())}
                    try:
                        done, _ = await asyncio.wait({*getters, self.over}, timeout=self.live.heartbeat,
                                                     return_when=asyncio.FIRST_COMPLETED)
                    finally:  # also when the browser goes while it waits: no getter is left pending
                        for waiting in getters:
                            waiting.cancel()  # nothing to a finished one
                    if self.over in done:
                        return  # the console shuts down, the browser signed out or its session ended
                    if not done:
                        yield b": heartbeat\n\n"
                    chunk = b""
                    for finished in done:
                        result = finished.result()
                        if isinstance(result, tuple):
                            chunk += event("log", log_line(*result))
                        elif isinstance(result, Health):
                            if result.resource == r.POD:  # the Services' watch down: the page keeps what it said
                                chunk += await self._health(result)
                        elif result is not None:
                            self._seen(result)
                    while not self.lines.empty():
                        chunk += event("log", log_line(*self.lines.get_nowait()))
                    if self.pods_changed:
                        chunk += await self._instances()
                    chunk += self._note()
                    if chunk:
                        yield chunk
        except ClusterError as error:
            yield _problem(f"The logs stopped: {plainly(error, self.user)}")
        finally:
            await self._unfollow()



def moment(stamp: str) -> str | None:
    """A log line's time as the node gives it with `timestamps=true` (RFC 3339, kubelet's with nine digits of the
    second), in UTC as a string that sorts in time order; None if it is not one."""
    matched = _STAMP.fullmatch(stamp)
    if matched is None:
        return None
    seconds, fraction, zone = matched.groups()
    try:
        when = datetime.fromisoformat(seconds + ("+00:00" if zone == "Z" else zone)).astimezone(UTC)
    except ValueError:  # a month 13, a minute 61
        return None
    return f"{when:%Y-%m-%dT%H:%M:%S}.{(fraction or '').ljust(9, '0')}"


def _problem(text: str) -> bytes:
    """A line of the page's log that is the console's, not the instance's."""
    return event("log", str(Markup('<div class="log-line log-problem">{}</div>').format(text)))


@router.get("/live/namespaces/{namespace}/services/{name}/revisions/{revision}/logs")
async def follow_logs(request: Request, namespace: str, name: str, revision: str, after: str = "") -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    checked("revision", revision)
    live: Live = request.app.state.live
    who, client = identity(request)
    browser = request.cookies.get(COOKIE, "")[:64]
    try:
        signed_out = live.enter(who, browser)
    except Refused as why:
        return Response(live.refusal(str(why)), media_type="text/event-stream", headers=HEADERS)

    async def stream() -> AsyncIterator[bytes]:
        over = asyncio.ensure_future(live.over(signed_out, acting(request).until))
        try:
            instances = InstancesRenderer(request.app.state.templates, request.app.state.settings,
                                          await _reachable(client, namespace, name, revision))
            async for chunk in LogFollower(live, who, client, namespace, revision, acting(request).name,
                                           over, instances, parse_after(after[:4096]), name).events():
                yield chunk
        finally:
            over.cancel()
            live.leave(who, browser)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=HEADERS)
