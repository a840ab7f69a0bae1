"""The Create Revision wizard: Basic Information → Advanced Settings → Traffic Splitting Settings → Create.

The wizard is stateless: each step posts every value typed so far (the other steps' as hidden
fields), so Previous and Next keep everything and no JavaScript is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.cluster import resources as r
from app.cluster.errors import Conflict, Invalid, Rejected
from app.knative import forms as kforms
from app.knative import traffic
from app.knative.manifests import new_revision_patch
from app.knative.models import ServiceView
from app.knative.naming import revision_name
from app.web import forms
from app.web.context import checked, cluster, go, lookups, now, service_url
from app.web.render import render
from app.web.writes import counted

router = APIRouter()
STEPS = ("Basic Information", "Advanced Settings", "Traffic Splitting Settings")
STEP_FIELDS = ({"image", "protocol", "port"}, None)  # step 2 holds every other template field


@dataclass
class WizardPage:
    namespace: str
    service: ServiceView
    step: int
    form: kforms.TemplateInput
    rows: list[traffic.RowInput]
    resource_version: str
    new_revision: str
    current: dict[str, int]  # what each revision gets now, shown beside the inputs
    errors: dict[str, str] = field(default_factory=dict)
    failure: str = ""
    steps: tuple[str, ...] = STEPS
    protocols: dict[str, str] = field(default_factory=lambda: kforms.PROTOCOLS)

    @property
    def total(self) -> int | None:
        return traffic.typed_total(self.rows)


def _step_of(key: str) -> int:
    return 1 if key in STEP_FIELDS[0] else 2


def _base(service: ServiceView, revisions: list, namespace: str) -> dict:
    generation = max((rev.generation for rev in revisions), default=0) + 1
    return {
        "namespace": namespace,
        "service": service,
        "new_revision": revision_name(service.name, generation),
        "current": {rev.name: service.percent_of(rev.name) for rev in revisions},
    }


@router.get("/namespaces/{namespace}/services/{name}/revisions/new")
async def start(request: Request, namespace: str, name: str) -> Response:
    _, service, revisions = await lookups(request).service(checked("namespace", namespace), checked("Service", name))
    latest = revisions[0].template if revisions else service.template
    prefill = kforms.template_input(latest)
    if not prefill.env:
        prefill = replace(prefill, env=(kforms.EnvInput(),))
    rows = forms.rows_as_inputs(traffic.new_revision_rows(service, revisions))
    page = WizardPage(step=1, form=prefill, rows=rows, resource_version=service.resource_version,
                      **_base(service, revisions, namespace))
    return render(request, "revision_new.html", page)


@router.post("/namespaces/{namespace}/services/{name}/revisions/new")
@counted(lambda form: "revision" if form.get("action") == "create" else None)
async def step(request: Request, namespace: str, name: str) -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    posted = await request.form()
    obj, service, revisions = await lookups(request).service(namespace, name)
    form = forms.template_input(posted)
    rows = forms.row_inputs(posted)
    raw_step = forms.text(posted, "step", "1")
    current_step = min(max(int(raw_step), 1), 3) if raw_step.isdigit() else 1
    action = forms.text(posted, "action", "next")
    page = WizardPage(step=current_step, form=form, rows=rows,
                      resource_version=forms.text(posted, "resource_version") or service.resource_version,
                      **_base(service, revisions, namespace))
    if action == "previous":
        page.step = max(current_step - 1, 1)
        return render(request, "revision_new.html", page)
    if action == "add-env":
        page.form = replace(form, env=(*form.env, kforms.EnvInput()))
        page.step = 2
        return render(request, "revision_new.html", page)
    try:
        template = kforms.parse_template(form)
    except kforms.FormErrors as errors:
        template = None
        mine = {k: v for k, v in errors.fields.items() if action == "create" or _step_of(k) <= current_step}
        if mine:
            page.errors = mine
            page.step = min(_step_of(k) for k in mine)
            return render(request, "revision_new.html", page, status=422)
    if action != "create":
        page.step = min(current_step + 1, 3)
        return render(request, "revision_new.html", page)
    try:
        planned = traffic.plan(traffic.parse_rows(rows, service.name))
    except traffic.TrafficError as error:
        page.errors = error.fields
        return render(request, "revision_new.html", page, status=422)
    assert template is not None
    obj["metadata"]["resourceVersion"] = page.resource_version
    try:
        await cluster(request).patch(r.SERVICE, name, new_revision_patch(obj, template, planned, now()), namespace)
    except Conflict:
        page.resource_version = service.resource_version
        known = {row.revision for row in rows}
        page.rows = rows + [traffic.RowInput(rev.name, "0") for rev in revisions if rev.name not in known]
        page.failure = ("Someone else changed this Service while you were working. Its current traffic is shown "
                        "beside each revision, and what you typed is kept: check the split and press Create again.")
        return render(request, "revision_new.html", page, status=409)
    except (Rejected, Invalid) as error:
        page.failure = error.message
        return render(request, "revision_new.html", page, status=422)
    return go(request, service_url(namespace, name))
