"""Named regions of a page: rendered once for the page and again by the live stream when what they show changes.

A region's HTML does not depend on the browser that asks (no CSRF token, no per-tab state), so one rendering
serves every open tab of the same identity. The page tells its stream what it already shows (a short digest
of each region), so a tab that opens is sent only the regions that changed since its page was rendered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from app.settings import Settings

Regions = dict[str, Markup]  # region name → its rendered, escaped HTML


@dataclass(frozen=True)
class Region:
    name: str  # the element's `sse-swap` event and id (`region-NAME`)
    template: str  # a partial that renders the region's inside from the page's context


def context_of(page: Any, settings: Settings) -> dict[str, Any]:
    values: dict[str, Any] = {"page": page, "settings": settings}
    if is_dataclass(page):
        values.update({f.name: getattr(page, f.name) for f in fields(page) if f.name != "regions"})
    return values


def render_regions(templates: Jinja2Templates, regions: Iterable[Region], page: Any, settings: Settings) -> Regions:
    # Markup: the partials are autoescaped templates; what comes out is HTML that is already safe to insert.
    context = context_of(page, settings)
    return {r.name: Markup(templates.get_template(r.template).render(context)) for r in regions}  # noqa: S704


def digest(html: str) -> str:
    return hashlib.blake2b(html.encode(), digest_size=6).hexdigest()


def seen_of(regions: Mapping[str, str]) -> str:
    return ",".join(f"{name}:{digest(html)}" for name, html in regions.items())


def parse_seen(text: str) -> dict[str, str]:
    """The `seen` parameter back into {region: digest}; anything malformed is simply not seen."""
    pairs = (part.split(":", 1) for part in text.split(",")[:64] if ":" in part)
    return {name[:64]: value[:32] for name, value in pairs}


def stream_url(path: str, regions: Mapping[str, str], query: Mapping[str, str],
               rows: Mapping[str, str] | None = None) -> str:
    """The page's live stream: `/live` + the page's own path, its query, what the page shows now, and (`rows`) which
    rows it shows, for a page that marks those that went."""
    return f"/live{path}?" + urlencode({**query, "seen": seen_of(regions), **(rows or {})})
