"""create_app(settings) → the console's FastAPI app; its lifespan opens and closes the cluster client.

Besides the pages: /livez, /healthz, /readyz (app.health) and /metrics (app.metrics); every request gets
an id, is counted and logged (app.access).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from app import health, metrics
from app.access import AccessMiddleware
from app.cluster.client import Cluster
from app.settings import Settings
from app.web import details, errors, revisions, security, services, traffic
from app.web.lookups import Lookups
from app.web.render import STATIC, templates


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cluster = await Cluster.connect(settings.kubeconfig, settings.context, settings.request_timeout)
        app.state.cluster = cluster
        app.state.lookups = Lookups(cluster, settings)
        app.state.readiness = health.Readiness(lambda: health.serves_knative(cluster))
        # The imports (kubernetes_asyncio's generated models above all) leave ~100k long-lived objects;
        # without this, every full collection walks them again, ~60 ms in the middle of a page.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await cluster.close()

    async def csrf(request: Request) -> None:
        await security.check(request, settings.secret_key)

    app = FastAPI(
        title="Knative Console", lifespan=lifespan, dependencies=[Depends(csrf)],
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.state.settings = settings
    app.state.templates = templates()
    app.add_middleware(security.SecurityMiddleware, secret=settings.secret_key)
    app.add_middleware(AccessMiddleware)  # added last: the outermost, it times everything the others do
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for module in (services, details, revisions, traffic, health):
        app.include_router(module.router)
    errors.install(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_text() -> Response:
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    return app
