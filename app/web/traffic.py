"""Split Traffic: the dialog (and plain page) with one row per traffic entry and revision, and the one-click
promote / roll back, which is the same dialog preset to send one revision 100%."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from app.cluster.errors import Forbidden, Invalid, Rejected, Unreachable
from app.cluster.resources import REVISION
from app.knative import history, traffic
from app.knative.basis import Basis, canonical, what_changed
from app.knative.commands import Preview
from app.knative.diagnosis import HeldSplit, held_split
from app.knative.manifests import traffic_patch
from app.knative.models import SUCCESS, RevisionView, ServiceView, Status, TrafficTarget, service_from
from app.knative.naming import short_name
from app.knative.rollout import RolloutProgress, rollout_progress
from app.web import forms, preview, recording, security
from app.web.context import acting, allowed, checked, cluster, go, identity, lookups, service_url
from app.web.counting import counted
from app.web.errors import unreachable_text
from app.web.in_force import floating_now, in_force
from app.web.permissions import EVERYTHING, Allowed, forbidden_text
from app.web.render import render
from app.web.routing import CheckedRoute
from app.web.writes import SpecChanged, patch_first, patch_service, resource_version
from app.web.written import remember

router = APIRouter(route_class=CheckedRoute)


@dataclass(frozen=True)
class RowView:
    """One row of a traffic form, with what the page says about it."""

    kind: str
    revision: str
    percent: str
    tag: str
    now: traffic.Now  # what it gets today (see traffic.routed_now)
    short: str  # how the "After OK" line names it
    status: Status | None = None  # a named revision's (None while unknown), to mark one that is not Ready
    rolling: str = ""  # the floating row during a gradual rollout: where its share goes now, in words

    @property
    def floating(self) -> bool:
        return self.kind == traffic.LATEST

    @property
    def new(self) -> bool:
        return self.kind == traffic.NEW


def row_views(rows: Sequence[traffic.RowInput], service: ServiceView,
              revisions: Sequence[RevisionView] = ()) -> list[RowView]:
    floating = floating_now(service)
    routed = traffic.routed_now(service, held=held_split(service) is not None)
    statuses = {r.name: r.status for r in revisions}
    views = []
    for row in rows:
        now = traffic.now_of(routed, row.kind, row.revision)
        if row.kind == traffic.LATEST:
            views.append(RowView(row.kind, floating.revision, row.percent, row.tag, now, floating.short,
                                 rolling=floating.rolling))
        else:
            views.append(RowView(row.kind, row.revision, row.percent, row.tag, now,
                                 short_name(row.revision, service.name),
                                 statuses.get(row.revision) if row.kind == traffic.NAMED else None))
    return views


def planned(inputs: Sequence[traffic.RowInput], service: ServiceView) -> str:
    """What OK would write, in words ("" while the rows are not valid); the page's script keeps it current."""
    try:
        rows = traffic.parse_rows(inputs, service.name)
    except traffic.TrafficError:
        return ""
    return traffic.describe(traffic.spec_shares(service, traffic.plan(rows)))


