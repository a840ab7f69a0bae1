"""Traffic plans: the rows a form shows, and the `spec.traffic` entries Knative gets for them.

A row is one of three kinds, and a row never changes kind:
- LATEST, the floating entry (`latestRevision: true`, kn's `@latest`): it follows every new revision once
  that revision is Ready. It appears when the Service has one, and only the user adds or removes it.
- NAMED, pinned to one revision by name (`revisionName`), whatever happens to newer revisions.
- NEW, the revision the Create Revision wizard is about to make, pinned by the name it will get.

Untagged NAMED rows at 0% are dropped from `spec.traffic`, as kn drops them; a LATEST row is kept even at
0% (the user removes it on purpose), so that nothing a user did not ask for moves between the two.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from app.knative.models import FAILED, SUCCESS, RevisionView, ServiceView, TrafficTarget
from app.knative.naming import MAX_NAME, dns1035_problem, short_name
from app.knative.numbers import whole
from app.knative.rollout import rollout_progress

FORM_ERROR = "__all__"
LATEST, NAMED, NEW = "latest", "revision", "new"
KINDS = (LATEST, NAMED, NEW)
NEWEST_SHOWN = 5  # with many revisions, the form shows these newest ones beside every row that has traffic


class TrafficError(Exception):
    """Invalid rows: `fields` maps a field key (`percent-0`, `tag-1`, or FORM_ERROR) to what to do."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(fields.values()))
        self.fields = fields


@dataclass(frozen=True)
class TrafficRow:
    kind: str
    revision: str  # NAMED, NEW: the revision; LATEST: the one it serves now ("" when none is ready yet)
    percent: int
    tag: str = ""


@dataclass(frozen=True)
class RowInput:
    """A row as typed in a form, before validation."""

    kind: str
    revision: str
    percent: str
    tag: str = ""


def as_inputs(rows: Sequence[TrafficRow]) -> list[RowInput]:
    return [RowInput(r.kind, r.revision, str(r.percent), r.tag) for r in rows]


def _percent(text: str) -> int | None:
    return whole(text.strip().removesuffix("%").strip(), 100)


def unready(revisions: Sequence[RevisionView]) -> dict[str, str]:
    """Why each revision that is not Ready can take no share of traffic, said so that the user knows what to do."""
    reasons = {}
    for revision in revisions:
        status = revision.status
        if status.label == FAILED:
            reasons[revision.name] = (f"{revision.name} has failed ({status.reason or 'not Ready'}), so it cannot take "
                                      "traffic: give it 0%, and create a new revision that fixes it.")
        elif status.label != SUCCESS:
            reasons[revision.name] = (f"{revision.name} is not Ready yet, so it cannot take traffic: give it 0% for "
                                      "now, and its share once it is Ready.")
    return reasons


def parse_rows(
    inputs: Sequence[RowInput], service_name: str, revisions: Collection[str] | None = None, new_revision: str = "",
    not_ready: Mapping[str, str] | None = None,
) -> list[TrafficRow]:
    """Typed rows to TrafficRows, with a message for each field that is wrong and for a sum that is not 100.

    `revisions` are the Service's revisions (a NAMED row must name one of them); `new_revision` the name a
    NEW row stands for (the wizard's), "" where there is no NEW row; `not_ready` the revisions that may have no
    share, with why (see `unready`).
    """
    problems: dict[str, str] = {}
    rows: list[TrafficRow] = []
    for index, row in enumerate(inputs):
        percent = _percent(row.percent)
        if percent is None:
            problems[f"percent-{index}"] = "Enter a whole number from 0 to 100."
        tag = row.tag.strip()
        problem = tag_problem(tag, service_name) if tag else ""
        if problem:
            problems[f"tag-{index}"] = problem
        revision = row.revision
        if row.kind == NEW and new_revision:
            revision = new_revision
        elif row.kind == LATEST:
            revision = ""
        elif row.kind != NAMED or (revisions is not None and revision not in revisions):
            problems[FORM_ERROR] = ("This form lists a revision that this Service does not have (any more). "
                                    "Reload the page and enter the split again.")
        elif percent and not_ready and revision in not_ready:
            problems[f"percent-{index}"] = not_ready[revision]
        rows.append(TrafficRow(row.kind, revision, percent or 0, tag))
    seen: set[str] = set()
    for index, parsed in enumerate(rows):
        if parsed.tag and parsed.tag in seen:
            problems[f"tag-{index}"] = f'The tag "{parsed.tag}" is already used above; tags must be unique.'
        seen.add(parsed.tag)
    if sum(1 for r in rows if r.kind == NEW) > 1:
        problems[FORM_ERROR] = "This form has the new revision twice. Reload the page and enter the split again."
    if not any(key.startswith("percent-") for key in problems) and FORM_ERROR not in problems:
        total = sum(r.percent for r in rows)
        if total != 100:
            problems[FORM_ERROR] = f"Traffic must add up to 100%; these add up to {total}%."
    if problems:
        raise TrafficError(problems)
    return rows


