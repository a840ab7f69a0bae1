"""Templates: one Jinja environment with autoescaping, filters the pages share, and the render call."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from app import assets

TEMPLATES = assets.directory("templates")
STATIC = assets.directory("static")
HTMX = "htmx-2.0.11.min.js"


def age(timestamp: str) -> str:
    """`3m`, `2h5m`, `4d` since an RFC 3339 time: what kubectl's AGE column would say."""
    if not timestamp:
        return ""
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - then).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    minutes = seconds // 60
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h{minutes % 60}m" if hours < 8 and minutes % 60 else f"{hours}h"
    return f"{hours // 24}d"


def web_url(url: str) -> bool:
    """Whether a URL from the cluster may become a link: http and https only (no javascript:, data:, …)."""
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def templates() -> Jinja2Templates:
    environment = Jinja2Templates(directory=str(TEMPLATES))
    environment.env.autoescape = True  # every template, whatever its extension
    environment.env.filters["age"] = age
    environment.env.filters["web_url"] = web_url
    environment.env.globals["htmx"] = HTMX
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
    values["csrf_token"] = getattr(request.state, "csrf_token", "")
    values["is_htmx"] = request.headers.get("HX-Request") == "true"
    # A page asked for by htmx to fill the <dialog> renders without the surrounding layout.
    values["is_dialog"] = values["is_htmx"] and request.headers.get("HX-Target") == "dialog"
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, name, values, status_code=status, headers=headers)
    return response
