"""The reads behind a revision's instances, its logs and its failure: its pods, its events and its instances' last
log lines, each made with the requesting identity's own client, so that the cluster's RBAC decides what a user may
see; and what the revision's page and its logs page show of them (one design for both)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import ClusterError, Forbidden, NotFound, Unreachable
from app.knative.events import EventView, about_instances, newest_first
from app.knative.instances import (
    LABEL_REVISION,
    NONE,
    USER_CONTAINER,
    Instance,
    Instances,
    instance_from,
    no_room,
)
from app.knative.models import LABEL_SERVICE
from app.web.permissions import forbidden_text, plainly

LOG_LINES = 20  # a failed revision's last lines shown on the details page
EVENT_PODS = 2  # the instances whose events join the revision's
INSTANCE_ROWS = 50  # the instances a revision's page lists one by one; the rest are counted


@dataclass
class Evidence:
    """What stands behind a failed revision's diagnosis."""

    revision: str
    events: list[EventView] = field(default_factory=list)
    log_pod: str = ""
    log: list[str] = field(default_factory=list)
    problem: str = ""  # why the events or the logs could not be read, "" when they were


async def service_pods(client: Cluster, namespace: str, service: str) -> list[dict[str, Any]] | None:
    """The Service's pods, or None when this identity may not list pods (the pages then read the revisions' status)."""
    try:
        listed = await client.list(r.POD, namespace, f"{LABEL_SERVICE}={service}")
    except (Forbidden, NotFound):
        return None
    return listed.get("items") or []


async def last_lines(client: Cluster, namespace: str, instance: Instance, lines: int,
                     timestamps: bool = False) -> list[str]:
    """The last lines of the instance's user container (of its last run, while it waits to restart); with
    `timestamps`, each after the node's time of it and a space."""
    async with client.log(instance.name, namespace, instance.container, tail_lines=lines,
                          timestamps=timestamps) as output:
        return [line async for line in output]


def live_instances(pods: Iterable[dict[str, Any]]) -> list[Instance]:
    """The pods that are not going away, as instances: the ready ones first, then the oldest."""
    found = (instance_from(p) for p in pods)
    return sorted((i for i in found if not i.terminating), key=lambda i: (not i.ready, i.created, i.name))


async def revision_pods(client: Cluster, namespace: str, revision: str) -> list[dict[str, Any]]:
    """The revision's pods, by Knative's label; raises the cluster's refusal."""
    listed = await client.list(r.POD, namespace, f"{LABEL_REVISION}={revision}")
    return list(listed.get("items") or [])


async def revision_instances(client: Cluster, namespace: str, revision: str) -> list[Instance]:
    return live_instances(await revision_pods(client, namespace, revision))


@dataclass(frozen=True)
class Listing:
    """A revision's instances as read for a user: None and why when they could not be listed."""

    pods: list[Instance] | None
    why: str = ""
    refused: bool = False  # `why` is the cluster's refusal (the user's RBAC)


def unlisted(error: ClusterError, user: str) -> Listing:
    """Why a revision's pods could not be listed, said for the user."""
    if isinstance(error, NotFound):
        return Listing(None, "This cluster does not report Pods.")
    if isinstance(error, Forbidden):
        return Listing(None, forbidden_text(error, user), refused=True)
    return Listing(None, f"The Pods could not be read: {error.message}")


async def list_instances(client: Cluster, user: str, namespace: str, revision: str) -> Listing:
    try:
        return Listing(await revision_instances(client, namespace, revision))
    except Unreachable:
        raise
    except ClusterError as error:
        return unlisted(error, user)


@dataclass(frozen=True)
class RevisionInstances:
    """A revision's instances as its pages show them (_revision_instances.html): in words, each one, or why they are
    not listed (the words then come from the revision's status)."""

    summary: Instances = Instances("", NONE)
    pods: list[Instance] | None = None
    why: str = ""

    @property
    def listed(self) -> list[Instance]:
        """The instances the table lists: the first INSTANCE_ROWS (ready first, then the oldest)."""
        return (self.pods or [])[:INSTANCE_ROWS]

    @property
    def unlisted(self) -> str:
        """The instances past the table's rows in words ("" when it lists them all): "7930 more: 7930 pending (no
        node takes more pods)". A min-scale in the thousands makes thousands of pods, most of them Pending."""
        rest = (self.pods or [])[INSTANCE_ROWS:]
        if not rest:
            return ""
        pending = [i for i in rest if i.unschedulable]
        said = f"{len(rest)} more"
        if pending:
            said += f": {len(pending)} pending ({no_room(pending[0].unschedulable)})"
        return said