class RowsForm:
    """What the Split Traffic dialog and the wizard's last step share: the rows shown, the ones left out, the
    buttons that add or remove rows (no write), and the typed total."""

    service: ServiceView
    revisions: list[RevisionView]
    inputs: list[traffic.RowInput]
    show_all: bool
    keep: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.revisions]

    def trim(self) -> None:
        """On a fresh form: leave out the old revisions' untagged 0% rows (a picker adds them back), but not one that
        gets traffic now (while a split is held, one the split asked for leaves out)."""
        if not self.show_all:
            routed = [t.revision_name for t in traffic.routed_now(self.service, held=self.held is not None)
                      if t.percent]
            self.inputs = traffic.shown_rows(self.inputs, self.names, keep=(*self.keep, *routed))[0]

    @property
    def rows(self) -> list[RowView]:
        return row_views(self.inputs, self.service, self.revisions)

    @property
    def not_ready(self) -> dict[str, str]:
        return traffic.unready(self.revisions)

    @property
    def held(self) -> HeldSplit | None:
        """The split the Service asks for, when Knative has not applied it (the "Now" column is then what it routes)."""
        return held_split(self.service)

    @property
    def rolling(self) -> RolloutProgress | None:
        """The gradual rollout under way, which the form says what OK does to."""
        return rollout_progress(self.service)

    @property
    def hidden(self) -> list[str]:
        """Revisions without a row in the form, newest first."""
        named = {row.revision for row in self.inputs if row.kind == traffic.NAMED}
        return [name for name in self.names if name not in named]

    @property
    def has_latest(self) -> bool:
        return any(row.kind == traffic.LATEST for row in self.inputs)

    @property
    def total(self) -> int | None:
        return traffic.typed_total(self.inputs)

    def edit(self, posted: FormData, action: str) -> bool:
        """Add or remove a row, or show every row, without writing; False when `action` is none of these."""
        if action == "add-latest" and not self.has_latest:
            self.inputs.append(traffic.as_inputs([traffic.latest_row()])[0])
        elif action.startswith("remove-") and action[7:].isascii() and action[7:].isdigit():
            index = int(action[7:]) if len(action) < 20 else len(self.inputs)
            if index < len(self.inputs) and self.inputs[index].kind == traffic.LATEST:
                del self.inputs[index]
        elif action == "add-row":
            wanted = forms.text(posted, "add_revision")
            if wanted in self.names and not any(r.kind == traffic.NAMED and r.revision == wanted for r in self.inputs):
                self.inputs.append(traffic.RowInput(traffic.NAMED, wanted, "0"))
        elif action == "show-all":
            self.show_all = True
            named = {row.revision for row in self.inputs if row.kind == traffic.NAMED}
            self.inputs += [traffic.RowInput(traffic.NAMED, name, "0") for name in self.names if name not in named]
        else:
            return False
        return True

    def add_missing_rows(self) -> None:
        """After a conflict: rows for what the Service has now and the form lacks, at 0% (the user's sum stays)."""
        def key(kind: str, revision: str) -> tuple[str, str]:
            return (kind, "" if kind == traffic.LATEST else revision)

        known = {key(row.kind, row.revision) for row in self.inputs}
        self.inputs += [traffic.RowInput(row.kind, row.revision, "0", row.tag) for row in
                        traffic.current_rows(self.service, self.names) if key(row.kind, row.revision) not in known
                        and (row.kind == traffic.LATEST or row.percent or row.tag)]


@dataclass
class SplitPage(RowsForm):
    namespace: str
    service: ServiceView
    revisions: list[RevisionView]
    inputs: list[traffic.RowInput]
    basis: Basis
    errors: dict[str, str] = field(default_factory=dict)
    failure: str = ""
    changes: list[str] = field(default_factory=list)  # the other writer's change, after a conflict
    target: str = ""  # for a promote or roll back: the revision to get 100%
    restore: str = ""  # for a restore: the id of the history entry whose split the form is preset to
    restore_at: str = ""  # … and when that change was made
    kind: str = "split"  # what the write is: split, promote, rollback or restore (its history entry and Event)
    show_all: bool = False
    refused: bool = False  # a preset split that cannot be offered: the page says why and offers no form
    offline: bool = False  # the cluster did not answer: what was typed is shown again, with Retry
    verified: bool = False  # the basis (history included) is what the console read: the form may be vouched for
    rows_signature: str = ""  # `basis_rows`: the named rows are this Service's revisions, as read for this form
    ready: str = ""  # `basis_ready`: which of the revisions were Ready then (signed with the rows)
    preview: Preview | None = None
    preview_problem: str = ""
    allowed: Allowed = EVERYTHING  # whether the user may change the Service (OK is disabled when not)

    @property
    def keep(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.target,) if self.target else ()

    @property
    def preset(self) -> bool:
        """A promote, roll back or restore: the page shows the split now and after OK."""
        return bool(self.target or self.restore)

    @property
    def before(self) -> str:
        """The split now, as routed (the one before, while the one asked for is held)."""
        return in_force(self.service).before

    @property
    def after(self) -> str:
        return planned(self.inputs, self.service)


