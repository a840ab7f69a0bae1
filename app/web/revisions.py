"""The Create Revision wizard: Basic Information → Advanced Settings → Traffic Splitting Settings → Create.

The wizard is stateless: each step posts every value typed so far (the other steps' as hidden
fields), so Previous and Next keep everything and no JavaScript is needed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from app.cluster.errors import Forbidden, Invalid, Rejected, Unreachable
from app.knative import changes, traffic
from app.knative import forms as kforms
from app.knative.basis import Basis, canonical, what_changed
from app.knative.commands import Preview
from app.knative.manifests import UPDATE_TIMESTAMP, desired_template, new_revision_patch
from app.knative.models import RevisionView, ServiceView, Template, TrafficTarget, template_from
from app.knative.naming import revision_name
from app.knative.numbers import whole
from app.knative.rollout import RolloutError, rollout_request, seconds_of
from app.web import forms, preview, recording
from app.web.context import acting, allowed, checked, cluster, go, lookups, now, service_url
from app.web.counting import counted
from app.web.errors import unreachable_text
from app.web.lookups import ResourceWarnings, resource_problems
from app.web.permissions import EVERYTHING, Allowed, forbidden_text
from app.web.render import render
from app.web.routing import CheckedRoute
from app.web.traffic import RowsForm, offline_service
from app.web.writes import SpecChanged, patch_service
from app.web.written import remember

router = APIRouter(route_class=CheckedRoute)
STEPS = ("Basic Information", "Advanced Settings", "Traffic Splitting Settings")
STEP_FIELDS = ({"image", "protocol", "port"}, None)  # step 2 holds every other template field
_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@dataclass
class WizardPage(RowsForm):
    namespace: str
    service: ServiceView
    revisions: list[RevisionView]
    step: int
    form: kforms.TemplateInput
    inputs: list[traffic.RowInput]
    basis: Basis
    new_revision: str
    errors: dict[str, str] = field(default_factory=dict)
    failure: str = ""
    changes: list[str] = field(default_factory=list)  # the other writer's change, after a conflict
    kept_on: str = ""  # the revision(s) the floating entry's share was kept on by the prefill (traffic.NewRevisionPlan)
    kept: int = 0
    stamp: str = ""  # the new template's update timestamp, fixed when the wizard opens: a retry writes the same
    steps: tuple[str, ...] = STEPS
    protocols: dict[str, str] = field(default_factory=lambda: kforms.PROTOCOLS)
    show_all: bool = False
    offline: bool = False  # the cluster did not answer: everything typed is shown again, with Retry
    rollout: str = ""  # "Roll out gradually over … seconds", as typed ("" moves traffic at once)
    obj: dict[str, Any] = field(default_factory=dict, repr=False)  # the Service as read, for the preview
    preview: Preview | None = None
    preview_problem: str = ""
    allowed: Allowed = EVERYTHING  # whether the user may change the Service (Create is disabled when not)
    limit_warnings: list[str] = field(default_factory=list)  # what the namespace's LimitRanges would refuse
    quota_warnings: list[str] = field(default_factory=list)  # … and its ResourceQuotas

    @property
    def retry_action(self) -> str:
        return "create" if self.step == 3 else "next"


def _step_of(key: str) -> int:
    return 1 if key in STEP_FIELDS[0] else 2


def next_revision_name(service: ServiceView, revisions: list[RevisionView]) -> str:
    """The name Knative gives the next revision, or the next free one after it (the wizard pins it by name).

    Knative makes a Service's revision after the write that asked for it is acknowledged, so right after someone
    else's template change (or a new Service) its revision may not exist yet: when the newest revision is not of the
    Service's template, that one takes the next generation and ours the one after. A name pinned in the template
    (another console's wizard) is taken before it is made."""
    taken = {rev.name for rev in revisions}
    pinned = (service.raw_template.get("metadata") or {}).get("name")
    if isinstance(pinned, str) and pinned:
        taken.add(pinned)
    newest = max(revisions, key=lambda rev: rev.generation, default=None)
    generation = (newest.generation if newest else 0) + 1
    if newest is None or newest.template != service.template:
        generation += 1
    while revision_name(service.name, generation) in taken:
        generation += 1
    return revision_name(service.name, generation)


def _rollout(page: WizardPage, rows: Sequence[traffic.TrafficRow]) -> int | None:
    """The gradual rollout asked for, in seconds (None: at once); raises RolloutError."""
    return rollout_request(page.rollout, sum(r.percent for r in rows if r.kind == traffic.LATEST))


def _planned(page: WizardPage) -> tuple[Template, list[traffic.TrafficRow], int | None]:
    """The template, rows and rollout as typed, checked (raises FormErrors, TrafficError or RolloutError)."""
    template = kforms.parse_template(page.form)
    rows = traffic.parse_rows(page.inputs, page.service.name, page.names, page.new_revision, not_ready=page.not_ready)
    return template, rows, _rollout(page, rows)


async def _resource_warnings(request: Request, page: WizardPage) -> None:
    """What the namespace's LimitRanges and ResourceQuotas would refuse of the revision typed, read with the user's own
    rights, onto the page; nothing when they may not read them, or the cluster does not answer (the wizard is not held
    up for a warning)."""
    try:
        template = kforms.parse_template(page.form)
    except kforms.FormErrors:
        warnings = ResourceWarnings()
    else:
        warnings = await resource_problems(lookups(request), page.namespace, template)
    page.limit_warnings, page.quota_warnings = warnings.limit_ranges, warnings.quotas


async def _show(request: Request, page: WizardPage, status: int = 200, only_preview: bool = False) -> Response:
    """The wizard, with what Create would send (on the last step, where the traffic is chosen)."""
    if page.step >= 2 and not page.offline and not only_preview:
        await _resource_warnings(request, page)
    if page.step == 3 and page.obj and not page.offline:
        try:
            template, rows, rollout = _planned(page)
        except (kforms.FormErrors, traffic.TrafficError) as error:
            fields = error.fields
            page.preview_problem = "Nothing can be sent yet: " + "; ".join(fields.values())
        except RolloutError as error:
            page.preview_problem = f"Nothing can be sent yet: {error}"
        else:
            planned = traffic.plan(rows)
            byo = page.new_revision if traffic.names_new_revision(rows) else ""
            made = await recording.change(request, "revision", planned, template_changes=True,
                                          revision=page.new_revision)
            page.preview = preview.new_revision(page.namespace, page.obj, page.service.template, template, planned,
                                                page.service.spec_traffic, page.stamp, byo, rollout,
                                                made.history_for(Basis.of(page.obj)))
    return render(request, "_preview.html" if only_preview else "revision_new.html", page, status=status)


@router.get("/namespaces/{namespace}/services/{name}/revisions/new")
async def start(request: Request, namespace: str, name: str) -> Response:
    obj, service, revisions = await lookups(request).service(checked("namespace", namespace), checked("Service", name))
    latest = revisions[0].template if revisions else service.template
    prefill = kforms.template_input(latest)
    if not prefill.env:
        prefill = replace(prefill, env=(kforms.EnvInput(),))
    new = next_revision_name(service, revisions)
    plan = traffic.new_revision_rows(service, [r.name for r in revisions], new)
    seconds = seconds_of(service.rollout_duration)
    page = WizardPage(namespace, service, revisions, 1, prefill, traffic.as_inputs(plan.rows),
                      Basis.of(obj, with_template=True), new, kept_on=plan.kept_on, kept=plan.kept, stamp=now(),
                      rollout=str(seconds) if seconds else "", obj=obj, allowed=await allowed(request, namespace))
    page.trim()
    return await _show(request, page)


def _edit(page: WizardPage, posted: FormData, action: str) -> bool:
    """The buttons that change the form without writing: Previous, Add Variable and the traffic rows'."""
    if action == "previous":
        page.step = max(page.step - 1, 1)
    elif action == "add-env":
        page.form = replace(page.form, env=(*page.form.env, kforms.EnvInput()))
        page.step = 2
    else:
        return page.edit(posted, action)
    return True


def landed(fresh: dict[str, Any], template: Template, planned: Sequence[TrafficTarget], stamp: str) -> bool:
    """Whether this very change is already in the Service: a retry after a write that got through."""
    spec = fresh.get("spec") or {}
    stored = spec.get("template") or {}
    annotations = (stored.get("metadata") or {}).get("annotations") or {}
    return annotations.get(UPDATE_TIMESTAMP) == stamp and \
        template_from(stored.get("metadata"), stored.get("spec")) == template and \
        canonical(spec.get("traffic") or []) == canonical([t.to_spec() for t in planned])


@router.post("/namespaces/{namespace}/services/{name}/revisions/new")
@counted(lambda form: "revision" if form.get("action") == "create" else None)
async def step(request: Request, namespace: str, name: str) -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    posted = await forms.posted(request)
    basis = forms.basis(posted)
    new, stamp, raw_step = (forms.text(posted, key) for key in ("new_revision", "stamp", "step"))
    page = WizardPage(namespace, offline_service(namespace, name), [], int(raw_step) if raw_step in ("1", "2", "3")
                      else 1, forms.template_input(posted), forms.row_inputs(posted), basis,
                      new if new.startswith(f"{name}-") and len(new) <= 63 else "",
                      stamp=stamp if _STAMP.fullmatch(stamp) else now(), show_all=forms.text(posted, "show_all") == "1",
                      kept_on=forms.text(posted, "kept_on")[:1000], kept=whole(forms.text(posted, "kept"), 100) or 0,
                      rollout=forms.text(posted, "rollout")[:20])
    action = forms.text(posted, "action", "next")
    try:
        (page.obj, page.service, page.revisions), page.allowed = await asyncio.gather(
            lookups(request).service(namespace, name), allowed(request, namespace))
        page.new_revision = page.new_revision or next_revision_name(page.service, page.revisions)
        if action == "preview":
            return await _show(request, page, only_preview=True)
        if action == "warnings":  # step 2's warnings, again as the form is typed
            await _resource_warnings(request, page)
            return render(request, "_resource_warnings.html", page)
        return await _step(request, page, page.obj, posted, action)
    except Unreachable as error:
        page.failure, page.offline = unreachable_text(error), True
        return await _show(request, page, status=503)


async def _step(request: Request, page: WizardPage, obj: dict[str, Any], posted: FormData, action: str) -> Response:
    if _edit(page, posted, action):
        return await _show(request, page)
    template: Template | None = None
    try:
        template = kforms.parse_template(page.form)
    except kforms.FormErrors as errors:
        mine = {k: v for k, v in errors.fields.items() if action == "create" or _step_of(k) <= page.step}
        if mine:
            page.errors = mine
            page.step = min(_step_of(k) for k in mine)
            return await _show(request, page, status=422)
    if action != "create" or template is None:
        page.step = min(page.step + 1, 3)
        return await _show(request, page)
    name, namespace = page.service.name, page.namespace
    try:
        rows = traffic.parse_rows(page.inputs, name, page.names, page.new_revision, not_ready=page.not_ready)
    except traffic.TrafficError as error:
        page.errors, page.step = error.fields, 3
        return await _show(request, page, status=422)
    try:
        rollout = _rollout(page, rows)
    except RolloutError as error:
        page.errors, page.step = {"rollout": str(error)}, 3
        return await _show(request, page, status=422)
    planned = traffic.plan(rows)
    byo = page.new_revision if traffic.names_new_revision(rows) else ""
    made = await recording.change(request, "revision", planned, template_changes=True, revision=page.new_revision)
    existing = (obj.get("spec") or {}).get("template") or {}
    what = changes.summary(changes.template_diffs(existing, desired_template(existing, template, page.stamp)))
    try:
        written = await patch_service(cluster(request), namespace, name, page.basis, obj,
                                      lambda fresh: new_revision_patch(fresh, template, planned, page.stamp, byo,
                                                                       rollout, made.history_for(Basis.of(fresh))))
    except SpecChanged as changed:
        if landed(changed.fresh, template, planned, page.stamp):
            return remember(request, go(request, service_url(namespace, name), "revisions"), namespace, changed.fresh)
        basis = page.basis
        page.obj, page.service, page.revisions = await lookups(request).service(namespace, name)
        page.add_missing_rows()
        page.basis = Basis.of(page.obj, with_template=True)
        page.changes = what_changed(basis, page.obj)
        page.new_revision = next_revision_name(page.service, page.revisions)
        page.inputs = [replace(r, revision=page.new_revision) if r.kind == traffic.NEW else r for r in page.inputs]
        page.failure = ("Someone else changed this Service while you were working. Their change is below, its "
                        "current traffic is shown beside each row, and what you typed is kept: check the split and "
                        "press Create again.")
        return await _show(request, page, status=409)
    except (Rejected, Invalid) as error:
        page.failure = error.message
        return await _show(request, page, status=422)
    except Forbidden as error:  # nothing was changed; everything typed is kept
        page.failure = forbidden_text(error, acting(request).name)
        return await _show(request, page, status=403)
    done = remember(request, go(request, service_url(namespace, name), "revisions"), namespace, written)
    return recording.with_event(request, done, written, made, what)
