"""Service Management: the list, Create Service, and Delete."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from app.cluster import resources as r
from app.cluster.errors import (
    AlreadyExists,
    ClusterError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Rejected,
    Unreachable,
)
from app.knative import forms as kforms
from app.knative.basis import Basis
from app.knative.gateway import Gateway
from app.knative.manifests import CREATE_ID, service_manifest
from app.knative.models import RevisionView, ServiceView
from app.settings import Settings
from app.web import forms
from app.web.context import acting, allowed, checked, cluster, go, lookups, service_url, services_url
from app.web.counting import counted
from app.web.errors import unreachable_text
from app.web.permissions import EVERYTHING, Allowed, forbidden_text
from app.web.regions import Region, Regions, render_regions, stream_url
from app.web.render import render
from app.web.rows import RowCache, render_rows
from app.web.writes import ATTEMPTS, resource_version

router = APIRouter()


# The regions of the list page; the filter and sort of later work render inside "services".
REGIONS = (Region("services", "_services_rows.html"),)


@dataclass
class ListPage:
    namespace: str
    namespaces: list[str] | None
    items: list[dict[str, Any]]  # the Services of this page, as the API lists them
    gateway: Gateway
    start: int = 0  # how many Services come before this page
    total: int = 0
    next_token: str = ""  # the API's continue token for the next page
    token: str = ""  # the token this page was listed with
    regions: Regions = field(default_factory=dict)  # rendered, for the page and the stream
    row_html: list[Markup] = field(default_factory=list)  # each item's row, rendered (app.web.rows)
    allowed: Allowed = EVERYTHING  # what the user may do here (Create Service, Delete)

    @property
    def place(self) -> dict[str, str]:
        """This page's place in the list, for links that must come back to it (its live stream)."""
        return {"continue": self.token, "start": str(self.start)} if self.token else {}

    @property
    def next_query(self) -> str:
        return urlencode({"continue": self.next_token, "start": self.start + len(self.items)})

    @property
    def live_url(self) -> str:
        return stream_url(services_url(self.namespace), self.regions, self.place)


def list_page(
    namespace: str, listed: dict[str, Any], gateway: Gateway, namespaces: list[str] | None, start: int = 0,
    token: str = "", allowed: Allowed = EVERYTHING,
) -> ListPage:
    """The Service Management page for one page of the API's list (its rows are rendered by `render_list`)."""
    items = [i for i in listed.get("items") or [] if isinstance(i, dict)]
    metadata = listed.get("metadata") or {}
    remaining = metadata.get("remainingItemCount")
    next_token = str(metadata.get("continue") or "")
    total = start + len(items) + (remaining if isinstance(remaining, int) else (1 if next_token else 0))
    return ListPage(namespace, namespaces, items, gateway, start=start, total=total, next_token=next_token,
                    token=token, allowed=allowed)


def render_list(templates: Jinja2Templates, settings: Settings, cache: RowCache, page: ListPage) -> Regions:
    """The list page's regions, its rows taken from the cache where their Service has not changed."""
    page.row_html = render_rows(templates, cache, page.namespace, page.gateway, page.items, page.allowed.delete)
    return render_regions(templates, REGIONS, page, settings)


@dataclass
class CreatePage:
    namespace: str
    form: kforms.ServiceInput
    errors: dict[str, str] = field(default_factory=dict)
    failure: str = ""
    create_id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    retry: bool = False  # the cluster did not answer: offer Retry
    protocols: dict[str, str] = field(default_factory=lambda: kforms.PROTOCOLS)
    visibilities: dict[str, str] = field(default_factory=lambda: kforms.VISIBILITIES)
    allowed: Allowed = EVERYTHING


@dataclass
class DeletePage:
    namespace: str
    service: ServiceView
    revisions: list[RevisionView]
    basis: Basis
    failure: str = ""
    allowed: Allowed = EVERYTHING


@router.get("/")
async def home(request: Request) -> Response:
    namespace = request.app.state.settings.namespace or cluster(request).namespace
    return RedirectResponse(services_url(namespace), status_code=307)


@router.get("/namespace")
async def choose_namespace(request: Request, namespace: str = "") -> Response:
    """The namespace selector's target, so that it works without JavaScript."""
    return RedirectResponse(services_url(checked("namespace", namespace.strip())), status_code=303)


@router.get("/namespaces/{namespace}/services")
async def service_list(
    request: Request, namespace: str, partial: str = "", start: int = Query(0, ge=0, le=10**9),
    token: str = Query("", alias="continue", max_length=4096),
) -> Response:
    checked("namespace", namespace)
    found = lookups(request)
    try:
        listed, gateway, namespaces, may = await asyncio.gather(
            found.services(namespace, token), found.gateway(), found.namespaces(), allowed(request, namespace)
        )
    except ClusterError as error:
        if not token or error.code not in (400, 410):
            raise
        # The list changed too much since the first page was shown: start again from the top.
        return RedirectResponse(services_url(namespace), status_code=303)
    if not listed.get("items") and not token:
        await found.require_namespace(namespace)
    page = list_page(namespace, listed, gateway, namespaces, start if token else 0, token, may)
    state = request.app.state
    page.regions = render_list(state.templates, state.settings, state.rows, page)
    return render(request, "_services_rows.html" if partial == "rows" else "services.html", page)