def typed_total(inputs: Sequence[RowInput]) -> int | None:
    """The sum of what was typed, or None while some percentage is not a whole number from 0 to 100."""
    values = [_percent(row.percent) for row in inputs]
    return None if any(v is None for v in values) else sum(v or 0 for v in values)


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
        if row.kind == LATEST:
            targets.append(TrafficTarget(row.percent, latest_revision=True, tag=row.tag))
        elif row.percent or row.tag:
            targets.append(TrafficTarget(row.percent, revision_name=row.revision, tag=row.tag))
    return tuple(targets)


def names_new_revision(rows: Sequence[TrafficRow]) -> bool:
    """Whether the plan refers to the new revision by name (which then has to be given that name)."""
    return any(r.kind == NEW and (r.percent or r.tag) for r in rows)


def floating_revision(service: ServiceView) -> str:
    """The revision the floating entry serves now: the Route's answer, else the latest ready revision."""
    for target in service.status_traffic:
        if target.latest_revision and target.revision_name:
            return target.revision_name
    return service.latest_ready


def current_rows(service: ServiceView, revisions: Sequence[str]) -> list[TrafficRow]:
    """The Service's `spec.traffic`, one row per entry (floating rows first), then every other revision at 0%.

    `revisions` are the Service's revision names, newest first; named rows follow that order.
    """
    floating = floating_revision(service)
    latest = [TrafficRow(LATEST, floating, t.percent, t.tag) for t in service.spec_traffic if t.latest_revision]
    pinned = [TrafficRow(NAMED, t.revision_name, t.percent, t.tag) for t in service.spec_traffic
              if not t.latest_revision]
    order = {name: index for index, name in enumerate(revisions)}
    pinned.sort(key=lambda r: order.get(r.revision, len(order)))  # a missing revision stays, last
    named = {r.revision for r in pinned}
    rest = [TrafficRow(NAMED, name, 0) for name in revisions if name not in named]
    return [*latest, *sorted(pinned + rest, key=lambda r: order.get(r.revision, len(order)))]


def rows_for(service: ServiceView, targets: Sequence[TrafficTarget], revisions: Sequence[str]) -> list[TrafficRow]:
    """Rows that plan exactly `targets` (a split from the history, to restore), in their order, then every other
    revision at 0% (which `plan` leaves out again)."""
    floating = floating_revision(service)
    rows = [TrafficRow(LATEST, floating, t.percent, t.tag) if t.latest_revision else
            TrafficRow(NAMED, t.revision_name, t.percent, t.tag) for t in targets]
    named = {t.revision_name for t in targets if not t.latest_revision}
    return rows + [TrafficRow(NAMED, name, 0) for name in revisions if name not in named]


def latest_row() -> TrafficRow:
    """The floating row a user adds on purpose: 0% until they give it a share."""
    return TrafficRow(LATEST, "", 0)


@dataclass(frozen=True)
class NewRevisionPlan:
    rows: list[TrafficRow]
    kept_on: str = ""  # where the floating share was kept: a revision, or "a (41%) and b (9%)" mid-rollout; or ""
    kept: int = 0


def new_revision_rows(service: ServiceView, revisions: Sequence[str], new_revision: str) -> NewRevisionPlan:
    """The wizard's Traffic Splitting Settings, prefilled so that nothing moves to the new revision unasked.

    The new revision starts at 0%. A floating entry would hand its share to the new revision as soon as it is
    Ready, so the prefill keeps that share on the revision the floating entry serves now (the floating row
    stays, at 0%, with its tag); the page says so, and the user can put it back. During a gradual rollout the
    floating share is divided between the revisions in it: each keeps the part it has now.
    """
    rows = current_rows(service, revisions)
    moved = sum(r.percent for r in rows if r.kind == LATEST)
    rolling = rollout_progress(service)
    parts = [*rolling.others, (rolling.revision, rolling.share)] if rolling else [(floating_revision(service), moved)]
    if moved and sum(p for _, p in parts) == moved and all(name in revisions for name, _ in parts):
        for name, part in parts:
            at = next(i for i, r in enumerate(rows) if r.kind == NAMED and r.revision == name)
            rows[at] = replace(rows[at], percent=rows[at].percent + part)
        rows = [replace(r, percent=0) if r.kind == LATEST else r for r in rows]
    else:
        moved = 0
    kept_on = " and ".join(f"{name} ({part}%)" for name, part in parts) if len(parts) > 1 else parts[0][0]
    return NewRevisionPlan([TrafficRow(NEW, new_revision, 0), *rows], kept_on if moved else "", moved)


def newest_serving(service: ServiceView, generations: Mapping[str, int]) -> int:
    """The generation of the newest revision that gets traffic now (0 when none does, or none is known by one);
    `generations` by revision name."""
    return max((generations.get(t.revision_name, 0) for t in service.traffic if t.percent > 0 and t.revision_name),
               default=0)


