"""Kubernetes Events about a revision and its instances, as a page lists them: newest first, Warnings marked."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

# client-go's EventAggregatorByReasonMessageFunc: the Event that counts the tenth and later Events about one object that
# differ only in their message (tools/record/events_cache.go) starts with this.
COMBINED = "(combined from similar events): "
# A pod a ReplicaSet could not create, in its FailedCreate message ('Error creating: pods "NAME" is forbidden: …'):
# NAME is the ReplicaSet's generateName and five random characters, different for each pod.
_POD_NAMED = re.compile(r'pods "([^"]*-)[a-z0-9]{5}"')


@dataclass(frozen=True)
class EventView:
    kind: str  # Normal or Warning
    reason: str
    message: str
    about: str  # kind/name of the object it is about
    last: str  # when it last happened, RFC 3339
    count: int = 1
    source: str = ""

    @property
    def warning(self) -> bool:
        return self.kind == "Warning"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def event_from(obj: dict[str, Any]) -> EventView:
    involved = _dict(obj.get("involvedObject"))
    count = obj.get("count")
    return EventView(
        kind=str(obj.get("type") or "Normal"), reason=str(obj.get("reason") or ""),
        message=str(obj.get("message") or ""),
        about=f"{str(involved.get('kind') or '').lower()}/{involved.get('name') or ''}",
        last=str(obj.get("lastTimestamp") or obj.get("eventTime") or _dict(obj.get("metadata")).get(
            "creationTimestamp") or ""),
        count=count if isinstance(count, int) and not isinstance(count, bool) else 1,
        source=str(_dict(obj.get("source")).get("component") or obj.get("reportingComponent") or ""),
    )


def without_pod_name(message: str) -> str:
    """A ReplicaSet's message about a pod it could not create, the same for every pod it refuses alike: the pod's
    random characters cut ('pods "web-00001-deployment-6d4b9-…"'), and without the correlator's prefix."""
    return _POD_NAMED.sub(r'pods "\1…"', message.removeprefix(COMBINED))


def newest_first(events: Iterable[dict[str, Any]], limit: int = 20) -> list[EventView]:
    """The newest `limit`, a ReplicaSet's refusals that differ only in the pod they name as one, counting them all
    (a quota that refuses a revision's 30 instances leaves 9 FailedCreate Events and one that counts the rest)."""
    parsed = sorted((event_from(e) for e in events if isinstance(e, dict)), key=lambda e: e.last, reverse=True)
    shown: list[EventView] = []
    alike: dict[tuple[str, ...], int] = {}  # → its index in `shown`
    for event in parsed:
        if not event.about.startswith("replicaset/"):
            shown.append(event)
            continue
        key = (event.kind, event.reason, event.about, event.source, without_pod_name(event.message))
        if key not in alike:
            alike[key] = len(shown)
            shown.append(replace(event, message=event.message.removeprefix(COMBINED)))
        else:
            first = shown[alike[key]]
            shown[alike[key]] = replace(first, count=first.count + event.count, message=key[-1])
    return shown[:limit]


def about_instances(event: dict[str, Any], revision: str) -> bool:
    """A warning about one of the revision's instances or about the ReplicaSet that creates them (of its Deployment
    `<revision>-deployment`, Knative's name for it: pkg/reconciler/revision/resources/names): the kubelet's BackOff, a
    failed pull or probe; the ReplicaSet controller's FailedCreate ("Error creating: …", a quota or limit range that
    refuses the pods)."""
    involved = _dict(event.get("involvedObject"))
    return bool(involved.get("kind") in ("Pod", "ReplicaSet") and event.get("type") == "Warning"
                and str(involved.get("name") or "").startswith(f"{revision}-deployment-"))
