"""/livez, /healthz and /readyz: the process answers; the cluster answers and serves Knative Serving.

Readiness asks the API server's discovery for serving.knative.dev/v1 with a short timeout and keeps the
answer a few seconds, so that probes from several places cost the cluster one request per period.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse

from app.cluster.client import Cluster
from app.cluster.errors import ClusterError, KnativeNotInstalled, NotFromApiServer, Unreachable
from app.cluster.resources import SERVICE
from app.web.routing import CheckedRoute

CHECK_TIMEOUT = 2.0  # seconds: below the probe timeouts that call /readyz (compose: 3 s)
CACHE_SECONDS = 3.0
_NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter(route_class=CheckedRoute)


@dataclass(frozen=True)
class Verdict:
    reason: str  # "" when ready
    checked: float  # the clock's time of the check

    @property
    def ready(self) -> bool:
        return not self.reason


class Readiness:
    """The last verdict of `check` (a reason, or "" when ready), asked again once it is `ttl` seconds old.

    Concurrent callers of a stale verdict share one check.
    """

    def __init__(self, check: Callable[[], Awaitable[str]], ttl: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.check = check
        self.ttl = ttl
        self.clock = clock
        self._last: Verdict | None = None
        self._lock = asyncio.Lock()

    def _fresh(self) -> Verdict | None:
        last = self._last
        return last if last is not None and self.clock() - last.checked < self.ttl else None

    async def verdict(self) -> Verdict:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self._fresh()
            if fresh is None:
                fresh = self._last = Verdict(await self.check(), self.clock())
            return fresh


async def serves_knative(cluster: Cluster) -> str:
    """"" when the API server answers and serves serving.knative.dev/v1 services; else why not."""
    try:
        if await cluster.serves(SERVICE, request_timeout=CHECK_TIMEOUT):
            return ""
    except (Unreachable, KnativeNotInstalled, NotFromApiServer) as error:
        return error.message
    except ClusterError as error:
        return f"The API server at {cluster.server} answered {error.code} {error.reason}: {error.message}"
    return f"{cluster.server} serves serving.knative.dev/v1 without its services resource."


@router.get("/livez", include_in_schema=False)
@router.get("/healthz", include_in_schema=False)
async def livez() -> PlainTextResponse:
    """The process answers. Nothing else: a sick cluster must not make the orchestrator restart the console."""
    return PlainTextResponse("ok", headers=_NO_STORE)


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> PlainTextResponse:
    readiness: Readiness = request.app.state.readiness
    verdict = await readiness.verdict()
    if verdict.ready:
        return PlainTextResponse("ok", headers=_NO_STORE)
    return PlainTextResponse(f"not ready: {verdict.reason}", status_code=503, headers=_NO_STORE)