def rolls_back(generation: int, newest: int) -> bool:
    """Whether sending 100% to a revision of this generation goes back: to one older than the newest revision that
    gets traffic now (`newest_serving`). Any other 100% goes forward ("Send 100%", a promote), whether or not the
    revision is the latest."""
    return 0 < generation < newest


def send_all_to(rows: Sequence[TrafficRow], revision: str) -> list[TrafficRow]:
    """Promote or roll back: 100% to that revision's named row, 0% to every other row; tags and rows kept."""
    target = next((i for i, r in enumerate(rows) if r.kind == NAMED and r.revision == revision), None)
    if target is None:
        raise TrafficError({FORM_ERROR: f'Revision "{revision}" is not one of this Service\'s revisions.'})
    return [replace(row, percent=100 if index == target else 0) for index, row in enumerate(rows)]


def shown_rows(rows: Sequence[RowInput], revisions: Sequence[str], keep: Collection[str] = (),
               newest: int = NEWEST_SHOWN) -> tuple[list[RowInput], list[str]]:
    """The rows a form shows, and the revisions (newest first) that have no row shown, to add with a picker.

    Shown: every floating or new row, every row with a share or a tag (or anything but a plain 0 typed in
    it), the newest `newest` revisions, and the revisions in `keep`. A row left out is an untagged 0% named
    row, which `plan` drops anyway.
    """
    recent = set(revisions[:newest]) | set(keep)
    shown = [row for row in rows if row.kind != NAMED or row.tag.strip() or row.percent.strip() not in ("0", "0%")
             or row.revision in recent]
    named = {row.revision for row in shown if row.kind == NAMED}
    return shown, [name for name in revisions if name not in named]


@dataclass(frozen=True)
class Now:
    """What a row gets now (the "Now" column): through its own entries, and for a named row also through the floating
    entry while that serves its revision."""

    own: int
    floating: int = 0

    @property
    def total(self) -> int:
        return self.own + self.floating


def routed_now(service: ServiceView, held: bool = False) -> tuple[TrafficTarget, ...]:
    """Where traffic goes now: `spec.traffic`, each floating entry resolved to the revision it serves; while Knative
    holds a split it cannot apply (`held`: app.knative.diagnosis.held_split), the Route's `status.traffic`, the last
    split it applied, which is what it still routes; and during a gradual rollout `status.traffic` too, where the
    floating entry's share is divided between the revisions in the rollout."""
    if (held or rollout_progress(service) is not None) and service.status_traffic:
        return service.status_traffic
    floating = floating_revision(service)
    return tuple(replace(t, revision_name=floating) if t.latest_revision else t for t in service.spec_traffic)


def now_of(targets: Sequence[TrafficTarget], kind: str, revision: str) -> Now:
    """What a row of this kind and revision gets of `targets` (see `routed_now`)."""
    if kind == LATEST:
        return Now(sum(t.percent for t in targets if t.latest_revision))
    if kind == NAMED:
        return Now(sum(t.percent for t in targets if not t.latest_revision and t.revision_name == revision),
                   sum(t.percent for t in targets if t.latest_revision and t.revision_name == revision))
    return Now(0)


@dataclass(frozen=True)
class Share:
    """One part of a split as the pages show it: a revision or the floating entry, its percent and tag."""

    label: str  # the revision's short name; for the floating entry, the short name of the one it serves now
    percent: int
    tag: str = ""
    floating: bool = False
    rolling: bool = False  # the floating entry during a gradual rollout: `label` is the revision it moves to


def shares(targets: Sequence[TrafficTarget], service_name: str) -> list[Share]:
    """Traffic targets (spec or status) as shares, floating entries apart from the named revisions."""
    return [Share(short_name(t.revision_name, service_name), t.percent, t.tag, t.latest_revision) for t in targets]


def spec_shares(service: ServiceView, targets: Sequence[TrafficTarget] | None = None) -> list[Share]:
    """`spec.traffic` (or these planned targets) as shares, floating entries named by the revision they serve now
    (during a gradual rollout, the one they move to: a floating entry kept goes on rolling out, rollout.go's Step)."""
    rolling = rollout_progress(service)
    floating = short_name(rolling.revision if rolling else floating_revision(service), service.name)
    return [Share(floating if t.latest_revision else short_name(t.revision_name, service.name), t.percent, t.tag,
                  t.latest_revision, t.latest_revision and rolling is not None)
            for t in (service.spec_traffic if targets is None else targets)]


def share_label(part: Share) -> str:
    if part.rolling:
        return f"latest ready revision (rolling out {part.label})"
    return f"latest ready revision (now {part.label or 'none ready'})" if part.floating else part.label


def describe(parts: Sequence[Share]) -> str:
    """`latest ready revision (now 00002) 40% · 00001 60% (tag stable)`: the plain-text form of a split."""
    return " · ".join(f"{share_label(p)} {p.percent}%" + (f" (tag {p.tag})" if p.tag else "") for p in parts)
