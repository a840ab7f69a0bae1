"""Kubernetes Events about a revision and its instances, as a page lists them: newest first, Warnings marked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


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


def newest_first(events: Iterable[dict[str, Any]], limit: int = 20) -> list[EventView]:
    parsed = [event_from(e) for e in events if isinstance(e, dict)]
    return sorted(parsed, key=lambda e: e.last, reverse=True)[:limit]


def about_instances(event: dict[str, Any], revision: str) -> bool:
    """A warning about one of the revision's instances or about the ReplicaSet that creates them (of its Deployment
    `<revision>-deployment`, Knative's name for it: pkg/reconciler/revision/resources/names): the kubelet's BackOff, a
    failed pull or probe; the ReplicaSet controller's FailedCreate ("Error creating: …", a quota or limit range that
    refuses the pods)."""
    involved = _dict(event.get("involvedObject"))
    return bool(involved.get("kind") in ("Pod", "ReplicaSet") and event.get("type") == "Warning"
                and str(involved.get("name") or "").startswith(f"{revision}-deployment-"))
