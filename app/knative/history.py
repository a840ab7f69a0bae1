"""A Service's history: what the console changed, kept in an annotation of the Service, merged with the cluster's
Events and with what was changed outside the console.

Every change the console makes is written twice. An Event on the Service (reason `TrafficSplit`, `RolledBack`, …),
where `kubectl describe` and `kubectl get events` show it, which the API server deletes after its event TTL (an hour
by default). And an entry in the annotation `knative-console/history` of the Service itself, written in the same
conditional PATCH as the change, which keeps the last LIMIT changes as long as the Service exists: when, who, the
split before and after, and the Service's `metadata.generation` before and after (only a `spec` change moves it).

A change made elsewhere (kubectl, kn, GitOps) moves the generation without adding an entry, so a gap in the
generations recorded, or a generation newer than the last entry, is a change made outside the console; the
Service's `serving.knative.dev/lastModifier` (set by Knative's webhook on every spec change) names who made the
latest one, and revisions no entry made are listed with their creator. What came before the oldest entry was done
outside the console too (a Service it did not create), unless the annotation has dropped older entries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from app.knative.models import (
    ANNOTATION_CREATOR,
    ANNOTATION_LAST_MODIFIER,
    TrafficTarget,
    generation_of,
    parse_traffic,
)
from app.knative.naming import short_name

HISTORY = "knative-console/history"
CHANGE = "knative-console/change"  # on the console's Events: the id of the entry they record
COMPONENT = "knative-console"  # the Events' reportingComponent and source.component
LIMIT = 50
MAX_BYTES = 64 * 1024  # a Service's annotations may take 256 KiB in all; the history keeps to a quarter of that
LATEST = "@latest"  # kn's name for the floating entry


@dataclass(frozen=True)
class Action:
    reason: str  # the Event's reason
    title: str  # how the history names it


ACTIONS = {
    "create": Action("ServiceCreated", "Service created"),
    "revision": Action("RevisionCreated", "Revision created"),
    "split": Action("TrafficSplit", "Traffic split"),
    "promote": Action("Promoted", "Promoted"),
    "rollback": Action("RolledBack", "Rolled back"),
    "restore": Action("TrafficRestored", "Split restored"),
    "delete": Action("ServiceDeleted", "Service deleted"),
}


@dataclass(frozen=True)
class Entry:
    id: str
    at: str  # RFC 3339, UTC
    by: str
    action: str
    generations: tuple[int, int]  # the Service's metadata.generation before and after the change
    before: tuple[TrafficTarget, ...]
    after: tuple[TrafficTarget, ...]
    revision: str = ""  # the revision a create or Create Revision made
    restored: str = ""  # for a restore: the id of the entry whose split it put back

    @property
    def title(self) -> str:
        action = ACTIONS.get(self.action)
        return action.title if action else self.action

    @property
    def after_spec(self) -> list[dict[str, Any]]:
        """The split it set, as spec.traffic (to compare with `normalized` traffic)."""
        return [t.to_spec() for t in self.after]

    def encoded(self) -> dict[str, Any]:
        value: dict[str, Any] = {"id": self.id, "at": self.at, "by": self.by, "do": self.action,
                                 "g": list(self.generations), "from": _targets_out(self.before),
                                 "to": _targets_out(self.after)}
        if self.revision:
            value["rev"] = self.revision
        if self.restored:
            value["of"] = self.restored
        return value


def _targets_out(targets: Sequence[TrafficTarget]) -> list[list[Any]]:
    """`[name or "@latest", percent]`, with the tag as a third item when there is one: kn's words, compactly."""
    return [[LATEST if t.latest_revision else t.revision_name, t.percent] + ([t.tag] if t.tag else [])
            for t in targets]


def _targets_in(value: Any) -> tuple[TrafficTarget, ...]:
    targets = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, list) or len(item) < 2 or not isinstance(item[0], str) or \
                not isinstance(item[1], int) or isinstance(item[1], bool):
            continue
        tag = item[2] if len(item) > 2 and isinstance(item[2], str) else ""
        latest = item[0] == LATEST
        targets.append(TrafficTarget(item[1], "" if latest else item[0], latest, tag))
    return tuple(targets)


