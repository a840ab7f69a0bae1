"""Create Service and Delete: the two writes of Service Management, each with what it will send."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.cluster import resources as r
from app.cluster.errors import AlreadyExists, Conflict, Forbidden, Invalid, NotFound, Rejected, Unreachable
from app.knative import forms as kforms
from app.knative.basis import Basis
from app.knative.commands import Preview
from app.knative.manifests import CREATE_ID, delete_options, service_manifest
from app.knative.models import RevisionView, ServiceView, TrafficTarget
from app.knative.naming import revision_name
from app.web import forms, preview, recording
from app.web.context import acting, allowed, checked, cluster, go, lookups, service_url, services_url
from app.web.counting import counted
from app.web.errors import unreachable_text
from app.web.lookups import resource_problems
from app.web.permissions import EVERYTHING, Allowed, forbidden_text
from app.web.recording import Change
from app.web.render import render
from app.web.routing import CheckedRoute
from app.web.writes import ATTEMPTS, resource_version
from app.web.written import remember

router = APIRouter(route_class=CheckedRoute)


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
    preview: Preview | None = None
    preview_problem: str = ""
    allowed: Allowed = EVERYTHING
    limit_warnings: list[str] = field(default_factory=list)  # what the namespace's LimitRanges would refuse
    quota_warnings: list[str] = field(default_factory=list)  # … and its ResourceQuotas


@dataclass
class DeletePage:
    namespace: str
    service: ServiceView
    revisions: list[RevisionView]
    basis: Basis
    failure: str = ""
    allowed: Allowed = EVERYTHING

    @property
    def preview(self) -> Preview:
        return preview.delete(self.namespace, self.service.name, self.basis.resource_version)


CREATED = (TrafficTarget(100, latest_revision=True),)  # Knative's default split for a new Service


async def _creation(request: Request, draft: kforms.ServiceDraft) -> Change:
    return await recording.change(request, "create", CREATED, template_changes=True,
                                  revision=revision_name(draft.name, 1))


async def _show_create(request: Request, page: CreatePage, status: int = 200, only_preview: bool = False) -> Response:
    """The Create Service form, with what Create would send (or what is missing for it)."""
    try:
        draft = kforms.parse_service(page.form, page.namespace)
    except kforms.FormErrors as errors:
        typed = page.form.name or page.form.template.image
        page.preview_problem = "Fill in the form to see the request" + (
            ": " + "; ".join(errors.fields.values()) if typed else ".")
    else:
        made = await _creation(request, draft)
        page.preview = preview.create(draft, page.create_id, made.history_for(Basis(generation="0")))
        warnings = await resource_problems(lookups(request), page.namespace, draft.template)
        page.limit_warnings, page.quota_warnings = warnings.limit_ranges, warnings.quotas
    # The preview's answer brings the warnings too, out of band, to where the form shows them.
    return render(request, "_create_preview.html" if only_preview else "service_new.html", page, status=status)


@router.get("/namespaces/{namespace}/services/new")
async def new_service(request: Request, namespace: str) -> Response:
    await lookups(request).require_namespace(checked("namespace", namespace))
    form = kforms.ServiceInput(template=kforms.TemplateInput(env=(kforms.EnvInput(),)))
    return await _show_create(request, CreatePage(namespace, form, allowed=await allowed(request, namespace)))


async def _made_by(request: Request, namespace: str, name: str, create_id: str) -> dict[str, Any] | None:
    """The Service `name` when it exists and was created by the form with this id (a retry of our own create)."""
    try:
        existing = await cluster(request).get(r.SERVICE, name, namespace)
    except NotFound:
        return None
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    return existing if create_id and annotations.get(CREATE_ID) == create_id else None


@router.post("/namespaces/{namespace}/services")
@counted("create")
async def create_service(request: Request, namespace: str) -> Response:
    checked("namespace", namespace)
    posted = await forms.posted(request)
    form = forms.service_input(posted)
    create_id = forms.text(posted, "create_id")[:64] or secrets.token_urlsafe(12)
    action = forms.text(posted, "action")
    if action == "preview":
        return await _show_create(request, CreatePage(namespace, form, create_id=create_id), only_preview=True)
    if action == "add-env":
        more = replace(form, template=replace(form.template, env=(*form.template.env, kforms.EnvInput())))
        return await _show_create(request, CreatePage(namespace, more, create_id=create_id))
    try:
        draft = kforms.parse_service(form, namespace)
    except kforms.FormErrors as problems:
        return await _show_create(request, CreatePage(namespace, form, problems.fields, create_id=create_id),
                                  status=422)
    try:
        made = await _creation(request, draft)
        try:
            created = await cluster(request).create(
                r.SERVICE, service_manifest(draft, create_id, made.history_for(Basis(generation="0"))), namespace)
        except (AlreadyExists, Unreachable):
            # After a timeout the create may have landed; a retry then finds it. Ours is not "already there".
            ours = await _made_by(request, namespace, draft.name, create_id)
            if ours is not None:
                return remember(request, go(request, service_url(namespace, draft.name), "status"), namespace, ours)
            raise
    except AlreadyExists:
        errors = {"name": f'A Service named "{draft.name}" already exists in {namespace}; choose another name.'}
        return await _show_create(request, CreatePage(namespace, form, errors, create_id=create_id), status=409)
    except Unreachable as error:
        page = CreatePage(namespace, form, failure=unreachable_text(error), create_id=create_id, retry=True)
        return render(request, "service_new.html", page, status=503)
    except (Rejected, Invalid, NotFound) as error:
        page = CreatePage(namespace, form, failure=error.message, create_id=create_id)
        return await _show_create(request, page, status=422)
    except Forbidden as error:  # nothing was created; what was typed is kept
        page = CreatePage(namespace, form, failure=forbidden_text(error, acting(request).name), create_id=create_id,
                          allowed=await allowed(request, namespace))
        return await _show_create(request, page, status=403)
    done = remember(request, go(request, service_url(namespace, draft.name), "status"), namespace, created)
    return recording.with_event(request, done, created, made)


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
    basis = forms.basis(await forms.posted(request))
    made = await recording.change(request, "delete", ())
    try:
        for _ in range(ATTEMPTS):  # as patch_service: a status update meanwhile is no reason to ask again
            fresh = await cluster(request).get(r.SERVICE, name, namespace)
            if not basis.holds_for(fresh):
                break
            try:
                answer = await cluster(request).delete(r.SERVICE, name, namespace,
                                                       options=delete_options(resource_version(fresh)))
            except Conflict:
                continue
            made.history_for(Basis.of(fresh))
            done = remember(request, go(request, services_url(namespace)), namespace, answer)
            return recording.with_event(request, done, fresh, made)
    except NotFound:  # already gone: what the user wanted; the list must not show it from a cache a moment behind
        gone = {"kind": "Status", "details": {"name": name, "uid": basis.uid}}  # what its delete answered
        return remember(request, go(request, services_url(namespace)), namespace, gone)
    except Forbidden as error:  # nothing was deleted
        (obj, service, revisions), may = await asyncio.gather(lookups(request).service(namespace, name),
                                                              allowed(request, namespace))
        page = DeletePage(namespace, service, revisions, Basis.of(obj), forbidden_text(error, acting(request).name),
                          may)
        return render(request, "delete.html", page, status=403)
    obj, service, revisions = await lookups(request).service(namespace, name)
    failure = ("Someone changed this Service after you opened this page. Check what it is now, below, "
               "and confirm again if you still want to delete it.")
    return render(request, "delete.html", DeletePage(namespace, service, revisions, Basis.of(obj), failure),
                  status=409)
