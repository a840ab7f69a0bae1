"""Templates: one Jinja environment with autoescaping, filters the pages share, and the render call."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from app import assets
from app.knative.traffic import Now
from app.web.in_force import in_force

TEMPLATES = assets.directory("templates")
STATIC = assets.directory("static")
HTMX = "htmx-2.0.11.min.js"
HTMX_SSE = "htmx-ext-sse-2.2.4.min.js"  # htmx's SSE extension, from the npm package htmx-ext-sse


def when(timestamp: str) -> str:
    """`2025-01-31 14:05 UTC` for an RFC 3339 time (the text without JavaScript); the original when unreadable."""
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return then.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def web_url(url: str) -> bool:
    """Whether a URL from the cluster may become a link: http and https only (no javascript:, data:, …)."""
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def templates() -> Jinja2Templates:
    environment = Jinja2Templates(directory=str(TEMPLATES))
    environment.env.autoescape = True  # every template, whatever its extension
    environment.env.filters["when"] = when
    environment.env.filters["web_url"] = web_url
    environment.env.globals["htmx"] = HTMX
    environment.env.globals["htmx_sse"] = HTMX_SSE
    environment.env.globals["in_force"] = in_force  # the `split` region's (app.web.in_force)
    environment.env.globals["zero_now"] = Now(0)
    return environment


def render(
    request: Request, name: str, context: Any = None, status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """Render `name` with a page context (a dataclass, exposed as `page` and by its fields)."""
    values: dict[str, Any] = {}
    if context is not None:
        values["page"] = context
        if is_dataclass(context):
            values.update({f.name: getattr(context, f.name) for f in fields(context)})
        elif isinstance(context, dict):
            values.update(context)
    values["settings"] = request.app.state.settings
    values["principal"] = getattr(request.state, "principal", None)  # who the page acts as (app.web.auth)
    values["csrf_token"] = getattr(request.state, "csrf_token", "")
    values["is_htmx"] = request.headers.get("HX-Request") == "true"
    # A page asked for by htmx to fill the <dialog> renders without the surrounding layout.
    values["is_dialog"] = values["is_htmx"] and request.headers.get("HX-Target") == "dialog"
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, name, values, status_code=status, headers=headers)
    return response
