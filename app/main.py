"""create_app(settings) → the console's FastAPI app; its lifespan opens and closes the cluster client."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp

from app.cluster.client import Cluster
from app.settings import Settings
from app.web import details, errors, revisions, security, services, traffic
from app.web.lookups import Lookups
from app.web.render import STATIC, templates


class ConsoleApp(FastAPI):
    """FastAPI with the security layer outside everything, Starlette's own 500 page included."""

    security_secret: str = ""
    security_hosts: frozenset[str] = frozenset()

    def build_middleware_stack(self) -> ASGIApp:
        return security.SecurityMiddleware(super().build_middleware_stack(), self.security_secret,
                                           self.security_hosts)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cluster = await Cluster.connect(settings.kubeconfig, settings.context, settings.request_timeout)
        app.state.cluster = cluster
        app.state.lookups = Lookups(cluster, settings)
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

    app = ConsoleApp(
        title="Knative Console", lifespan=lifespan, dependencies=[Depends(csrf)],
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.security_secret, app.security_hosts = settings.secret_key, settings.hosts
    app.state.settings = settings
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for module in (services, details, revisions, traffic):
        app.include_router(module.router)
    errors.install(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    return app
