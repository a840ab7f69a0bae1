"""What handlers share: the app's state, path checks and redirects."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from app.cluster.client import Cluster
from app.web.lookups import Lookups

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class BadPath(Exception):
    """A namespace or Service name in the URL that Kubernetes could never have."""

    def __init__(self, what: str, value: str) -> None:
        super().__init__(f"{value!r} is not a valid {what} name.")
        self.what = what
        self.value = value


def cluster(request: Request) -> Cluster:
    return request.app.state.cluster  # type: ignore[no-any-return]


def identity(request: Request) -> tuple[str, Cluster]:
    """Who this request acts as, and the client that acts as them: what live pages share watches by.

    Today every request acts as the console's own kubeconfig user. With sign-in, each user's token gives a
    client of its own and an identity of its own, and nothing else here changes.
    """
    own = cluster(request)
    return f"kubeconfig:{own.user}", own


def lookups(request: Request) -> Lookups:
    return request.app.state.lookups  # type: ignore[no-any-return]


def checked(what: str, value: str) -> str:
    if len(value) > 253 or not _NAME.match(value):
        raise BadPath(what, value)
    return value


def go(request: Request, url: str) -> Response:
    """After a successful POST: a 303 for plain forms, HX-Redirect for htmx."""
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def services_url(namespace: str) -> str:
    return f"/namespaces/{namespace}/services"


def service_url(namespace: str, name: str) -> str:
    return f"/namespaces/{namespace}/services/{name}"
