"""Knative condition sets (knative.dev/pkg apis/condition_set.go): conditions sorted by type, the happy
condition following the dependents in the order the reconciler marks them."""

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
        # The dependents and the happy condition as Knative's condition manager sees them while the
        # reconciler marks one after another: the stored status first, each mark on top of it.
        self._state = {k: v for k, v in self.previous.items() if k == happy or k in dependents}
        self._happy: tuple[str, str, str] | None = None

    def set(self, kind: str, status: str, reason: str = "", message: str = "", severity: str = "",
            mark: bool = True) -> None:
        """Marks the condition (MarkTrue/MarkFalse/MarkUnknown); mark=False keeps it as it stands, as a
        reconciler that returns early leaves its other conditions, without touching the happy one."""
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
        if kind in self.dependents:
            if mark:
                self._mark(kind, condition)
            else:
                self._state[kind] = condition

    def _mark(self, kind: str, condition: dict[str, Any]) -> None:
        """What MarkTrue, MarkFalse and MarkUnknown do to the happy condition."""
        self._state[kind] = condition
        reason, message = condition.get("reason", ""), condition.get("message", "")
        if condition["status"] == "False":
            self._set_happy("False", reason, message)
        elif condition["status"] != "True":
            if any((self._state.get(d) or {}).get("status") == "False" for d in self.dependents):
                # A failed dependent trumps an unknown one; a happy condition not yet False takes this reason.
                if (self._state.get(self.happy) or {}).get("status") != "False":
                    self._set_happy("False", reason, message)
            else:
                self._set_happy("Unknown", reason, message)
        else:
            first = self._unhappy_dependent()
            if first is None:
                self._set_happy("True", "", "")
            else:
                self._set_happy(first["status"], first.get("reason", ""), first.get("message", ""))

    def _set_happy(self, status: str, reason: str, message: str) -> None:
        self._happy = (status, reason, message)
        self._state[self.happy] = {"type": self.happy, "status": status, "reason": reason, "message": message}

    def _unhappy_dependent(self) -> dict[str, Any] | None:
        """findUnhappyDependent: the most recent False dependent, else the most recent Unknown; on a tie of
        (second-precision) times, one that says why."""
        states = [self._state.get(d) for d in self.dependents]
        unhappy = sorted(
            (c for c in states if c is not None and c.get("status") != "True"),
            key=lambda c: (c.get("lastTransitionTime", ""), bool(c.get("reason"))),
            reverse=True,
        )
        false = [c for c in unhappy if c.get("status") == "False"]
        if false or unhappy:
            return (false or unhappy)[0]
        return {"status": "Unknown"} if None in states else None

    def result(self) -> list[dict[str, Any]]:
        """The conditions with the happy one derived from the dependents, sorted by type."""
        if not self.dependents:
            return [self.conditions[k] for k in sorted(self.conditions)]
        self.set(self.happy, *(self._happy or ("Unknown",)))
        return [self.conditions[k] for k in sorted(self.conditions)]
