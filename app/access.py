"""What every HTTP request leaves behind: a request id, the HTTP metrics and one access log line.

Plain ASGI, outermost, so that it times and counts everything the console answers, errors included.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import logs, metrics

log = logging.getLogger("knative_console.access")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Kubelet and compose ask these every few seconds: their successes are logged at DEBUG, not INFO.
PROBES = ("/livez", "/healthz", "/readyz", "/metrics")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is a plain token (a proxy's), else a new one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            sent = bytes(value).decode("latin-1")
            if _SANE_ID.match(sent):
                return sent
    return uuid.uuid4().hex


def printable(path: str) -> str:
    """The path with control characters escaped, so that a crafted URL cannot forge a text log line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in path)


def route_template(scope: Scope) -> str:
    """The route that answered, as declared (`/namespaces/{namespace}/services`), never the raw path."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "unmatched"))
    if scope.get("endpoint") is not None and scope.get("root_path"):  # a Mount: /static
        # (Starlette makes it "/static/" for a path that ends in a newline: its `$` matches before one)
        return f"{str(scope['root_path']).rstrip('/')}/{{path}}"
    return "unmatched"


def acting_user(scope: Scope) -> str:
    """Who the cluster saw for this request (app.web.auth found it); "" for probes and the sign-in page."""
    principal: Any = scope.get("state", {}).get("principal")
    return str(getattr(principal, "name", "") or "")


class AccessMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        method = scope["method"] if scope["method"] in METHODS else "other"
        status = 500  # unless the app starts a response
        started = time.perf_counter()
        token = logs.bind(request_id=rid, method=method, path=scope["path"])

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            metrics.http_requests.labels(route, method, str(status)).inc()
            metrics.http_duration.labels(route, method).observe(elapsed)
            level = logging.DEBUG if route in PROBES and status < 400 else logging.INFO
            log.log(level, "%s %s %s %.1f ms", method, printable(scope["path"]), status, elapsed * 1000,
                    extra={"route": route, "status": status, "duration_ms": round(elapsed * 1000, 1),
                           "user": acting_user(scope)})
            logs.unbind(token)
