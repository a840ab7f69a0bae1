"""A page per revision: everything a reviewer needs about one revision (image and resolved digest, env, resources,
scaling and concurrency, port, timeout, creator and creation time, conditions, traffic and tags, what changed from
the revision before), its Events, its instances and their logs, with links to the previous and next revision.

Instances are the revision's Pods (label `serving.knative.dev/revision`) where the cluster serves Pods and the
console may list them; otherwise the page says that none are reported. Each part is a named region that the live
stream replaces when it changes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import ClusterError, Forbidden, NotFound, Unreachable
from app.knative import changes, history
from app.knative.models import (
    RevisionView,
    ServiceView,
    newest_first_raw,
    revision_from,
    service_from,
)
from app.web import yaml_views
from app.web.context import acting, allowed, checked, service_url
from app.web.details import RevisionRow, read_revisions
from app.web.permissions import EVERYTHING, Allowed, refusal
from app.web.regions import Region, Regions, render_regions, stream_url
from app.web.render import render

router = APIRouter()
LABEL_REVISION = "serving.knative.dev/revision"  # on the Pods Knative runs for a revision
REGIONS = (
    Region("summary", "_revision_summary.html"),
    Region("conditions", "_revision_conditions.html"),
    Region("events", "_revision_events.html"),
    Region("instances", "_revision_instances.html"),
    Region("logs", "_revision_logs.html"),
)
AUTOSCALING = "autoscaling.knative.dev/"


class NoSuchRevision(NotFound):
    """The URL names a revision this Service does not have."""


@dataclass(frozen=True)
class Pod:
    name: str
    phase: str
    ready: str  # "1/2"
    restarts: int
    node: str
    created: str


@dataclass(frozen=True)
class Instances:
    """The revision's Pods, or why there are none to show."""

    pods: tuple[Pod, ...] = ()
    reported: bool = True  # False: the cluster does not serve Pods, or the console may not list them
    why: str = ""


def pods_of(listed: dict[str, Any]) -> tuple[Pod, ...]:
    pods = []
    for obj in listed.get("items") or []:
        meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
        statuses = [s for s in status.get("containerStatuses") or [] if isinstance(s, dict)]
        ready = sum(1 for s in statuses if s.get("ready"))
        pods.append(Pod(str(meta.get("name") or ""), str(status.get("phase") or "Unknown"),
                        f"{ready}/{len(spec.get('containers') or statuses)}",
                        sum(int(s.get("restartCount") or 0) for s in statuses), str(spec.get("nodeName") or ""),
                        str(meta.get("creationTimestamp") or "")))
    return tuple(sorted(pods, key=lambda p: p.name))


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
    instances: Instances
    events_problem: str = ""
    regions: Regions = field(default_factory=dict)
    allowed: Allowed = EVERYTHING  # what the user may do to the Service (its one-click 100%)

    @property
    def name(self) -> str:
        return self.revision.name

    @property
    def row(self) -> RevisionRow:
        """Its traffic and what can be done with it, as its row in the revision table says them."""
        return RevisionRow(self.revision, self.service.pinned_to(self.name), self.service.floating_to(self.name),
                           self.name == self.service.latest_created)

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
        containers = [c for c in self.spec.get("containers") or [] if isinstance(c, dict)]
        return next((c for c in containers if c.get("ports")), containers[0] if containers else {})

    @property
    def digest(self) -> str:
        """The image as Knative resolved it (by digest), from the revision's status."""
        name = self.serving_container.get("name")
        statuses = [s for s in self.revision.raw_status.get("containerStatuses") or [] if isinstance(s, dict)]
        found = next((s for s in statuses if s.get("name") == name), statuses[0] if statuses else {})
        return str(found.get("imageDigest") or "")

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
    def logs_command(self) -> str:
        container = self.serving_container.get("name") or "user-container"
        return f"kubectl logs -n {self.namespace} -l {LABEL_REVISION}={self.name} -c {container} --tail=100"


