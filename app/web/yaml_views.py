"""`?format=yaml` on a Service's or a revision's page: its YAML as a user would commit it (app.knative.yaml_view), or
everything the API gives with `&everything=1`, and `&download=1` for the file itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.knative.yaml_view import document
from app.web.render import render

FORMATS = ("", "html", "yaml")
YAML_TYPE = "application/yaml"  # RFC 9512


def requested(format: str) -> str:
    """"yaml" or "html"; an unknown format is a 400 that says which there are."""
    if format not in FORMATS:
        raise HTTPException(400, f"Unknown format {format[:40]!r}: use ?format=yaml, or no format for the page.")
    return format or "html"


def chosen(value: str) -> bool:
    return value in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Place:
    """Where the object is, for the page's links."""

    namespace: str
    service: str
    revision: str  # "" for the Service itself
    url: str  # its page


@dataclass
class YamlPage:
    place: Place
    text: str
    everything: bool

    @property
    def kind(self) -> str:
        return "Revision" if self.place.revision else "Service"

    @property
    def name(self) -> str:
        return self.place.revision or self.place.service

    @property
    def filename(self) -> str:
        return f"{self.name}{'.full' if self.everything else ''}.yaml"

    def link(self, everything: bool, download: bool = False) -> str:
        query = {"format": "yaml"} | ({"everything": "1"} if everything else {}) | ({"download": "1"} if download
                                                                                   else {})
        return f"{self.place.url}?{urlencode(query)}"


def respond(request: Request, obj: dict[str, Any], place: Place, everything: str, download: str) -> Response:
    page = YamlPage(place, document(obj, chosen(everything)), chosen(everything))
    if chosen(download):
        return Response(page.text, media_type=YAML_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{page.filename}"'})
    return render(request, "yaml.html", page)
