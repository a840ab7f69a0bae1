"""The reads behind a revision's instances and its failure: its pods, its events and its instances' last log lines,
each made with the requesting identity's own client, so that the cluster's RBAC decides what a user may see."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import ClusterError, Forbidden, NotFound, Unreachable
from app.knative.events import EventView, newest_first
from app.knative.instances import Instance
from app.knative.models import LABEL_SERVICE
from app.web.permissions import plainly

LOG_LINES = 20  # a failed revision's last lines shown on the details page
EVENT_PODS = 2  # the instances whose events join the revision's


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


async def last_lines(client: Cluster, namespace: str, instance: Instance, lines: int) -> list[str]:
    """The last lines of the instance's user container (of its last run, while it waits to restart)."""
    async with client.log(instance.name, namespace, instance.container, tail_lines=lines) as output:
        return [line async for line in output]


async def gather_evidence(client: Cluster, user: str, namespace: str, revision: str,
                          instances: Sequence[Instance]) -> Evidence:
    """Read as `user` (their client): a read their RBAC refuses is said plainly in `problem`."""
    evidence = Evidence(revision)
    names = [revision, *(i.name for i in instances[:EVENT_PODS])]
    reads = [client.list(r.EVENT, namespace, field_selector=f"involvedObject.name={name}") for name in names]
    try:
        listed = await asyncio.gather(*reads)
        evidence.events = newest_first(e for answer in listed for e in answer.get("items") or [])
    except Unreachable:
        raise
    except ClusterError as error:
        evidence.problem = f"Its events could not be read: {plainly(error, user)}"
    if instances:
        evidence.log_pod = instances[0].name
        try:
            evidence.log = await last_lines(client, namespace, instances[0], LOG_LINES)
        except Unreachable:
            raise
        except ClusterError as error:
            evidence.problem = (evidence.problem + " " if evidence.problem else "") + \
                f"Its logs could not be read: {plainly(error, user)}"
    return evidence
