"""Writing answers: JSON bodies, lists built from the stored JSON, and Status errors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from app.devcluster.apiserver.errors import ApiError
from app.devcluster.apiserver.resources import ResourceDef
from app.devcluster.apiserver.rest import kind_list


def status_response(error: ApiError) -> web.Response:
    if error.plain:
        response = web.Response(text=error.message + "\n", status=error.code, content_type="text/plain",
                                headers={"X-Content-Type-Options": "nosniff"})
    else:
        response = json_response(error.status(), status=error.code)
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def json_response(body: Any, content_type: str = "application/json", status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(), status=status, headers={"Content-Type": content_type}
    )


def text_response(body: str, status: int = 200) -> web.Response:
    """An object already encoded as JSON, e.g. the text it was committed as."""
    return web.Response(body=body.encode(), status=status, headers={"Content-Type": "application/json"})


def list_response(resource: ResourceDef, bodies: list[str], metadata: dict[str, Any]) -> web.Response:
    """A list whose items are their committed JSON, joined without decoding them."""
    head = json.dumps(
        {"apiVersion": resource.api_version, "kind": kind_list(resource), "metadata": metadata},
        separators=(",", ":"),
    )[:-1]
    return text_response(head + ',"items":[' + ",".join(bodies) + "]}")
