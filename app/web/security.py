"""CSRF protection (a signed token per browser, in forms and in htmx headers, plus an Origin check)
and the security headers every response carries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityMiddleware:
    """Gives each browser its CSRF id (a cookie) and the page its token, and adds the security headers.

    Plain ASGI rather than BaseHTTPMiddleware: it sits on every request, the list page's included.
    """

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        browser_id = Request(scope).cookies.get(COOKIE)
        cookie = b""
        if not browser_id:
            browser_id = secrets.token_urlsafe(18)
            cookie = f"{COOKIE}={browser_id}; HttpOnly; Path=/; SameSite=strict".encode()
        scope.setdefault("state", {})["csrf_token"] = token_for(self.secret, browser_id)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _HEADERS if name not in present]
                if cookie:
                    headers.append((b"set-cookie", cookie))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