def _entry(value: Any) -> Entry | None:
    if not isinstance(value, dict):
        return None
    generations = value.get("g")
    if not (isinstance(generations, list) and len(generations) == 2 and
            all(isinstance(g, int) and not isinstance(g, bool) for g in generations)):
        generations = [0, 0]
    texts = {key: str(value[key]) if isinstance(value.get(key), str) else "" for key in
             ("id", "at", "by", "do", "rev", "of")}
    if not texts["id"] or not texts["do"]:
        return None
    return Entry(texts["id"], texts["at"], texts["by"], texts["do"], (generations[0], generations[1]),
                 _targets_in(value.get("from")), _targets_in(value.get("to")), texts["rev"], texts["of"])


def entries(annotation: str) -> list[Entry]:
    """The recorded changes, newest first; whatever cannot be read is left out (a hand-edited annotation)."""
    try:
        decoded = json.loads(annotation) if annotation else []
    except ValueError:
        return []
    found = [_entry(item) for item in decoded] if isinstance(decoded, list) else []
    return [e for e in found if e is not None]


def entries_of(obj: dict[str, Any]) -> list[Entry]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(HISTORY) if isinstance(annotations, dict) else None
    return entries(value if isinstance(value, str) else "")


def find(obj: dict[str, Any], ident: str) -> Entry | None:
    return next((e for e in entries_of(obj) if e.id == ident), None)


def _bounded(items: list[Any]) -> str:
    """Encoded items (newest first): at most LIMIT, and at most MAX_BYTES."""
    kept = items[:LIMIT]
    while True:
        text = json.dumps(kept, separators=(",", ":"), ensure_ascii=False)
        if len(text.encode()) <= MAX_BYTES or len(kept) <= 1:
            return text
        kept.pop()


def encode(recorded: Sequence[Entry]) -> str:
    """The annotation's value for these entries, newest first."""
    return _bounded([e.encoded() for e in recorded])


def record(annotation: str, entry: Entry) -> str:
    """The annotation's new value with `entry` as the newest change; the older entries are carried over as they
    are (a write reads them without parsing each)."""
    try:
        older = json.loads(annotation) if annotation else []
    except ValueError:
        older = []
    return _bounded([entry.encoded(), *(item for item in older if isinstance(item, dict))] if isinstance(older, list)
                    else [entry.encoded()])


def normalized(targets: Any) -> list[dict[str, Any]]:
    """spec.traffic as Knative's defaulting leaves it, so that two spellings of one split compare equal."""
    return [t.to_spec() for t in parse_traffic(targets)]


def generations(before: str, spec_changes: bool) -> tuple[int, int]:
    """The generation a write starts from (as the form or the read saw it) and the one it leaves."""
    start = int(before) if before.isascii() and before.isdigit() and len(before) < 19 else 0
    return start, start + 1 if spec_changes else start


def make_entry(ident: str, at: str, by: str, action: str, generation: str, before_traffic: Any,
               after: Sequence[TrafficTarget], template_changes: bool = False, revision: str = "",
               restored: str = "") -> Entry:
    """The entry for a change from a Service whose generation and spec.traffic were these, to `after`."""
    spec_changes = template_changes or normalized(before_traffic) != [t.to_spec() for t in after]
    return Entry(ident, at, by, action, generations(generation, spec_changes), parse_traffic(before_traffic),
                 tuple(after), revision, restored)


# -- words ----------------------------------------------------------------------------------------


def split_text(targets: Sequence[TrafficTarget], service: str) -> str:
    """`00001 50% · 00002 50% (tag candidate) · latest ready revision 0%`; "none" for an empty split."""
    parts = [("latest ready revision" if t.latest_revision else short_name(t.revision_name, service)) +
             f" {t.percent}%" + (f" (tag {t.tag})" if t.tag else "") for t in targets]
    return " · ".join(parts) or "none"


def change_text(entry: Entry, service: str) -> str:
    """The Event's message and the history's detail: the split before → after."""
    if entry.action == "create":
        return f"traffic: {split_text(entry.after, service)}"
    if entry.action == "delete":
        return f"it sent: {split_text(entry.before, service)}"
    before, after = split_text(entry.before, service), split_text(entry.after, service)
    if before == after:  # a new revision that leaves the split as it was
        return f"traffic: {after} (unchanged)"
    return f"traffic: {before} → {after}"


