"""Split Traffic: the dialog (and plain page) with one row per revision, and the one-click promote/roll back."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.cluster import resources as r
from app.cluster.errors import Conflict, Invalid, Rejected
from app.knative import traffic
from app.knative.manifests import traffic_patch
from app.knative.models import RevisionView, ServiceView
from app.web import forms
from app.web.context import checked, cluster, go, lookups, service_url
from app.web.render import render
from app.web.writes import counted

router = APIRouter()


@dataclass
class SplitPage:
    namespace: str
    service: ServiceView
    revisions: list[RevisionView]
    rows: list[traffic.RowInput]
    resource_version: str
    current: dict[str, int]
    errors: dict[str, str] = field(default_factory=dict)
    failure: str = ""
    before: str = ""  # for a promote or roll back: the split now, and after OK
    after: str = ""
    target: str = ""

    @property
    def total(self) -> int | None:
        return traffic.typed_total(self.rows)


def _page(namespace: str, service: ServiceView, revisions: list[RevisionView], rows: list[traffic.RowInput],
          resource_version: str) -> SplitPage:
    current = {rev.name: service.percent_of(rev.name) for rev in revisions}
    return SplitPage(namespace, service, revisions, rows, resource_version, current)


def _show(request: Request, page: SplitPage, status: int = 200) -> Response:
    return render(request, "traffic.html", page, status=status)


@router.get("/namespaces/{namespace}/services/{name}/traffic")
async def split_form(request: Request, namespace: str, name: str, revision: str = "") -> Response:
    """The split as it is now; with `?revision=` the same dialog preset to send that revision 100%."""
    _, service, revisions = await lookups(request).service(checked("namespace", namespace), checked("Service", name))
    rows = traffic.current_rows(service, revisions)
    page = _page(namespace, service, revisions, forms.rows_as_inputs(rows), service.resource_version)
    if revision:
        try:
            moved = traffic.send_all_to(rows, revision)
        except traffic.TrafficError as error:
            page.failure = error.fields[traffic.FORM_ERROR]
            return _show(request, page, status=404)
        page.rows = forms.rows_as_inputs(moved)
        page.target = revision
        page.before = traffic.rows_summary(rows, service.name)
        page.after = traffic.rows_summary(moved, service.name)
    return _show(request, page)


@router.post("/namespaces/{namespace}/services/{name}/traffic")
@counted(lambda form: "promote_rollback" if form.get("action") == "promote" else "split")
async def split(request: Request, namespace: str, name: str) -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    posted = await request.form()
    inputs = forms.row_inputs(posted)
    seen = forms.text(posted, "resource_version")
    _, service, revisions = await lookups(request).service(namespace, name)
    page = _page(namespace, service, revisions, inputs, seen or service.resource_version)
    try:
        planned = traffic.plan(traffic.parse_rows(inputs, service.name))
    except traffic.TrafficError as error:
        page.errors = error.fields
        return _show(request, page, status=422)
    try:
        await cluster(request).patch(r.SERVICE, name, traffic_patch(page.resource_version, planned), namespace)
    except Conflict:
        known = {row.revision for row in inputs}
        page.rows = inputs + [traffic.RowInput(rev.name, "0") for rev in revisions if rev.name not in known]
        page.resource_version = service.resource_version
        page.failure = ("Someone else changed this Service while the dialog was open. The current traffic is shown "
                        "beside each revision and your numbers are kept: check them and press OK again.")
        return _show(request, page, status=409)
    except (Rejected, Invalid) as error:
        page.failure = error.message
        return _show(request, page, status=422)
    return go(request, service_url(namespace, name))
