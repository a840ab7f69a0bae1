"""A page per revision: everything a reviewer needs about one revision (image and resolved digest, env, resources,
scaling and concurrency, port, timeout, creator and creation time, conditions, traffic and tags, what changed from
the revision before), what went wrong when it failed and what to do, its Events, its instances in words and each of
them, and the last lines of their logs (with a link to the logs page that follows new ones), with links to the
previous and next revision.

Instances are the revision's Pods (label `serving.knative.dev/revision`) where the cluster serves Pods and the
console may list them; otherwise the page says why not and counts them from the revision's status. Each part is a
named region that the live stream replaces when it changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import Forbidden, NotFound
from app.knative import changes, history
from app.knative.diagnosis import Diagnosis, diagnose, not_ready
from app.knative.events import COMBINED, about_instances, without_pod_name
from app.knative.instances import (
    LABEL_REVISION,
    NONE,
    Instances,
    container_of,
    describe,
    resolved_image,
    serving_container,
)
from app.knative.models import (
    FAILED,
    LABEL_SERVICE,
    RevisionView,
    ServiceView,
    newest_first_raw,
    revision_from,
    service_from,
)
from app.knative.rollout import rollout_progress
from app.web import in_force, yaml_views
from app.web.context import acting, allowed, checked, identity, service_url
from app.web.details import RevisionRow, read_revisions, serving_generation
from app.web.evidence import (
    InstanceLog,
    Listing,
    RevisionInstances,
    RevisionLogs,
    list_instances,
    live_instances,
    logs_problem,
    read_logs,
)
from app.web.permissions import EVERYTHING, Allowed, refusal
from app.web.regions import Region, Regions, render_regions, stream_url
from app.web.render import render
from app.web.routing import CheckedRoute

router = APIRouter(route_class=CheckedRoute)
REGIONS = (  # the toolbar's links and actions, then the page's sections (in #live)
    Region("actions", "_revision_actions.html"),
    Region("diagnosis", "_revision_diagnosis.html"),
    Region("summary", "_revision_summary.html"),
    Region("conditions", "_revision_conditions.html"),
    Region("events", "_revision_events.html"),
    Region("instances", "_revision_instances.html"),
    Region("logs", "_revision_logs.html"),
    in_force.REGION,  # hidden: what an open Split Traffic dialog's Now column shows
)
AUTOSCALING = "autoscaling.knative.dev/"
EXCERPT_INSTANCES = 2  # instances whose last lines the page shows; the logs page has more
EXCERPT_LINES = 20


class NoSuchRevision(NotFound):
    """The URL names a revision this Service does not have."""


@dataclass(frozen=True)
class Setting:
    label: str
    value: str


@dataclass
class RevisionPage:
    namespace: str
    service: ServiceView
    revision: RevisionView
    obj: dict[str, Any] = field(repr=False)
    previous: str  # the older revision's name, "" for the first
    following: str  # the newer one's, "" for the newest
    diffs: list[changes.FieldDiff]  # what changed from `previous`
    events: list[history.Item]
    instances: RevisionInstances
    logs: RevisionLogs
    events_problem: str = ""
    regions: Regions = field(default_factory=dict)
    allowed: Allowed = EVERYTHING  # what the user may do to the Service (its one-click 100%, its logs)
    newest_serving: int = 0  # the generation of the newest revision that gets traffic now (its one-click's label)
    gone: str = ""  # the revision (or its Service) was deleted under the open page: what to say; shown as last known
    service_gone: bool = False  # … and it was its Service that was deleted

    @property
    def name(self) -> str:
        return self.revision.name

    @property
    def rolling(self) -> str:
        """What a gradual rollout under way does to this revision ("" when none does)."""
        progress = rollout_progress(self.service)
        return progress.for_revision(self.name) if progress and not self.gone else ""

    @property
    def row(self) -> RevisionRow:
        """Its traffic and what can be done with it, as its row in the revision table says them."""
        return RevisionRow(self.revision, self.service.pinned_to(self.name), self.service.floating_to(self.name),
                           self.name == self.service.latest_created, newest_serving=self.newest_serving)

    @cached_property
    def ready_since(self) -> datetime | None:
        """When it last became Ready, while it is (None otherwise, or when its condition gives no time)."""
        ready = self.revision.condition("Ready")
        if self.gone or ready is None or ready.status != "True":
            return None
        return history.moment(ready.last_transition)

    def before_ready(self, item: history.Item) -> bool:
        """A warning that last happened before the revision became Ready: what it said has since been overcome (a
        quota raised, a probe that now passes), though Kubernetes keeps it for an hour. The condition's time has whole
        seconds: a warning in the same second counts as before (the refusals that end as the revision starts)."""
        when = history.moment(item.at) if item.kind == "Warning" and self.ready_since is not None else None
        return when is not None and self.ready_since is not None and when.replace(microsecond=0) <= self.ready_since

    @property
    def _holders(self) -> tuple[()] | None:
        """Which older revisions hold room on the nodes: not known here (the page reads only this revision's pods),
        except that the first revision has none (found by a walkthrough: it was told of "this Service's older
        revisions")."""
        return None if self.previous else ()

    @property
    def diagnosis(self) -> Diagnosis | None:
        """What went wrong and what to do, when the revision failed."""
        return diagnose(self.revision, self.instances.pods or (), self._holders)

    @property
    def waiting(self) -> Diagnosis | None:
        """Why it is not Ready yet while it deploys, when its instances say why (its readiness probe does not pass)."""
        return not_ready(self.revision, self.instances.pods or (), self._holders)

    @property
    def url(self) -> str:
        return revision_url(self.namespace, self.service.name, self.revision.name)

    @property
    def live_url(self) -> str:
        return stream_url(self.url, self.regions, {})

    @property
    def spec(self) -> dict[str, Any]:
        return self.revision.raw_spec

    @property
    def serving_container(self) -> dict[str, Any]:
        return serving_container(self.spec)

    @property
    def digest(self) -> str:
        """The image as Knative resolved it (by digest), from the revision's status."""
        return resolved_image({"spec": self.spec, "status": self.revision.raw_status})

    @property
    def unresolved(self) -> str:
        """Why the image has no digest once it will get none (the revision failed: Knative resolves it only as it
        creates the revision, and ContainerMissing is its failure to); "" while one may still come."""
        failed = None if self.digest else self.diagnosis
        if failed is None:
            return ""
        why = f"{failed.reason}: {failed.message}" if failed.message else failed.reason or "not Ready"
        if failed.reason == "ContainerMissing":
            return f"Not resolved: the revision failed ({why})"
        return f"Not resolved, and the revision failed ({why})"

    @property
    def options(self) -> list[Setting]:
        """Scaling, concurrency, timeout and the other knobs, as set on this revision (Knative's defaults shown)."""
        spec, annotations = self.spec, self.revision.raw_metadata.get("annotations") or {}
        template = self.revision.template
        found = [Setting("Port / protocol", template.port_protocol),
                 Setting("Scaling", template.scaling.describe()),
                 Setting("Concurrency limit", _or_default(spec.get("containerConcurrency"), "0 (no limit)")),
                 Setting("Request timeout", f"{spec.get('timeoutSeconds', 300)} s")]
        for key, value in sorted(annotations.items()):
            if key.startswith(AUTOSCALING) and not key.endswith(("min-scale", "max-scale", "minScale", "maxScale",
                                                                  "/target")):
                found.append(Setting(key.removeprefix(AUTOSCALING), str(value)))
        if spec.get("serviceAccountName"):
            found.append(Setting("Service account", str(spec["serviceAccountName"])))
        return found

    @property
    def resources(self) -> list[Setting]:
        resources = self.serving_container.get("resources") or {}
        return [Setting(f"{name} {word}", str(amount)) for section, word in (("requests", "request"),
                                                                              ("limits", "limit"))
                for name, amount in sorted((resources.get(section) or {}).items())]

    @property
    def limit_range(self) -> list[Setting]:
        """What the namespace's LimitRange gave the revision's container that the revision does not set, as its
        instances show it (none while it has none)."""
        given = next((i.limit_range for i in self.instances.pods or () if i.limit_range), ())
        return [Setting(label, amount) for label, amount in given]


def _or_default(value: Any, default: str) -> str:
    return default if value in (None, 0) else str(value)


def revision_url(namespace: str, service: str, revision: str) -> str:
    return f"{service_url(namespace, service)}/revisions/{revision}"


def revision_page(namespace: str, service_obj: dict[str, Any], revisions: list[dict[str, Any]], name: str,
                  events: list[dict[str, Any]], listing: Listing, logs: Sequence[InstanceLog] = (),
                  events_problem: str = "", allowed: Allowed = EVERYTHING, gone: str = "",
                  service_gone: bool = False) -> RevisionPage:
    """The page of revision `name`; `listing` its instances, `logs` the last lines of the first of them; `gone`, what
    to say when it (or its Service, `service_gone`) was deleted: the page is then its last known state, without its
    instances, logs or actions."""
    ordered = newest_first_raw(revisions)
    names = [str((o.get("metadata") or {}).get("name") or "") for o in ordered]
    if name not in names:
        raise NoSuchRevision(404, "NotFound", f'There is no revision "{name}" of the Service '
                                              f'{(service_obj.get("metadata") or {}).get("name")}.')
    index = names.index(name)
    obj = ordered[index]
    uid = str((obj.get("metadata") or {}).get("uid") or "")
    older = ordered[index + 1] if index + 1 < len(ordered) else None
    diffs = changes.revision_diffs(older, obj) if older else []
    service, revision = service_from(service_obj), revision_from(obj)
    instances = RevisionInstances(describe(revision, listing.pods, service.reachable(name)), listing.pods, listing.why)
    shown = RevisionLogs(namespace, service.name, name, container_of(revision.raw_spec), list(logs), EXCERPT_LINES,
                         max(sum(1 for i in listing.pods or () if not i.unschedulable) - EXCERPT_INSTANCES, 0),
                         logs_problem(listing),
                         refused=allowed.logs, failed=revision.status.label == FAILED,
                         unreached=not service.reachable(name)).waiting_for_a_node(listing.pods)
    if gone:
        instances = RevisionInstances(Instances("", NONE), [], "")
        shown = RevisionLogs(namespace, service.name, name, shown.container, problem=f"{gone} Its instances went "
                             "with it: there are no logs to read.", refused=gone)
    return RevisionPage(namespace, service, revision, obj, names[index + 1] if older else "",
                        names[index - 1] if index else "", diffs,
                        alike_grouped(history.event_items(of_this_revision(events, uid))),
                        instances, shown, events_problem, allowed=allowed,
                        newest_serving=serving_generation(service, ordered), gone=gone, service_gone=service_gone)


def alike_grouped(items: list[history.Item]) -> list[history.Item]:
    """The instances' warnings that say the same (reason, message, from whom) as one row, the newest, counting them
    all and naming how many instances: a revision with thousands of Pending instances has as many FailedScheduling
    Events, one each, with the same words. Likewise a ReplicaSet's refusals to create them (FailedCreate), whose
    messages differ only in the pod's random name, and the Event that counts the tenth and later ones ("(combined from
    similar events): …", as client-go's correlator records them): one row, whose count is all of them."""
    rows: list[history.Item] = []
    alike: dict[tuple[str, ...], tuple[int, set[str], int]] = {}  # → (its row, its pods, their count)
    for item in items:  # newest first
        if item.about.startswith("pod/"):
            key: tuple[str, ...] = (item.kind, item.title, item.detail, item.by)
            member = item.about
        elif item.about.startswith("replicaset/"):
            key, member = (item.kind, item.title, without_pod_name(item.detail), item.by, item.about), item.detail
        else:
            rows.append(item)
            continue
        if key not in alike:
            alike[key] = (len(rows), {member}, item.count)
            rows.append(item)
        else:
            index, members, count = alike[key]
            members.add(member)
            alike[key] = (index, members, count + item.count)
    for key, (index, members, count) in alike.items():
        row = rows[index]
        if row.about.startswith("pod/"):
            about = f"{len(members)} instances ({min(members)}, …)" if len(members) > 1 else row.about
            rows[index] = replace(row, count=count, about=about)
        else:
            rows[index] = replace(row, count=count, detail=key[2] if len(members) > 1 else
                                  row.detail.removeprefix(COMBINED))
    return rows


def of_this_revision(events: Sequence[dict[str, Any]], uid: str) -> list[dict[str, Any]]:
    """The Events about this revision object (and its instances' warnings): not those of an earlier revision of the same
    name (deleted, and made again by its Configuration), told apart by the uid, as `kubectl describe` does."""
    def ours(event: dict[str, Any]) -> bool:
        involved = event.get("involvedObject") or {}
        return involved.get("kind") != "Revision" or not uid or involved.get("uid") in (None, "", uid)

    return [e for e in events if ours(e)]


def instance_event(event: dict[str, Any], revision: str) -> bool:
    """A warning about one of the revision's instances, or about the ReplicaSet that creates them."""
    return about_instances(event, revision)


async def read_events(client: Cluster, namespace: str, name: str, who: str) -> tuple[list[dict[str, Any]], str]:
    """The revision's Events and the warnings about its instances and their ReplicaSet, read as the user `who`; or why
    they cannot be."""
    try:
        own, pods, replicasets = await asyncio.gather(
            client.list(r.EVENT, namespace, field_selector=f"involvedObject.kind=Revision,involvedObject.name={name}"),
            client.list(r.EVENT, namespace, field_selector="involvedObject.kind=Pod,type=Warning"),
            client.list(r.EVENT, namespace, field_selector="involvedObject.kind=ReplicaSet,type=Warning"))
    except Forbidden:
        return [], f"{refusal(who, 'list', 'events', namespace)}."
    theirs = [*(pods.get("items") or []), *(replicasets.get("items") or [])]
    return [*(own.get("items") or []), *(e for e in theirs if instance_event(e, name))], ""


async def read_excerpt(client: Cluster, who: str, namespace: str, listing: Listing,
                       revision: dict[str, Any] | None) -> list[InstanceLog]:
    """The last lines of the first instances of the revision (`revision` its object, None when not found)."""
    if not listing.pods or revision is None:
        return []
    started = [i for i in listing.pods if not i.unschedulable]  # one no node took has no log to read
    return await read_logs(client, who, namespace, started[:EXCERPT_INSTANCES], EXCERPT_LINES)


def named(revisions: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((o for o in revisions if (o.get("metadata") or {}).get("name") == name), None)


class NoSuchService(NotFound):
    """The URL names a Service that is not there (deleted, say): a revision's page names it, not the revision."""


async def service_revisions(request: Request, namespace: str, service: str) -> tuple[dict[str, Any],
                                                                                     list[dict[str, Any]]]:
    """The Service and its revisions; NoSuchService when there is no such Service (the page's 404 then names the
    Service: the error page would take the revision in the URL for it)."""
    try:
        return await read_revisions(request, namespace, service)
    except NotFound as error:
        if error.details.get("kind") != "services":
            raise
        raise NoSuchService(404, "NotFound", f'There is no Service "{service}" in the namespace {namespace}. It may '
                                             "have been deleted, and its revisions with it.") from error


async def read_instances(request: Request, namespace: str, service: str, name: str) -> Listing:
    """The revision's instances from the namespace's watch-fed cache of pods, as the details page reads them, when it
    can be trusted; else listed. A revision with thousands of pods (a min-scale in the thousands) is then not listed
    and decoded again each time its page is opened."""
    key, client = identity(request)
    informer = request.app.state.live.informers.get(key, client, namespace, r.POD, LABEL_SERVICE)
    cached = informer.labelled(service)
    if cached is not None:
        return Listing(live_instances(p for p in cached if ((p.get("metadata") or {}).get("labels") or {}).get(
            LABEL_REVISION) == name))
    who = acting(request)
    return await list_instances(who.cluster, who.name, namespace, name)


async def read_page(request: Request, namespace: str, service: str, name: str) -> RevisionPage:
    who = acting(request)
    (obj, revisions), (events, problem), listing, may = await asyncio.gather(
        service_revisions(request, namespace, service), read_events(who.cluster, namespace, name, who.name),
        read_instances(request, namespace, service, name), allowed(request, namespace))
    logs = await read_excerpt(who.cluster, who.name, namespace, listing, named(revisions, name))
    return revision_page(namespace, obj, revisions, name, events, listing, logs, problem, may)


def render_page(request: Request, page: RevisionPage) -> Regions:
    return render_regions(request.app.state.templates, REGIONS, page, request.app.state.settings)


@router.get("/namespaces/{namespace}/services/{service}/revisions/{name}")
async def revision_details(request: Request, namespace: str, service: str, name: str, format: str = "",
                           everything: str = "", download: str = "", partial: str = "") -> Response:
    checked("namespace", namespace)
    checked("Service", service)
    checked("revision", name)
    if yaml_views.requested(format) == "yaml":  # the revision alone: no Events, no Pods
        obj, revisions = await service_revisions(request, namespace, service)
        found = revision_page(namespace, obj, revisions, name, [], Listing([]))
        return yaml_views.respond(request, found.obj, yaml_views.Place(namespace, service, name, found.url),
                                  everything, download)
    page = await read_page(request, namespace, service, name)
    page.regions = render_page(request, page)
    return render(request, "_revision_live.html" if partial == "live" else "revision.html", page)