def offline_service(namespace: str, name: str) -> ServiceView:
    """A Service known only by name, for showing a form again when the cluster did not answer."""
    return service_from({"metadata": {"name": name, "namespace": namespace}})


def write_kind(service: ServiceView, revisions: Sequence[RevisionView], target: str, restore: str) -> str:
    if restore:
        return "restore"
    if target:
        generations = {r.name: r.generation for r in revisions}
        back = traffic.rolls_back(generations.get(target, 0), traffic.newest_serving(service, generations))
        return "rollback" if back else "promote"
    return "split"


async def _preview(request: Request, page: SplitPage) -> None:
    """What OK would send now, or why nothing can be sent yet (a share for a revision that is not Ready among it)."""
    if page.offline:
        page.preview_problem = "The request can be shown once the cluster answers."
        return
    if not page.basis.resource_version:
        page.preview_problem = "This form does not say which version of the Service it was made from: reload the page."
        return
    try:
        targets = traffic.plan(traffic.parse_rows(page.inputs, page.service.name, not_ready=page.not_ready))
    except traffic.TrafficError as error:
        page.preview_problem = f"Nothing can be sent yet: {error}"
        return
    made = await recording.change(request, page.kind, targets, restored=page.restore)
    page.preview = preview.split(page.namespace, page.service.name, page.basis.resource_version,
                                 page.basis.shown_traffic(), targets, made.history_for(page.basis))


async def _show(request: Request, page: SplitPage, status: int = 200, only_preview: bool = False) -> Response:
    page.ready = ",".join(sorted(r.name for r in page.revisions if r.status.label == SUCCESS))
    page.rows_signature = rows_signature(request.app.state.settings.secret_key, page) if page.verified else ""
    if not page.refused:
        await _preview(request, page)
    return render(request, "_preview.html" if only_preview else "traffic.html", page, status=status)


def _not_ready(revision: RevisionView | None, name: str) -> str:
    """Why a revision gets no one-click 100% ("" when it can)."""
    if revision is None:
        return f'Revision "{name}" is not one of this Service\'s revisions.'
    if revision.status.label == SUCCESS:
        return ""
    why = f" ({revision.status.reason}: {revision.status.message})" if revision.status.reason else ""
    return (f"Revision {name} is not Ready{why}. Send traffic to it once it is Ready, or use Split Traffic to "
            "give it a share anyway.")


def _restorable(obj: dict[str, Any], ident: str, names: Sequence[str]) -> tuple[history.Entry | None, str, int]:
    """The history entry to restore, or why it cannot be, with the status to answer."""
    entry = history.find(obj, ident[:64])
    if entry is None or not entry.after or entry.action == "delete":
        return None, ("This change is not in the Service's history (any more): the history keeps the last "
                      f"{history.LIMIT} changes. Choose another one on the History page."), 404
    gone = history.missing(entry.after, set(names))
    if gone:
        verb = "no longer exists" if len(gone) == 1 else "no longer exist"
        return None, (f"This split cannot be restored: {', '.join(gone)} {verb}. Use Split Traffic to choose a "
                      "split of the revisions there are."), 409
    return entry, "", 200


