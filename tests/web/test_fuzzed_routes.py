"""Every route of the console's app (app.main.create_app's router, the mounted static files included) whose path
parameters, query string or posted form a user can fill has a hypothesis test that exercises them, registered with
tests.web.fuzzing.fuzzes: a route added without one fails here."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi.routing import APIRoute
from starlette.routing import Mount

import tests.web
from app.main import create_app
from app.settings import Settings
from tests.web.fuzzing import FUZZED, TESTS

SAFE = {"GET", "HEAD", "OPTIONS"}


def surfaces_of_every_route() -> dict[str, set[str]]:
    """"METHOD /path" → the surfaces of that route a user can fill: its path parameters, its query parameters (the
    handler's own, as FastAPI reads them) and, for an unsafe method, its posted form."""
    app = create_app(Settings(secret_key="routes"))
    routes: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, Mount):
            routes[f"MOUNT {route.path}"] = {"path"}  # a file's path under it
            continue
        assert isinstance(route, APIRoute), f"a route of a kind this test does not know: {route!r}"
        for method in sorted(route.methods - {"HEAD"}):
            needed = set()
            if route.param_convertors:
                needed.add("path")
            if route.dependant.query_params:
                needed.add("query")
            if method not in SAFE:
                needed.add("form")
            routes[f"{method} {route.path}"] = needed
    return routes


def test_every_route_a_user_can_fill_is_fuzzed() -> None:
    for module in pkgutil.iter_modules(tests.web.__path__):
        importlib.import_module(f"tests.web.{module.name}")  # each registers its hypothesis tests as it is imported
    routes = surfaces_of_every_route()
    missing = {route: sorted(needed - FUZZED.get(route, set())) for route, needed in routes.items()
               if needed - FUZZED.get(route, set())}
    assert not missing, ("these routes have surfaces no hypothesis test exercises; add one and register it with "
                         f"@fuzzes(route, *surfaces) (tests/web/fuzzing.py): {missing}")
    stale = {route: TESTS[route] for route in FUZZED if route not in routes}
    assert not stale, f"registered for routes the app does not have: {stale}"


def test_the_check_sees_query_strings_forms_and_path_parameters() -> None:
    """What the check above relies on: each kind of surface is found where the app has one."""
    routes = surfaces_of_every_route()
    assert routes["GET /namespaces/{namespace}/services"] == {"path", "query"}
    assert routes["POST /namespaces/{namespace}/services/{name}/traffic"] == {"path", "form"}
    assert routes["GET /namespace"] == {"query"}
    assert routes["POST /signout"] == {"form"}
    assert routes["MOUNT /static"] == {"path"}
    assert routes["GET /livez"] == set()