@dataclass
class InstanceLog:
    instance: Instance
    lines: list[str] = field(default_factory=list)
    problem: str = ""  # why its log could not be read


async def read_log(client: Cluster, user: str, namespace: str, instance: Instance, lines: int,
                   timestamps: bool = False) -> InstanceLog:
    try:
        return InstanceLog(instance, await last_lines(client, namespace, instance, lines, timestamps))
    except NotFound:
        return InstanceLog(instance, problem="This instance is gone.")
    except ClusterError as error:
        if error.code >= 500 or error.code == 0:
            raise
        return InstanceLog(instance, problem=plainly(error, user))


async def read_logs(client: Cluster, user: str, namespace: str, instances: Sequence[Instance],
                    lines: int, timestamps: bool = False) -> list[InstanceLog]:
    """The last `lines` of each of `instances` (each from its own container), read side by side."""
    return list(await asyncio.gather(*(read_log(client, user, namespace, i, lines, timestamps) for i in instances)))


@dataclass
class RevisionLogs:
    """What a page shows of a revision's logs (_revision_logs.html): each instance's last lines, or why there are
    none; on the logs page also the lines written while it is open, elsewhere a link to it."""

    namespace: str
    service: str
    revision: str
    container: str = USER_CONTAINER
    logs: list[InstanceLog] = field(default_factory=list)
    tail: int = 0  # the lines asked of each instance
    more: int = 0  # instances not shown
    problem: str = ""  # why no instance could be listed
    following: bool = False  # the logs page: new lines are appended while it is open
    refused: str = ""  # why this user may not read them (the access review), "" when they may
    failed: bool = False  # the revision failed: no instance will start by itself
    unreached: bool = False  # no share and no tag: no request starts an instance (ServiceView.reachable)
    no_node: str = ""  # why its instances wait for a node (no_room), when none of them has one: none has a log

    def waiting_for_a_node(self, pods: Sequence[Instance] | None) -> RevisionLogs:
        """Said of it when its instances all wait for a node (Pending, Unschedulable): nothing to read yet."""
        live = [i for i in pods or () if not i.terminating]
        if live and all(i.unschedulable for i in live):
            self.no_node = no_room(live[0].unschedulable)
        return self

    @property
    def path(self) -> str:
        return f"/namespaces/{self.namespace}/services/{self.service}/revisions/{self.revision}/logs"

    @property
    def command(self) -> str:
        """The same lines in a terminal."""
        return (f"kubectl logs -n {self.namespace} -l {LABEL_REVISION}={self.revision} -c {self.container} "
                f"--tail={self.tail}")


def logs_problem(listing: Listing) -> str:
    """Why a revision's logs cannot be shown when its instances could not be listed ("" when they were)."""
    if listing.pods is not None:
        return ""
    if listing.refused:
        return f"{listing.why} Without it the console cannot find this revision's instances to show their logs."
    return listing.why


async def gather_evidence(client: Cluster, user: str, namespace: str, revision: str,
                          instances: Sequence[Instance]) -> Evidence:
    """Read as `user` (their client): a read their RBAC refuses is said plainly in `problem`."""
    evidence = Evidence(revision)
    names = [revision, *(i.name for i in instances[:EVENT_PODS])]
    reads = [client.list(r.EVENT, namespace, field_selector=f"involvedObject.name={name}") for name in names]
    # The ReplicaSet's warnings too: its FailedCreate says why no instance exists (a quota, a limit range).
    reads.append(client.list(r.EVENT, namespace, field_selector="involvedObject.kind=ReplicaSet,type=Warning"))
    try:
        listed = await asyncio.gather(*reads)
        found = [e for answer in listed[:-1] for e in answer.get("items") or []]
        found += [e for e in listed[-1].get("items") or [] if about_instances(e, revision)]
        evidence.events = newest_first(found)
    except Unreachable:
        raise
    except ClusterError as error:
        evidence.problem = f"Its events could not be read: {plainly(error, user)}"
    started = [i for i in instances if not i.unschedulable]  # one no node took has no log to read
    if started:
        evidence.log_pod = started[0].name
        try:
            evidence.log = await last_lines(client, namespace, started[0], LOG_LINES)
        except Unreachable:
            raise
        except ClusterError as error:
            evidence.problem = (evidence.problem + " " if evidence.problem else "") + \
                f"Its logs could not be read: {plainly(error, user)}"
    return evidence
