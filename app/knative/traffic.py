"""Traffic plans: one row per revision in the UI, `spec.traffic` entries for Knative.

A row marked `latest` writes the floating entry (`latestRevision: true`), which Knative
moves to each new revision once it is Ready; every other row pins its revision by name.
Untagged pinned rows at 0% are dropped, as kn drops them; the floating entry is kept even
at 0% so that a revision created with no traffic stays listed and can be split to next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.knative.models import RevisionView, ServiceView, TrafficTarget
from app.knative.naming import MAX_NAME, dns1035_problem

FORM_ERROR = "__all__"


class TrafficError(Exception):
    """Invalid rows: `fields` maps a field key (`percent-0`, `tag-1`, or FORM_ERROR) to what to do."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(fields.values()))
        self.fields = fields


@dataclass(frozen=True)
class TrafficRow:
    revision: str  # "" for the revision the Create Revision wizard is about to create
    percent: int
    tag: str = ""
    latest: bool = False

    @property
    def key(self) -> str:
        return self.revision or "@latest"


@dataclass(frozen=True)
class RowInput:
    """A row as typed in a form, before validation."""

    revision: str
    percent: str
    tag: str = ""
    latest: bool = False


def parse_rows(inputs: Sequence[RowInput], service_name: str) -> list[TrafficRow]:
    """Typed rows to TrafficRows, with a message for each field that is wrong and for a sum that is not 100."""
    problems: dict[str, str] = {}
    rows: list[TrafficRow] = []
    for index, row in enumerate(inputs):
        text = row.percent.strip().rstrip("%").strip()
        if not text.isdigit() or int(text) > 100:
            problems[f"percent-{index}"] = "Enter a whole number from 0 to 100."
            percent = 0
        else:
            percent = int(text)
        tag = row.tag.strip()
        if tag:
            problem = tag_problem(tag, service_name)
            if problem:
                problems[f"tag-{index}"] = problem
        rows.append(TrafficRow(row.revision, percent, tag, row.latest))
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.tag and row.tag in seen:
            problems[f"tag-{index}"] = f'The tag "{row.tag}" is already used above; tags must be unique.'
        seen.setdefault(row.tag, index)
    if not any(key.startswith("percent-") for key in problems):
        total = sum(r.percent for r in rows)
        if total != 100:
            problems[FORM_ERROR] = f"Traffic must add up to 100%; these add up to {total}%."
    if problems:
        raise TrafficError(problems)
    return rows


def typed_total(inputs: Sequence[RowInput]) -> int | None:
    """The sum of what was typed, or None while some percentage is not a whole number."""
    values = [row.percent.strip().rstrip("%").strip() for row in inputs]
    if not all(v.isdigit() for v in values):
        return None
    return sum(int(v) for v in values)


def tag_problem(tag: str, service_name: str) -> str:
    problem = dns1035_problem(tag, "tag")
    if problem:
        return problem
    host = f"{tag}-{service_name}"
    if len(host) > MAX_NAME:
        return (f'The tag makes the host name "{host}" {len(host)} characters long; the limit is {MAX_NAME}. '
                "Use a shorter tag.")
    return ""


def plan(rows: Sequence[TrafficRow]) -> tuple[TrafficTarget, ...]:
    """`spec.traffic` for validated rows, in row order."""
    targets = []
    for row in rows:
        if row.latest:
            targets.append(TrafficTarget(row.percent, latest_revision=True, tag=row.tag))
        elif row.percent or row.tag:
            targets.append(TrafficTarget(row.percent, revision_name=row.revision, tag=row.tag))
    return tuple(targets)


def floating_revision(service: ServiceView) -> str:
    """The revision the floating entry serves now, or will serve first."""
    for target in service.traffic:
        if target.latest_revision and target.revision_name:
            return target.revision_name
    return service.latest_ready or service.latest_created


def current_rows(service: ServiceView, revisions: Sequence[RevisionView]) -> list[TrafficRow]:
    """One row per revision, newest first, with what it gets now; `latest` where a floating entry points."""
    floating = floating_revision(service) if any(t.latest_revision for t in service.spec_traffic) else ""
    rows = []
    for revision in revisions:
        tags = service.tags_of(revision.name)
        rows.append(TrafficRow(revision.name, service.percent_of(revision.name), tags[0] if tags else "",
                               latest=revision.name == floating))
    if floating and not any(r.latest for r in rows):
        rows.insert(0, TrafficRow(floating, 0, latest=True))
    return rows


def new_revision_rows(service: ServiceView, revisions: Sequence[RevisionView]) -> list[TrafficRow]:
    """The wizard's last step: the revision being created (floating, 0%) above every existing one, pinned."""
    pinned = [replace(row, latest=False) for row in current_rows(service, revisions)]
    return [TrafficRow("", 0, latest=True), *pinned]


def send_all_to(rows: Sequence[TrafficRow], revision: str) -> list[TrafficRow]:
    """Promote or roll back: 100% to one revision, 0% to the rest, tags and the floating entry kept."""
    if not any(r.revision == revision for r in rows):
        raise TrafficError({FORM_ERROR: f'Revision "{revision}" is not one of this Service\'s revisions.'})
    return [replace(row, percent=100 if row.revision == revision else 0) for row in rows]


def summary(targets: Sequence[TrafficTarget], service_name: str) -> str:
    """`00001 50% · 00002 50%`: revisions named by their suffix, as the list shows them."""
    parts = []
    for target in targets:
        name = target.revision_name
        short = name[len(service_name) + 1:] if name.startswith(f"{service_name}-") else name
        label = short or "latest"
        if target.tag:
            label += f" ({target.tag})"
        parts.append(f"{label} {target.percent}%")
    return " · ".join(parts)


def rows_summary(rows: Sequence[TrafficRow], service_name: str) -> str:
    """`00002 100% · 00001 0%`: every revision's share, for showing a change before it is made."""
    parts = []
    for row in rows:
        name = row.revision or "new revision"
        short = name[len(service_name) + 1:] if name.startswith(f"{service_name}-") else name
        parts.append(f"{short} {row.percent}%")
    return " · ".join(parts)