@router.get("/namespaces/{namespace}/services/{name}/traffic")
async def split_form(request: Request, namespace: str, name: str, revision: str = "", all: str = "",
                     restore: str = "") -> Response:
    """The split as it is now; with `?revision=` the same dialog preset to send that revision 100%; with
    `?restore=` preset to a split from the history."""
    obj, service, revisions = await lookups(request).service(checked("namespace", namespace), checked("Service", name))
    names = [r.name for r in revisions]
    rows = traffic.current_rows(service, names)
    page = SplitPage(namespace, service, revisions, traffic.as_inputs(rows), Basis.of(obj), show_all=bool(all),
                     verified=True, allowed=await allowed(request, namespace))
    if restore:
        entry, problem, status = _restorable(obj, restore, names)
        page.restore = restore[:64]
        page.kind = write_kind(service, revisions, "", page.restore)
        if entry is None:
            page.failure, page.refused = problem, True
            return await _show(request, page, status=status)
        page.restore_at = entry.at
        page.inputs = traffic.as_inputs(traffic.rows_for(service, entry.after, names))
    elif revision:
        page.target = revision[:253]
        page.kind = write_kind(service, revisions, page.target, "")
        problem = _not_ready(next((r for r in revisions if r.name == revision), None), page.target)
        if problem:
            page.failure, page.refused = problem, True
            return await _show(request, page, status=404 if "not one of" in problem else 409)
        page.inputs = traffic.as_inputs(traffic.send_all_to(rows, revision))
    page.trim()
    return await _show(request, page)


def landed(fresh: dict[str, Any], planned: Sequence[TrafficTarget]) -> bool:
    """Whether the Service already has exactly this traffic: a retry of a write that got through."""
    return canonical((fresh.get("spec") or {}).get("traffic") or []) == canonical([t.to_spec() for t in planned])


def rows_signature(secret: str, page: SplitPage, rendering: bool = True) -> str:
    """Vouches for what the console read for this form: the Service (uid, resourceVersion and history annotation,
    which a write without a read carries on), what kind of write it is, that its named rows are the Service's
    revisions, and that those in `page.ready` were Ready then. When rendering, "" if a row names something else (the
    OK then reads first)."""
    names = sorted({row.revision for row in page.inputs if row.kind == traffic.NAMED})
    if rendering and set(names) - set(page.names):
        return ""
    history_digest = hashlib.sha256(page.basis.history.encode()).hexdigest()
    return security.signature(secret, "split-rows", page.basis.uid, page.basis.resource_version, history_digest,
                              page.kind, page.restore, *names, "ready:" + page.ready)


def _quick_plan(request: Request, posted: FormData, page: SplitPage) -> tuple[TrafficTarget, ...] | None:
    """The plan of an OK whose form the console vouched for and that is valid as typed; None when the write must
    read first (an edit button, an unsigned or stale form, a mistake to show with the Service beside it)."""
    secret = request.app.state.settings.secret_key
    if forms.text(posted, "action") not in ("", "ok") or not page.basis.resource_version or not page.basis.uid:
        return None
    page.ready = forms.text(posted, "basis_ready")
    if not security.same(forms.text(posted, "basis_rows"), rows_signature(secret, page, rendering=False)):
        return None
    if _deleted_since(request, page):
        return None  # a row names a revision that is gone: read, to say so
    ready_names = set(page.ready.split(","))
    if any(row.kind == traffic.NAMED and row.revision not in ready_names and row.percent.strip() not in ("0", "0%")
           for row in page.inputs):
        return None  # a share for a revision that was not Ready: read it again, to refuse it or to let it through
    try:
        return traffic.plan(traffic.parse_rows(page.inputs, page.service.name))
    except traffic.TrafficError:
        return None


def _deleted_since(request: Request, page: SplitPage) -> bool:
    """Whether a revision a row names has been deleted since the form was rendered, as far as the console's watch-fed
    cache of the namespace's revisions knows (where it keeps one it trusts; no read is made for this). Knative's
    admission takes traffic to a revision that does not exist, and the Route then fails on it."""
    who, _ = identity(request)
    informer = request.app.state.live.informers.running(who, page.namespace, REVISION)
    if informer is None or not informer.trusted:
        return False
    return any(row.kind == traffic.NAMED and row.revision not in informer.objects for row in page.inputs)


def _counted_kind(form: FormData) -> str:
    if form.get("restore"):
        return "restore"
    return "promote_rollback" if form.get("target") else "split"


