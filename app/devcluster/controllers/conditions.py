"""Knative condition sets: conditions sorted by type, Ready following the first unhappy dependent."""

from __future__ import annotations

from typing import Any

SEVERITY_INFO = "Info"


def get(conditions: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == kind), None)


def status_of(obj: dict[str, Any] | None, kind: str = "Ready") -> str:
    if obj is None:
        return "Unknown"
    condition = get((obj.get("status") or {}).get("conditions") or [], kind)
    return condition.get("status", "Unknown") if condition else "Unknown"


def is_ready(obj: dict[str, Any] | None) -> bool:
    """Ready True for the generation the controller last saw."""
    if obj is None:
        return False
    status = obj.get("status") or {}
    return status_of(obj) == "True" and status.get("observedGeneration") == obj["metadata"].get("generation")


class ConditionSet:
    """Builds one object's conditions, keeping lastTransitionTime when a status does not change."""

    def __init__(self, previous: list[dict[str, Any]] | None, now: str, happy: str, dependents: tuple[str, ...]):
        self.previous = {c.get("type"): c for c in previous or [] if isinstance(c, dict)}
        self.now = now
        self.happy = happy
        self.dependents = dependents
        self.conditions: dict[str, dict[str, Any]] = {}

    def set(self, kind: str, status: str, reason: str = "", message: str = "", severity: str = "") -> None:
        condition: dict[str, Any] = {"type": kind, "status": status}
        old = self.previous.get(kind)
        stamp = old.get("lastTransitionTime") if old and old.get("status") == status else None
        condition["lastTransitionTime"] = stamp or self.now
        if reason:
            condition["reason"] = reason
        if message:
            condition["message"] = message
        if severity:
            condition["severity"] = severity
        self.conditions[kind] = condition

    def result(self) -> list[dict[str, Any]]:
        """The conditions with the happy one derived from the dependents, sorted by type."""
        if not self.dependents:
            return [self.conditions[k] for k in sorted(self.conditions)]
        states = [self.conditions.get(d) for d in self.dependents]
        # Like knative.dev/pkg: the most recent unhappy dependent, False before Unknown; on a
        # tie of (second-precision) times, one that says why.
        unhappy = sorted(
            (c for c in states if c is not None and c["status"] != "True"),
            key=lambda c: (c["lastTransitionTime"], bool(c.get("reason"))),
            reverse=True,
        )
        false = [c for c in unhappy if c["status"] == "False"]
        unknown = [c for c in unhappy if c["status"] != "False"]
        first = (false or unknown)[0] if false or unknown else None
        if first is not None:
            self.set(self.happy, first["status"], first.get("reason", ""), first.get("message", ""))
        elif None in states:
            self.set(self.happy, "Unknown")
        else:
            self.set(self.happy, "True")
        return [self.conditions[k] for k in sorted(self.conditions)]
