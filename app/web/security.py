"""CSRF protection (a signed token per browser, in forms and in htmx headers, plus an Origin check), the Host
allow-list against DNS rebinding, and the security headers every response carries, error pages included."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web import forms

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


def signature(secret: str, *parts: str) -> str:
    """A MAC over `parts`, so that a form can carry something the console vouched for when it rendered it."""
    mac = hmac.new(secret.encode(), "\n".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def same(sent: str, expected: str) -> bool:
    """Whether a token, signature or MAC someone sent is the expected one, in constant time. As bytes: hmac's
    compare_digest refuses a str with a character outside ASCII (a TypeError, so a 500), and anyone can send one."""
    return hmac.compare_digest(sent.encode(), expected.encode())


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
        form = await forms.posted(request)
        value = form.get(FORM_FIELD, "")
        sent = value if isinstance(value, str) else ""
    if not browser_id or not sent or not same(sent, token_for(secret, browser_id)):
        raise CsrfRejected("The form is missing its security token or it has expired.")


_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


# Probes (a kubelet's, a load balancer's) send the pod's or the node's address as Host; these answer them anyway.
PROBES = ("/healthz", "/livez", "/readyz", "/metrics")  # kubelet and Prometheus ask by the pod IP


def host_name(header: str) -> str:
    """The Host header without its port, lower case: `[::1]:8000` → `[::1]`, `Example.com:80` → `example.com`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class SecurityMiddleware:
    """The outermost layer: refuses unknown Hosts (400, before any handler), gives each browser its CSRF id (a
    cookie) and the page its token, and adds the security headers to every response, a 500 included.

    Plain ASGI rather than BaseHTTPMiddleware: it sits on every request, the list page's included.
    """

    def __init__(self, app: ASGIApp, secret: str, hosts: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.secret = secret
        self.hosts = hosts  # empty: any Host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _HEADERS if name not in present]
                if cookie:
                    headers.append((b"set-cookie", cookie))
                renewed = scope.get("state", {}).get("session_cookie")  # app.web.auth renews a session in use
                if renewed:
                    headers.append((b"set-cookie", renewed.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        cookie = b""
        if self.hosts and scope["path"] not in PROBES and host_name(request.headers.get("host", "")) not in self.hosts:
            response = PlainTextResponse(
                "Bad Request: this console does not answer to this host name. If it is served under this name, "
                "add it to --allowed-hosts (KNATIVE_CONSOLE_ALLOWED_HOSTS).", status_code=400)
            await response(scope, receive, send_with_headers)
            return
        browser_id = request.cookies.get(COOKIE)
        if not browser_id:
            browser_id = secrets.token_urlsafe(18)
            cookie = f"{COOKIE}={browser_id}; HttpOnly; Path=/; SameSite=strict".encode()
        scope.setdefault("state", {})["csrf_token"] = token_for(self.secret, browser_id)
        await self.app(scope, receive, send_with_headers)