@router.post("/namespaces/{namespace}/services/{name}/traffic")
@counted(_counted_kind)
async def split(request: Request, namespace: str, name: str) -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    posted = await forms.posted(request)
    basis = forms.basis(posted)
    page = SplitPage(namespace, offline_service(namespace, name), [], forms.row_inputs(posted), basis,
                     target=forms.text(posted, "target")[:253], restore=forms.text(posted, "restore")[:64],
                     restore_at=forms.text(posted, "restore_at")[:64], show_all=forms.text(posted, "show_all") == "1")
    page.kind = forms.text(posted, "write_kind")[:16]
    action = forms.text(posted, "action")
    try:
        try:
            planned = _quick_plan(request, posted, page)
            if planned is not None:  # the common OK: one conditional PATCH, no read before it
                return await _write(request, page, planned, None)
            (obj, page.service, page.revisions), page.allowed = await asyncio.gather(
                lookups(request).service(namespace, name), allowed(request, namespace))
            page.kind = write_kind(page.service, page.revisions, page.target, page.restore)
            if page.basis.resource_version == str(obj["metadata"].get("resourceVersion")):
                page.basis, page.verified = Basis.of(obj), True  # the very version the form showed, history and all
            if action == "preview":
                return await _show(request, page, only_preview=True)
            if page.edit(posted, action):
                return await _show(request, page)
            try:
                planned = traffic.plan(traffic.parse_rows(page.inputs, name, page.names, not_ready=page.not_ready))
            except traffic.TrafficError as error:
                page.errors = error.fields
                return await _show(request, page, status=422)
            return await _write(request, page, planned, obj)
        except (Rejected, Invalid, Forbidden) as error:
            if not page.revisions:  # written without reading: read now, to show the form again with the message
                _, page.service, page.revisions = await lookups(request).service(namespace, name)
            page.verified = False
            if isinstance(error, Forbidden):  # nothing was changed; what was typed is kept
                page.failure = forbidden_text(error, acting(request).name)
                page.allowed = await allowed(request, namespace)
                return await _show(request, page, status=403)
            page.failure = error.message
            return await _show(request, page, status=422)
    except Unreachable as error:
        page.failure, page.offline, page.verified = unreachable_text(error), True, False
        return await _show(request, page, status=503)


async def _write(request: Request, page: SplitPage, planned: tuple[TrafficTarget, ...],
                 obj: dict[str, Any] | None) -> Response:
    """`planned` into spec.traffic, with its history entry, while the Service's spec is still the form's; else the
    conflict, explained."""
    namespace, name, basis = page.namespace, page.service.name, page.basis
    made = await recording.change(request, page.kind, planned, restored=page.restore)
    try:
        if obj is None:
            written = await patch_first(cluster(request), namespace, name, basis,
                                        lambda base: traffic_patch(base.resource_version, planned,
                                                                   made.history_for(base)))
        else:
            written = await patch_service(cluster(request), namespace, name, basis, obj,
                                          lambda fresh: traffic_patch(resource_version(fresh), planned,
                                                                      made.history_for(Basis.of(fresh))))
    except SpecChanged as changed:
        if landed(changed.fresh, planned):
            return remember(request, go(request, service_url(namespace, name), "traffic"), namespace, changed.fresh)
        fresh, page.service, page.revisions = await lookups(request).service(namespace, name)
        page.add_missing_rows()
        page.basis, page.verified = Basis.of(fresh), True
        page.kind = write_kind(page.service, page.revisions, page.target, page.restore)
        page.changes = what_changed(basis, fresh)
        page.failure = ("Someone else changed this Service while the dialog was open. Their change is below, "
                        "the current traffic is shown beside each row, and your numbers are kept: check them "
                        "and press OK again.")
        return await _show(request, page, status=409)
    done = remember(request, go(request, service_url(namespace, name), "traffic"), namespace, written)
    return recording.with_event(request, done, written, made)
