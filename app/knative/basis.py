"""What a form was built from, so that a write can tell a real conflict from a status update.

The controllers write `status` (and the API server bumps `resourceVersion`) while a user reads a form: a new
revision becoming Ready is enough. Those changes do not touch what the user edits. A form therefore carries
the Service's uid, `metadata.generation` (which only a `spec` change moves) and the traffic and template it
showed (a form that does not edit the template carries only a digest of it, to say whether someone else changed
it). When the resourceVersion it carries is stale but the fresh object still has that spec, the console writes
again with the fresh resourceVersion (one conditional write each time); otherwise the user is shown the other
change beside their input.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from app.knative.history import HISTORY
from app.knative.models import TrafficTarget, parse_traffic, service_from, template_from
from app.knative.traffic import describe, spec_shares

MAX_FIELD = 200_000  # a template of a few hundred env vars; anything longer was not made by this console


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _loads(text: str) -> Any:
    if not text or len(text) > MAX_FIELD:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Basis:
    """The hidden fields a form carries: `basis_uid`, `basis_generation`, `basis_traffic`, `basis_template`."""

    resource_version: str = ""
    uid: str = ""
    generation: str = ""
    traffic: str = ""  # canonical JSON of spec.traffic as shown
    template: str = ""  # canonical JSON of spec.template as shown; "" for forms that do not edit it
    history: str = ""  # the console's history annotation as read (app.knative.history), for a write without a read
    # A digest of spec.template as shown, for forms that do not carry the template: the generation moves for a
    # traffic change too, so it alone cannot tell whether someone else also changed the template.
    template_digest: str = ""

    @classmethod
    def of(cls, obj: dict[str, Any], with_template: bool = False) -> Basis:
        meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
        annotations = meta.get("annotations")
        history = annotations.get(HISTORY) if isinstance(annotations, dict) else None
        template = canonical(spec.get("template") or {})
        return cls(str(meta.get("resourceVersion") or ""), str(meta.get("uid") or ""),
                   str(meta.get("generation") or ""), canonical(spec.get("traffic") or []),
                   template if with_template else "", history if isinstance(history, str) else "",
                   "" if with_template else template_digest(template))

    def holds_for(self, obj: dict[str, Any]) -> bool:
        """True when `obj` still has the spec this form was built from (only status or metadata moved)."""
        fresh = Basis.of(obj, with_template=bool(self.template))
        if fresh.resource_version == self.resource_version:
            return True
        return bool(self.uid and self.generation) and (self.uid, self.generation, self.traffic, self.template) == \
            (fresh.uid, fresh.generation, fresh.traffic, fresh.template)

    def shown_traffic(self) -> tuple[TrafficTarget, ...]:
        """The traffic the form showed, for saying what changed since; () when the field is not readable."""
        return parse_traffic(_loads(self.traffic))

    def spec_traffic(self) -> Any:
        """spec.traffic as the form showed it (JSON), None when the field is not readable."""
        return _loads(self.traffic)

    def shown_template(self) -> dict[str, Any]:
        loaded = _loads(self.template)
        return loaded if isinstance(loaded, dict) else {}


def template_digest(template: str) -> str:
    """A short digest of a template's canonical JSON."""
    return hashlib.sha256(template.encode()).hexdigest()[:16]


def _template_moved(basis: Basis, fresh: dict[str, Any]) -> bool:
    """Whether someone else changed the template of a Service whose form did not carry it."""
    spec = fresh.get("spec") or {}
    if basis.template_digest:
        return template_digest(canonical(spec.get("template") or {})) != basis.template_digest
    # A form without the digest: a generation that moved while the traffic stayed can only be the template.
    return str(fresh.get("metadata", {}).get("generation", "")) != basis.generation and \
        canonical(spec.get("traffic") or []) == basis.traffic


def what_changed(basis: Basis, fresh: dict[str, Any]) -> list[str]:
    """The other writer's change, in sentences, from what the form showed to what the cluster has now."""
    spec = fresh.get("spec") or {}
    changes = []
    if fresh.get("metadata", {}).get("uid") != basis.uid and basis.uid:
        changes.append("The Service was deleted and created again under the same name.")
    service = service_from(fresh)
    if canonical(spec.get("traffic") or []) != basis.traffic:
        before, after = spec_shares(service, basis.shown_traffic()), spec_shares(service)
        changes.append(f"Traffic was {describe(before) or 'unknown'}; it is now {describe(after) or 'empty'}.")
    shown = basis.shown_template()
    template = spec.get("template") or {}
    if basis.template and canonical(template) != basis.template:
        old, new = template_from(_meta(shown), shown.get("spec")), template_from(_meta(template), template.get("spec"))
        fields = [(label, getattr(old, key), getattr(new, key)) for key, label in _TEMPLATE_FIELDS
                  if getattr(old, key) != getattr(new, key)]
        changes += [f"{label} was {_show(a)}; it is now {_show(b)}." for label, a, b in fields] or \
            ["The revision template changed (in fields this form does not show)."]
    elif not basis.template and _template_moved(basis, fresh):
        changes.append("The revision template changed: a new revision is on its way.")
    return changes or ["The Service's specification changed."]


_TEMPLATE_FIELDS = (("image", "Image"), ("port", "Port"), ("protocol", "Access protocol"), ("env", "Environment"),
                    ("cpu_request", "CPU request"), ("cpu_limit", "CPU limit"), ("memory_request", "Memory request"),
                    ("memory_limit", "Memory limit"), ("scaling", "Scaling"))


def _meta(template: dict[str, Any]) -> Any:
    return template.get("metadata")


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(f"{e.name}={e.value}" for e in value) or "(none)"
    if hasattr(value, "describe"):
        return str(value.describe())
    return str(value) if value not in ("", None) else "(not set)"