@router.get("/namespaces/{namespace}/services/new")
async def new_service(request: Request, namespace: str) -> Response:
    await lookups(request).require_namespace(checked("namespace", namespace))
    form = kforms.ServiceInput(template=kforms.TemplateInput(env=(kforms.EnvInput(),)))
    return render(request, "service_new.html", CreatePage(namespace, form, allowed=await allowed(request, namespace)))


async def _made_by(request: Request, namespace: str, name: str, create_id: str) -> bool:
    """Whether the Service `name` exists and was created by the form with this id (a retry of our own create)."""
    try:
        existing = await cluster(request).get(r.SERVICE, name, namespace)
    except NotFound:
        return False
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    return bool(create_id) and annotations.get(CREATE_ID) == create_id


@router.post("/namespaces/{namespace}/services")
@counted("create")
async def create_service(request: Request, namespace: str) -> Response:
    checked("namespace", namespace)
    posted = await request.form()
    form = forms.service_input(posted)
    create_id = forms.text(posted, "create_id")[:64] or secrets.token_urlsafe(12)
    if forms.text(posted, "action") == "add-env":
        more = replace(form, template=replace(form.template, env=(*form.template.env, kforms.EnvInput())))
        return render(request, "service_new.html", CreatePage(namespace, more, create_id=create_id))
    try:
        draft = kforms.parse_service(form, namespace)
    except kforms.FormErrors as problems:
        return render(request, "service_new.html", CreatePage(namespace, form, problems.fields, create_id=create_id),
                      status=422)
    try:
        try:
            await cluster(request).create(r.SERVICE, service_manifest(draft, create_id), namespace)
        except (AlreadyExists, Unreachable):
            # After a timeout the create may have landed; a retry then finds it. Ours is not "already there".
            if await _made_by(request, namespace, draft.name, create_id):
                return go(request, service_url(namespace, draft.name))
            raise
    except AlreadyExists:
        errors = {"name": f'A Service named "{draft.name}" already exists in {namespace}; choose another name.'}
        return render(request, "service_new.html", CreatePage(namespace, form, errors, create_id=create_id),
                      status=409)
    except Unreachable as error:
        page = CreatePage(namespace, form, failure=unreachable_text(error), create_id=create_id, retry=True)
        return render(request, "service_new.html", page, status=503)
    except (Rejected, Invalid, NotFound) as error:
        page = CreatePage(namespace, form, failure=error.message, create_id=create_id)
        return render(request, "service_new.html", page, status=422)
    except Forbidden as error:
        page = CreatePage(namespace, form, failure=forbidden_text(error, acting(request).name), create_id=create_id)
        return render(request, "service_new.html", page, status=403)
    return go(request, service_url(namespace, draft.name))


@router.get("/namespaces/{namespace}/services/{name}/delete")
async def confirm_delete(request: Request, namespace: str, name: str) -> Response:
    obj, service, revisions = await lookups(request).service(checked("namespace", namespace), checked("Service", name))
    page = DeletePage(namespace, service, revisions, Basis.of(obj), allowed=await allowed(request, namespace))
    return render(request, "delete.html", page)


@router.post("/namespaces/{namespace}/services/{name}/delete")
@counted("delete")
async def delete_service(request: Request, namespace: str, name: str) -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    basis = forms.basis(await request.form())
    try:
        for _ in range(ATTEMPTS):  # as patch_service: a status update meanwhile is no reason to ask again
            fresh = await cluster(request).get(r.SERVICE, name, namespace)
            if not basis.holds_for(fresh):
                break
            try:
                await cluster(request).delete(r.SERVICE, name, namespace, resource_version(fresh))
                return go(request, services_url(namespace))
            except Conflict:
                continue
    except NotFound:
        return go(request, services_url(namespace))  # already gone: what the user wanted
    except Forbidden as error:
        obj, service, revisions = await lookups(request).service(namespace, name)
        page = DeletePage(namespace, service, revisions, Basis.of(obj), forbidden_text(error, acting(request).name))
        return render(request, "delete.html", page, status=403)
    obj, service, revisions = await lookups(request).service(namespace, name)
    failure = ("Someone changed this Service after you opened this page. Check what it is now, below, "
               "and confirm again if you still want to delete it.")
    return render(request, "delete.html", DeletePage(namespace, service, revisions, Basis.of(obj), failure),
                  status=409)
