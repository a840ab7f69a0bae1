"""create_app(settings) → the console's FastAPI app; its lifespan opens and closes the cluster client.

Besides the pages: /livez, /healthz, /readyz (app.health) and /metrics (app.metrics); every request gets
an id, is counted and logged (app.access).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import ASGIApp

from app import health, metrics
from app.access import AccessMiddleware
from app.cluster.client import Cluster
from app.settings import Settings
from app.web import (
    auth,
    check,
    details,
    diff,
    errors,
    history_page,
    logs,
    revision_page,
    revisions,
    security,
    service_writes,
    services,
    streams,
    traffic,
)
from app.web.live import Live
from app.web.lookups import Lookups
from app.web.permissions import Permissions
from app.web.render import STATIC, templates
from app.web.routing import CheckedRoute, install, require_checked
from app.web.rows import RowCache
from app.web.sessions import Sessions

GC_YOUNG = 5000  # allocations between young collections (Python's default: 700)


class ConsoleApp(FastAPI):
    """FastAPI with the security layer outside everything, Starlette's own 500 page included, and the access
    layer (request id, metrics, log line) outside that, so it times and counts every answer."""

    security_secret: str = ""
    security_hosts: frozenset[str] = frozenset()

    def build_middleware_stack(self) -> ASGIApp:
        secured = security.SecurityMiddleware(super().build_middleware_stack(), self.security_secret,
                                              self.security_hosts)
        return AccessMiddleware(secured)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cluster = await Cluster.connect(settings.kubeconfig, settings.context, settings.request_timeout)
        app.state.cluster = cluster
        app.state.own_identity = auth.OwnIdentity(cluster)
        if settings.auth == "kubeconfig":
            app.state.own_identity.name()  # ask the cluster who the console is, without waiting for it
        app.state.lookups = Lookups(cluster, settings)
        app.state.readiness = health.Readiness(lambda: health.serves_knative(cluster))
        app.state.live = Live(settings.live_max_streams, settings.live_max_streams_per_user, settings.live_heartbeat)
        # The imports (kubernetes_asyncio's generated models above all) leave ~100k long-lived objects;
        # without this, every full collection walks them again, ~60 ms in the middle of a page.
        gc.collect()
        gc.freeze()
        # A page of Services decodes into ~5,000 tracked objects that live until the page is sent: at the default
        # threshold (700) every page paid for ~3 young collections walking them (~0.1 ms); at 5,000 most pages pay
        # for none and one in two or three for one, and the older generations are walked a seventh as often.
        gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            await app.state.live.close()
            await cluster.close()

    async def csrf(request: Request) -> None:
        await security.check(request, settings.secret_key)

    app = ConsoleApp(title="Knative Console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.router.route_class = CheckedRoute
    app.state.route_checks = (csrf, auth.authenticate)  # before every handler, in this order (app.web.routing)
    app.security_secret, app.security_hosts = settings.secret_key, settings.hosts
    app.state.settings = settings
    app.state.templates = templates()
    app.state.rows = RowCache()
    app.state.summaries = details.SummaryCache()
    app.state.pages = details.PageCache()
    app.state.checks = check.Running()
    app.state.sessions = Sessions(settings.secret_key, settings.session_idle)
    app.state.proxy_identities = auth.ProxyIdentities()
    app.state.permissions = Permissions()
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    # revisions (the wizard's /revisions/new) before revision_page (/revisions/{name}).
    for module in (auth, services, service_writes, details, revisions, revision_page, diff, history_page, traffic,
                   check, streams, logs, health):
        install(app, module.router)
    errors.install(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_text() -> Response:
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    for route in app.routes:
        require_checked(route)
    return app
