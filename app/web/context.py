"""What handlers share: the app's state, path checks and redirects."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from app.cluster.client import Cluster
from app.web.auth import Principal
from app.web.lookups import Lookups
from app.web.permissions import Allowed

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class BadPath(Exception):
    """A namespace or Service name in the URL that Kubernetes could never have."""

    def __init__(self, what: str, value: str) -> None:
        super().__init__(f"{value!r} is not a valid {what} name." if value else f"No {what} name was given.")
        self.what = what
        self.value = value


def acting(request: Request) -> Principal:
    """Who this request acts as (app.web.auth found it before the handler ran)."""
    return request.state.principal  # type: ignore[no-any-return]


def cluster(request: Request) -> Cluster:
    """The client that acts as this request's user: the console's own credentials, or the user's token."""
    return acting(request).cluster


def identity(request: Request) -> tuple[str, Cluster]:
    """Who this request acts as, and the client that acts as them: what live pages share watches by. Each user
    (name and groups) has an identity of their own and brings a client with their own token."""
    who = acting(request)
    return who.key, who.cluster


def reloaded(request: Request) -> bool:
    """A hard reload (`Cache-Control: no-cache`, as browsers send it): the page passes its caches by."""
    return "no-cache" in request.headers.get("cache-control", "").lower()


def lookups(request: Request) -> Lookups:
    """Reads as this request's user; what is cached is cached for them alone (the gateway's address, read with the
    console's own credentials, for everyone)."""
    who = acting(request)
    return request.app.state.lookups.acting_as(who.cluster, who.key)  # type: ignore[no-any-return]


async def allowed(request: Request, namespace: str) -> Allowed:
    """What this request's user may do to Services in `namespace` (asked of the cluster, kept a short while)."""
    return await request.app.state.permissions.services(acting(request), namespace)  # type: ignore[no-any-return]


def valid_name(value: str) -> bool:
    """Whether `value` could be a namespace's or an object's name (a DNS-1123 label, at most 253 characters here)."""
    return len(value) <= 253 and bool(_NAME.match(value))


def checked(what: str, value: str) -> str:
    if not valid_name(value):
        raise BadPath(what, value)
    return value


def go(request: Request, url: str, section: str = "") -> Response:
    """After a successful POST: a 303 for plain forms, HX-Redirect for htmx. For a plain form, `section`, the page's
    region the post changed (its `region-…` id), becomes the URL's fragment: the page that loads starts there, and
    app.js gives its heading focus, so that a keyboard or screen-reader user starts at what changed rather than at the
    top. Not for htmx: its redirect sets location.href, and a dialog's page that differs from it only in the fragment
    would scroll instead of loading again (the split dialog's page says what it sent instead, app.js)."""
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(f"{url}#region-{section}" if section else url, status_code=303)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def services_url(namespace: str) -> str:
    return f"/namespaces/{namespace}/services"


def service_url(namespace: str, name: str) -> str:
    return f"/namespaces/{namespace}/services/{name}"
