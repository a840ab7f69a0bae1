"""One place that turns failures into pages: unreachable cluster, Knative missing, not found, forbidden."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from app.cluster.errors import (
    ClusterError,
    Forbidden,
    KnativeNotInstalled,
    NotFound,
    NotFromApiServer,
    Unauthorized,
    Unreachable,
)
from app.web.auth import ProxyCredentialsMissing, SignInRequired, secure, sign_in_url
from app.web.context import BadPath
from app.web.permissions import forbidden_text
from app.web.render import render
from app.web.security import CsrfRejected
from app.web.sessions import cookie_header

log = logging.getLogger("knative_console.web")


@dataclass
class ErrorPage:
    title: str
    message: str
    hint: str = ""
    retry: str = ""  # a URL to try again
    back: str = ""  # where to go instead
    server: str = ""


def _back(request: Request) -> str:
    namespace = request.path_params.get("namespace")
    return f"/namespaces/{namespace}/services" if namespace else "/"


def unreachable_text(error: Unreachable) -> str:
    return (f"{error.message}. Nothing you typed is lost: it is all below. Check that the cluster is up, then press "
            "Retry.")


def show(request: Request, page: ErrorPage, status: int) -> Response:
    """The error as a page; inside the dialog when the dialog asked (with a way out); for a background refresh,
    an answer htmx does not swap in (the page says the refresh failed and keeps what it shows)."""
    headers = {"HX-Reswap": "none"} if request.headers.get("HX-Request") == "true" and \
        request.headers.get("HX-Target") != "dialog" else None
    return render(request, "error.html", page, status=status, headers=headers)


LIVE_PREFIX = "/live/"


def _live_refusal(request: Request, why: str) -> Response:
    """A live stream that cannot act for anyone: one banner event, and the browser not back for a minute."""
    return Response(request.app.state.live.refusal(why), media_type="text/event-stream",
                    headers={"Cache-Control": "no-store"})


def _to_sign_in(request: Request, why: str) -> Response:
    """To the sign-in page (and back here after it); htmx requests follow with HX-Redirect."""
    url = sign_in_url(request, why)
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def not_understood(error: RequestValidationError) -> str:
    """Which part of the address FastAPI could not read, and what it must be (never the value sent: it is the
    visitor's, and says nothing they do not know)."""
    problems = []
    for problem in error.errors():
        name = str(problem.get("loc", ("", "?"))[-1])
        limits = problem.get("ctx") or {}
        kind = problem.get("type", "")
        if kind in ("int_parsing", "int_type", "int_from_float"):
            problems.append(f"{name} must be a whole number")
        elif kind == "greater_than_equal":
            problems.append(f"{name} must be at least {limits.get('ge')}")
        elif kind == "less_than_equal":
            problems.append(f"{name} must be at most {limits.get('le')}")
        elif kind == "string_too_long":
            problems.append(f"{name} must be at most {limits.get('max_length')} characters long")
        else:
            problems.append(f"{name} is not understood")
    return f"The address is not understood: {'; '.join(problems) or 'a part of it is not'}."


def install(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, error: SignInRequired) -> Response:
        if request.url.path.startswith(LIVE_PREFIX):
            return _live_refusal(request, "You are signed out, so this page no longer updates by itself: reload it "
                                          "to sign in again.")
        response = _to_sign_in(request, error.why)
        if error.why:  # a cookie that did not open: forget it
            response.headers.append("set-cookie", cookie_header("", secure(request), max_age=0))
        return response

    @app.exception_handler(ProxyCredentialsMissing)
    async def proxy_missing(request: Request, error: ProxyCredentialsMissing) -> Response:
        if request.url.path.startswith(LIVE_PREFIX):
            return _live_refusal(request, error.why)
        return show(request, ErrorPage("Not signed in", error.why, "Open the console through the sign-in proxy.",
                                       retry=str(request.url)), status=401)

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, error: Unauthorized) -> Response:
        mode = request.app.state.settings.auth
        if mode == "token":
            why = "The cluster no longer accepts your token (it expired or was revoked): sign in again."
            if request.url.path.startswith(LIVE_PREFIX):
                return _live_refusal(request, why)
            response = _to_sign_in(request, why)
            response.headers.append("set-cookie", cookie_header("", secure(request), max_age=0))
            return response
        hint = ("Sign in again through the proxy." if mode == "proxy" else
                "The console's own credentials were refused: check the kubeconfig (or the pod's service account), "
                "then retry.")
        return show(request, ErrorPage("The cluster did not accept the credentials", error.message, hint,
                                       retry=str(request.url)), status=401)

    @app.exception_handler(Unreachable)
    async def unreachable(request: Request, error: Unreachable) -> Response:
        page = ErrorPage("Cannot reach the cluster", f"{error.message}.", "Press Retry once it answers again.",
                         retry=str(request.url), server=error.server)
        return show(request, page, status=503)

    @app.exception_handler(NotFromApiServer)
    async def not_from_api_server(request: Request, error: NotFromApiServer) -> Response:
        log.warning("an error answer without a Status: %s %s", error.code, error.reason)
        page = ErrorPage("The Kubernetes API server did not answer", error.message,
                         "Press Retry once it answers again.", retry=str(request.url))
        return show(request, page, status=502)

    @app.exception_handler(KnativeNotInstalled)
    async def no_knative(request: Request, error: KnativeNotInstalled) -> Response:
        page = ErrorPage("Knative Serving is not installed in this cluster", error.message,
                         "Install Knative Serving (https://knative.dev/docs/install/) or point the console at a "
                         "cluster that has it.", retry=str(request.url))
        return show(request, page, status=503)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> Response:
        name = request.path_params.get("name")
        namespace = request.path_params.get("namespace", "")
        if error.details.get("kind") == "namespaces":
            page = ErrorPage("Namespace not found",
                             f'There is no namespace "{namespace}" in this cluster. Choose another one, or create it '
                             f"first (kubectl create namespace {namespace}).", back="/")
        elif name and error.details.get("kind") == "services":
            page = ErrorPage("Service not found",
                             f'There is no Service "{name}" in the namespace {namespace}. It may have been deleted.',
                             back=_back(request))
        else:
            page = ErrorPage("Not found", error.message, back=_back(request))
        return show(request, page, status=404)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> Response:
        who = getattr(request.state, "principal", None)
        if who is None or who.via == "kubeconfig":
            hint = "The cluster refused this for the console's credentials; README lists the RBAC it needs."
        else:
            hint = f"The cluster said: {error.message}"
        page = ErrorPage("Not allowed", forbidden_text(error, who.name if who else "The console"), hint,
                         back=_back(request))
        return show(request, page, status=403)

    @app.exception_handler(ClusterError)
    async def cluster_error(request: Request, error: ClusterError) -> Response:
        log.warning("cluster answered %s %s: %s", error.code, error.reason, error.message)
        page = ErrorPage("The cluster refused the request", f"{error.reason}: {error.message}", back=_back(request),
                         retry=str(request.url))
        return show(request, page, status=502)

    @app.exception_handler(CsrfRejected)
    async def csrf(request: Request, error: CsrfRejected) -> Response:
        page = ErrorPage("Request refused", error.why,
                         "Reload the page and submit the form again. Nothing was changed.", back=_back(request))
        return show(request, page, status=403)

    @app.exception_handler(BadPath)
    async def bad_path(request: Request, error: BadPath) -> Response:
        # Kubernetes' own words for such a name (apimachinery's validation.IsDNS1123Label, RFC 1123 label).
        hint = (f"A {error.what} name consists of lower case alphanumeric characters or '-', and starts and ends with "
                f"an alphanumeric character (e.g. 'my-name'): check the address, or choose the {error.what} from the "
                "console's pages.")
        return show(request, ErrorPage("Not found", str(error), hint, back="/"), status=404)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> Response:
        return show(request, ErrorPage("Bad request", not_understood(error),
                                       "Correct it or remove it from the address, or open the page again from the "
                                       "console's own link.", back=_back(request)), status=400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
        page = ErrorPage("Something went wrong in the console", "The console could not finish this request. "
                         "Check the page below before you try again: a change you sent may or may not have been made.",
                         retry=str(request.url) if request.method == "GET" else "", back=_back(request))
        return show(request, page, status=500)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        title = "Page not found" if error.status_code == 404 else "Request refused"
        detail = "There is no page at this address." if error.status_code == 404 else str(error.detail)
        return show(request, ErrorPage(title, detail, back="/"), status=error.status_code)