def _or_default(value: Any, default: str) -> str:
    return default if value in (None, 0) else str(value)


def revision_url(namespace: str, service: str, revision: str) -> str:
    return f"{service_url(namespace, service)}/revisions/{revision}"


def revision_page(namespace: str, service_obj: dict[str, Any], revisions: list[dict[str, Any]], name: str,
                  events: list[dict[str, Any]], instances: Instances, events_problem: str = "",
                  allowed: Allowed = EVERYTHING) -> RevisionPage:
    ordered = newest_first_raw(revisions)
    names = [str((o.get("metadata") or {}).get("name") or "") for o in ordered]
    if name not in names:
        raise NoSuchRevision(404, "NotFound", f'There is no revision "{name}" of the Service '
                                              f'{(service_obj.get("metadata") or {}).get("name")}.')
    index = names.index(name)
    obj = ordered[index]
    older = ordered[index + 1] if index + 1 < len(ordered) else None
    diffs = changes.compare(changes.revision_fields(older), changes.revision_fields(obj)) if older else []
    return RevisionPage(namespace, service_from(service_obj), revision_from(obj), obj,
                        names[index + 1] if older else "", names[index - 1] if index else "", diffs,
                        history.event_items(events), instances, events_problem, allowed=allowed)


async def read_events(client: Cluster, namespace: str, name: str, who: str) -> tuple[list[dict[str, Any]], str]:
    """The revision's Events, read as the user `who`; or why they cannot be."""
    try:
        listed = await client.list(r.EVENT, namespace, field_selector=f"involvedObject.kind=Revision,"
                                                                       f"involvedObject.name={name}")
    except Forbidden:
        return [], f"{refusal(who, 'list', 'events', namespace)}."
    return list(listed.get("items") or []), ""


async def read_instances(client: Cluster, namespace: str, name: str, who: str) -> Instances:
    """The revision's Pods, read as the user `who`; or why there are none to show."""
    try:
        listed = await client.list(r.POD, namespace, label_selector=f"{LABEL_REVISION}={name}")
    except NotFound:
        return Instances(reported=False, why="This cluster does not report Pods.")
    except Forbidden:
        return Instances(reported=False, why=f"{refusal(who, 'list', 'pods', namespace)}.")
    except Unreachable:
        raise
    except ClusterError as error:
        return Instances(reported=False, why=f"The Pods could not be read: {error.message}")
    return Instances(pods_of(listed))


async def read_page(request: Request, namespace: str, service: str, name: str) -> RevisionPage:
    who = acting(request)
    (obj, revisions), (events, problem), instances, may = await asyncio.gather(
        read_revisions(request, namespace, service), read_events(who.cluster, namespace, name, who.name),
        read_instances(who.cluster, namespace, name, who.name), allowed(request, namespace))
    return revision_page(namespace, obj, revisions, name, events, instances, problem, may)


def render_page(request: Request, page: RevisionPage) -> Regions:
    return render_regions(request.app.state.templates, REGIONS, page, request.app.state.settings)


@router.get("/namespaces/{namespace}/services/{service}/revisions/{name}")
async def revision_details(request: Request, namespace: str, service: str, name: str, format: str = "",
                           everything: str = "", download: str = "", partial: str = "") -> Response:
    checked("namespace", namespace)
    checked("Service", service)
    checked("revision", name)
    if yaml_views.requested(format) == "yaml":  # the revision alone: no Events, no Pods
        obj, revisions = await read_revisions(request, namespace, service)
        found = revision_page(namespace, obj, revisions, name, [], Instances())
        return yaml_views.respond(request, found.obj, yaml_views.Place(namespace, service, name, found.url),
                                  everything, download)
    page = await read_page(request, namespace, service, name)
    page.regions = render_page(request, page)
    return render(request, "_revision_live.html" if partial == "live" else "revision.html", page)
