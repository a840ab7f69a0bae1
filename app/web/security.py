"""CSRF protection (a signed token per browser, in forms and in htmx headers, plus an Origin check)
and the security headers every response carries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.responses import Response

COOKIE = "kc_csrf"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class CsrfRejected(Exception):
    """A write without a valid token, or from another origin."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def token_for(secret: str, browser_id: str) -> str:
    mac = hmac.new(secret.encode(), browser_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser, or an old one: the token still has to match
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


async def check(request: Request, secret: str) -> None:
    """Raise CsrfRejected unless this write carries this browser's token and comes from this origin."""
    if request.method in SAFE_METHODS:
        return
    if not _same_origin(request):
        raise CsrfRejected("The request came from another site.")
    browser_id = request.cookies.get(COOKIE, "")
    sent = request.headers.get(HEADER, "")
    if not sent:
        form = await request.form()
        value = form.get(FORM_FIELD, "")
        sent = value if isinstance(value, str) else ""
    if not browser_id or not sent or not hmac.compare_digest(sent, token_for(secret, browser_id)):
        raise CsrfRejected("The form is missing its security token or it has expired.")


def middleware(secret: str) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def dispatch(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        browser_id = request.cookies.get(COOKIE)
        fresh = not browser_id
        if fresh:
            browser_id = secrets.token_urlsafe(18)
        request.state.csrf_token = token_for(secret, browser_id)
        response = await call_next(request)
        if fresh:
            response.set_cookie(COOKIE, browser_id, httponly=True, samesite="strict", path="/")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return dispatch