def event_message(entry: Entry, service: str, what: str = "") -> str:
    """`Traffic split by alice: traffic: 00001 100% → 00001 50% · 00002 50%` (with `what` for a new revision)."""
    head = entry.title + (f" {entry.revision}" if entry.revision and entry.action == "revision" else "")
    tail = f" ({what})" if what else ""
    return f"{head} by {entry.by or 'unknown'}{tail}; {change_text(entry, service)}"


def event(service: dict[str, Any], entry: Entry, message: str, instance: str) -> dict[str, Any]:
    """A core v1 Event about the Service that records `entry`, named as kubectl names its own (`<name>.<hex>`)."""
    meta = service.get("metadata") or {}
    action = ACTIONS.get(entry.action)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name', '')}.{entry.id}", "namespace": meta.get("namespace", ""),
                     "annotations": {CHANGE: entry.id}},
        "involvedObject": {"apiVersion": service.get("apiVersion", "serving.knative.dev/v1"), "kind": "Service",
                           "name": meta.get("name", ""), "namespace": meta.get("namespace", ""),
                           "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")},
        "reason": action.reason if action else entry.action,
        "message": message[:1024],
        "type": "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance[:128],
        "firstTimestamp": entry.at,
        "lastTimestamp": entry.at,
        "count": 1,
    }


# -- the timeline ---------------------------------------------------------------------------------

CONSOLE, OUTSIDE, CLUSTER = "console", "outside", "cluster"


@dataclass(frozen=True)
class Item:
    """One line of the history, newest first."""

    at: str  # "" when the time is not known (a change seen only as a generation gap)
    source: str  # CONSOLE, OUTSIDE (a change no entry records) or CLUSTER (an Event from a controller or tool)
    title: str
    detail: str = ""
    by: str = ""
    entry: Entry | None = None
    kind: str = "Normal"  # an Event's type
    count: int = 1
    recorded: bool = False  # a console change whose Event is still there
    order: int = 0  # breaks ties between items of the same time, newest first
    seq: int = 0  # … and then between the console's own changes: the later one first
    revision: str = ""  # the revision it made, whose changes `with_summaries` adds to the detail
    gone: tuple[str, ...] = ()  # the revisions its split names that no longer exist: it cannot be restored
    about: str = ""  # an Event's object, as kubectl names it (`pod/NAME`)
    # Where it falls among the changes by generation (2k+1: the console's k-th entry, oldest first; 2k: what was done
    # outside between entry k-1 and entry k): orders the items of one second (timestamps have whole seconds).
    step: int = 0

    @property
    def restorable(self) -> bool:
        return self.entry is not None and bool(self.entry.after) and self.entry.action != "delete"

    @property
    def unrestorable(self) -> str:
        """Why its split cannot be restored ("" when it can be, or is no split)."""
        if not (self.restorable and self.gone):
            return ""
        verb = "no longer exists" if len(self.gone) == 1 else "no longer exist"
        return f"Cannot be restored: {', '.join(self.gone)} {verb}."


def missing(targets: Sequence[TrafficTarget], names: set[str]) -> tuple[str, ...]:
    """The revisions a split names by name that are not among `names` (the floating entry always exists)."""
    return tuple(t.revision_name for t in targets if not t.latest_revision and t.revision_name not in names)


