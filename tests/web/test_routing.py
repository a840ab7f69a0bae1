"""The console's routes (app.web.routing): every one runs the app's checks first, in order, whether FastAPI reads its
parameters or it is called directly with the request and its path's strings; a route without them is refused."""

from __future__ import annotations

import re
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Path, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from app.main import create_app
from app.settings import Settings
from app.web.routing import CheckedRoute, ChecksMissing, install
from tests.web.conftest import KSVC, Console


def _app(checks: tuple[Any, ...] | None, calls: list[str]) -> FastAPI:
    router = APIRouter(route_class=CheckedRoute)

    @router.post("/namespaces/{namespace}/things/{name}")
    async def direct(request: Request, namespace: str, name: str) -> Response:
        calls.append(f"direct {request.method} {namespace}/{name}")
        return PlainTextResponse(f"{namespace}/{name}")

    @router.get("/things")
    async def with_query(request: Request, limit: int = 10) -> Response:
        calls.append(f"query {limit}")
        return PlainTextResponse(str(limit))

    @router.get("/wrong/{name}")
    async def not_a_response(name: str) -> Response:
        return name  # type: ignore[return-value]

    app = FastAPI()
    if checks is not None:
        app.state.route_checks = checks
    install(app, router)
    return app


async def _call(app: FastAPI, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        return await http.request(method, path)


async def test_the_checks_run_first_in_order_then_the_handler_with_its_parameters() -> None:
    calls: list[str] = []

    async def first(request: Request) -> None:
        calls.append("first")

    async def second(request: Request) -> None:
        calls.append("second")

    app = _app((first, second), calls)
    routes = {route.name: route for route in app.routes if isinstance(route, CheckedRoute)}
    assert routes["direct"].direct and not routes["with_query"].direct
    answer = await _call(app, "POST", "/namespaces/team/things/web")
    assert (answer.status_code, answer.text) == (200, "team/web")
    answer = await _call(app, "GET", "/things?limit=3")
    assert (answer.status_code, answer.text) == (200, "3")
    assert calls == ["first", "second", "direct POST team/web", "first", "second", "query 3"]
    assert (await _call(app, "GET", "/things?limit=many")).status_code == 422  # FastAPI still reads this one


async def test_a_refusing_check_stops_the_request_before_its_handler() -> None:
    calls: list[str] = []

    class Refused(Exception):
        pass

    async def refuse(request: Request) -> None:
        calls.append("refused")
        raise Refused

    app = _app((refuse,), calls)
    app.add_exception_handler(Refused, lambda request, error: PlainTextResponse("no", status_code=403))
    for method, path in (("POST", "/namespaces/team/things/web"), ("GET", "/things")):
        answer = await _call(app, method, path)
        assert (answer.status_code, answer.text) == (403, "no")
    assert calls == ["refused", "refused"]


async def test_an_app_without_its_checks_answers_nothing() -> None:
    calls: list[str] = []
    for checks in (None, ()):
        app = _app(checks, calls)
        with pytest.raises(ChecksMissing):
            await _call(app, "POST", "/namespaces/team/things/web")
        with pytest.raises(ChecksMissing):
            await _call(app, "GET", "/things")
    assert calls == []


async def test_a_direct_handler_must_answer_with_a_response() -> None:
    with pytest.raises(TypeError, match="not_a_response returned str, not a Response"):
        await _call(_app((_nothing,), []), "GET", "/wrong/x")


async def _nothing(request: Request) -> None:
    return None


def test_a_route_without_the_checks_is_refused() -> None:
    plain = APIRouter()

    @plain.get("/open")
    async def open_route() -> Response:
        return PlainTextResponse("open")

    with pytest.raises(TypeError, match="is not a CheckedRoute"):
        install(FastAPI(), plain)
    starlette = APIRouter(route_class=CheckedRoute)
    starlette.routes.append(Route("/raw", lambda request: PlainTextResponse("raw")))
    with pytest.raises(TypeError, match="is not a CheckedRoute"):
        install(FastAPI(), starlette)


def test_every_route_of_the_console_is_checked_and_its_writes_are_direct() -> None:
    app = create_app(Settings(secret_key="k" * 32))
    routes = [route for route in app.routes if isinstance(route, CheckedRoute)]
    assert len(routes) == len(app.routes) - 1  # the static files' Mount
    writes = [route for route in routes if "POST" in route.methods]
    assert len(writes) >= 7 and all(route.direct for route in writes), [r.path for r in writes if not r.direct]


async def test_every_write_of_the_console_refuses_a_post_without_its_token(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "kept")
    await console.get("/healthz")  # the browser's CSRF cookie
    paths = [re.sub(r"\{(\w+)\}", lambda m: ns if m.group(1) == "namespace" else "kept", route.path)
             for route in console.http._transport.app.routes  # type: ignore[attr-defined]
             if isinstance(route, CheckedRoute) and "POST" in route.methods]
    for path in paths:
        answer = await console.post(path, {"action": "ok", "name": "sneaky"}, csrf=False)
        assert answer.status_code == 403, path
        assert "The form is missing its security token or it has expired." in answer.text, path
    names = [item["metadata"]["name"] for item in console.cluster.get(KSVC.format(ns=ns))["items"]]
    assert names == ["kept"]


async def test_a_handler_that_needs_fastapi_is_not_called_directly() -> None:
    """A plain `def` handler (FastAPI runs it in a thread) and a path parameter with its own checks (a pattern, a
    length) would be called without them: each goes through FastAPI, and the second is refused before it runs."""
    calls: list[str] = []
    router = APIRouter(route_class=CheckedRoute)

    @router.post("/sync/{name}")
    def sync_write(request: Request, name: str) -> Response:
        calls.append(f"sync {name}")
        return PlainTextResponse(f"wrote {name}")

    @router.post("/checked/{name}")
    async def checked_name(request: Request, name: Annotated[str, Path(pattern="^[a-z]+$", max_length=8)]) -> Response:
        calls.append(f"checked {name}")
        return PlainTextResponse(name)

    app = FastAPI()
    app.state.route_checks = (_nothing,)
    install(app, router)
    assert not any(route.direct for route in app.routes if isinstance(route, CheckedRoute))
    answer = await _call(app, "POST", "/sync/web")
    assert (answer.status_code, answer.text) == (200, "wrote web")
    assert (await _call(app, "POST", "/checked/NOT-a-name")).status_code == 422
    assert (await _call(app, "POST", "/checked/web")).text == "web"
    assert calls == ["sync web", "checked web"]