@lru_cache(maxsize=4096)  # a page reads the same few hundred timestamps again on every change
def moment(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def _event_time(obj: dict[str, Any]) -> str:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
    return str((obj.get("metadata") or {}).get("creationTimestamp") or "")


def event_items(events: Sequence[dict[str, Any]]) -> list[Item]:
    """Events as history items, newest first."""
    return sorted(_event_items(events, set())[0], key=_newest_first)


def _event_items(events: Sequence[dict[str, Any]], recorded: set[str]) -> tuple[list[Item], set[str]]:
    items, seen = [], set()
    for obj in events:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        change = annotations.get(CHANGE) if isinstance(annotations, dict) else None
        if isinstance(change, str) and change in recorded:
            seen.add(change)
            continue
        ours = obj.get("reportingComponent") == COMPONENT or (obj.get("source") or {}).get("component") == COMPONENT
        count = obj.get("count")
        involved = obj.get("involvedObject") or {}
        items.append(Item(_event_time(obj), CONSOLE if ours else CLUSTER, str(obj.get("reason") or "Event"),
                          str(obj.get("message") or ""),
                          str((obj.get("source") or {}).get("component") or obj.get("reportingComponent") or ""),
                          kind=str(obj.get("type") or "Normal"),
                          count=count if isinstance(count, int) and count > 0 else 1,
                          order=1 if involved.get("kind") == "Service" else 0,
                          about=f"{str(involved.get('kind') or '').lower()}/{involved.get('name') or ''}"))
    return items, seen


def _revision_meta(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("name") or ""), str(meta.get("creationTimestamp") or ""), \
        str((meta.get("annotations") or {}).get(ANNOTATION_CREATOR) or "")


@dataclass
class _Gap:
    """Spec changes between two recorded generations that no entry made."""

    count: int
    since: str  # the time of the entry before the gap ("" if none)
    until: str  # the time of the entry after it ("" for changes after the last entry)
    step: int  # 2k: before the k-th entry (oldest first)
    revisions: list[str] = field(default_factory=list)


def timeline(service: dict[str, Any], revisions: Sequence[dict[str, Any]] = (),
             events: Sequence[dict[str, Any]] = (), newest: int | None = None) -> list[Item]:
    """Everything known about the Service's changes, newest first: the console's entries (each knowing which of the
    revisions its split names are no longer among `revisions`: all of them), the changes made outside it, revisions
    (given newest first) with their creators, and Events. With `newest`, only that many of the revisions made
    outside the console become items (a page that shows the latest few needs no more)."""
    meta = service.get("metadata") or {}
    name = str(meta.get("name") or "")
    annotations = meta.get("annotations") or {}
    stored = meta.get("generation")
    generation = stored if isinstance(stored, int) else 0
    recorded = sorted(reversed(entries_of(service)), key=lambda e: e.generations[1])  # oldest first
    items: list[Item] = []
    made = {e.revision for e in recorded if e.revision}
    created_here = bool(recorded) and recorded[0].action == "create"
    # What came before the oldest entry is known when the record goes back to the creation, or has dropped nothing:
    # then it was done outside the console. Otherwise it may be the console's own, in entries dropped since.
    oldest = moment(recorded[0].at) if recorded and not (created_here or _whole(service, recorded)) else None
    created_outside = not recorded or (oldest is None and not created_here)
    outside_revisions = []
    first_revision = ""
    for obj in revisions:
        revision, created, creator = _revision_meta(obj)
        if created_outside and generation_of(obj.get("metadata") or {}) == 1:
            first_revision = revision  # made by the creation, which no entry records either
        when = moment(created)
        if revision in made or (oldest is not None and (when is None or when < oldest)):
            continue  # the console's own, or older than what the history remembers
        outside_revisions.append((revision, created, creator))
    gaps: list[_Gap] = []
    if recorded and created_outside and recorded[0].generations[0] > 1:
        gaps.append(_Gap(recorded[0].generations[0] - 1, str(meta.get("creationTimestamp") or ""), recorded[0].at, 0))
    previous: Entry | None = None
    for seq, entry in enumerate(recorded):
        if previous is not None and entry.generations[0] > previous.generations[1]:
            gaps.append(_Gap(entry.generations[0] - previous.generations[1], previous.at, entry.at, 2 * seq))
        previous = entry
    if previous is not None and generation > previous.generations[1]:
        gaps.append(_Gap(generation - previous.generations[1], previous.at, "", 2 * len(recorded)))
    elif previous is None and generation > 1:
        gaps.append(_Gap(generation - 1, str(meta.get("creationTimestamp") or ""), "", 0))
    configured = {_revision_meta(obj)[0]: generation_of(obj.get("metadata") or {}) for obj in revisions}
    made_at = [(2 * seq + 1, configured.get(e.revision, 0)) for seq, e in enumerate(recorded) if e.revision]
    steps: dict[str, int] = {}
    for revision, created, _ in outside_revisions:
        when = moment(created)
        if revision == first_revision or when is None:
            continue  # made by the creation, not by a change after it; or its time is not known
        fits = [gap for gap in gaps if _within(when, gap)]
        # Several gaps fit when their entries share its second: its configuration generation, against those of the
        # revisions the console's entries made, says which side of them it falls on.
        known = configured.get(revision, 0)
        agreeing = [gap for gap in fits if not known or all((step < gap.step) == (theirs < known)
                                                             for step, theirs in made_at if theirs)]
        chosen = (agreeing or fits)[:1]
        for gap in chosen:
            gap.revisions.append(revision)
        # With no gap in the generations for it, its time places it: after the entries of its second.
        steps[revision] = chosen[0].step if chosen else 2 * sum(1 for e in recorded if (moment(e.at) or when) <= when)
    event_items, seen = _event_items(events, {e.id for e in recorded})
    for revision, created, creator in outside_revisions[:newest]:
        items.append(Item(created, OUTSIDE, f"Revision {short_name(revision, name)} created outside the console",
                          "", creator, order=1, revision=revision, step=steps.get(revision, 0)))
    last_modifier = str(annotations.get(ANNOTATION_LAST_MODIFIER) or "") if isinstance(annotations, dict) else ""
    for gap in gaps:
        unexplained = gap.count - len(gap.revisions)
        if unexplained <= 0:
            continue
        latest = not gap.until
        what = f"{unexplained} change{'s' if unexplained != 1 else ''} to the spec (traffic or settings)"
        detail = what + (f"; traffic now: {split_text(parse_traffic((service.get('spec') or {}).get('traffic')), name)}"
                         if latest else "")
        items.append(Item(gap.until, OUTSIDE, "Changed outside the console", detail,
                          last_modifier if latest else "", order=-1, step=gap.step))
    if created_outside:
        creator = str(annotations.get(ANNOTATION_CREATOR) or "") if isinstance(annotations, dict) else ""
        items.append(Item(str(meta.get("creationTimestamp") or ""), OUTSIDE, "Service created outside the console",
                          "", creator, order=-2))
    existing = set(configured)  # the names of all the Service's revisions
    for seq, entry in enumerate(recorded):
        made_one = entry.action == "revision" and entry.revision
        title = f"Revision {short_name(entry.revision, name)} created" if made_one else entry.title
        items.append(Item(entry.at, CONSOLE, title, change_text(entry, name), entry.by, entry,
                          recorded=entry.id in seen, seq=seq, revision=entry.revision if made_one else "",
                          gone=missing(entry.after, existing), step=2 * seq + 1))
    # An Event follows the change it reports: it takes the step of the newest change in its second.
    newest_in: dict[datetime | None, int] = {}
    for item in items:
        newest_in[moment(item.at)] = max(newest_in.get(moment(item.at), 0), item.step)
    items += [replace(e, step=newest_in.get(moment(e.at), 0)) for e in event_items]
    return sorted(items, key=_newest_first)


def _within(when: datetime, gap: _Gap) -> bool:
    since, until = moment(gap.since), moment(gap.until)
    return (since is None or when >= since) and (until is None or when <= until)


def _whole(service: dict[str, Any], recorded: Sequence[Entry]) -> bool:
    """Whether the annotation has dropped no entry: fewer than LIMIT, and within half of MAX_BYTES (an entry dropped
    for size would have taken more than the other half: a split of hundreds of revisions)."""
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(HISTORY) if isinstance(annotations, dict) else None
    return len(recorded) < LIMIT and len(value.encode() if isinstance(value, str) else b"") <= MAX_BYTES // 2


def with_summaries(items: Sequence[Item], summary_of: Callable[[str], str]) -> list[Item]:
    """The items with what each new revision changed (from the one before it) in front of their detail; asked only
    for these items, as a page shows a few of a long history."""
    result = []
    for item in items:
        change = summary_of(item.revision) if item.revision else ""
        result.append(replace(item, detail="; ".join(p for p in (change, item.detail) if p)) if change else item)
    return result


def _newest_first(item: Item) -> tuple[int, float, int, int, int]:
    when = moment(item.at)
    if when is None:  # unknown times are the latest changes (after the last entry)
        return (0, 0.0, -item.step, -item.order, -item.seq)
    return (1, -when.timestamp(), -item.step, -item.order, -item.seq)
