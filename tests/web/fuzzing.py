"""The registry of the console's input surfaces under hypothesis: each property-based test that exercises a route
says so with `@fuzzes("METHOD /path", "path", "query", "form")`, and tests/web/test_fuzzed_routes.py fails for any
route of the app whose path parameters, query string or posted form no such test names (or for an entry naming a
route that no longer exists)."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

SURFACES = ("path", "query", "form")
FUZZED: dict[str, set[str]] = defaultdict(set)  # "METHOD /path" → the surfaces some hypothesis test exercises
TESTS: dict[str, list[str]] = defaultdict(list)  # "METHOD /path" → those tests, for the failure message

Test = TypeVar("Test", bound=Callable[..., Any])


def examples(default: int) -> int:
    """How many examples a fuzz test of the web surfaces draws: `default` in `make test`, FUZZ_EXAMPLES when set (the
    long runs: `FUZZ_EXAMPLES=3000 .venv/bin/pytest tests/web/test_fuzz_surfaces.py`)."""
    return int(os.environ.get("FUZZ_EXAMPLES", default))


def fuzzes(route: str, *surfaces: str) -> Callable[[Test], Test]:
    """Record that the decorated hypothesis test exercises these surfaces of `route` ("GET /namespaces/{namespace}/
    services"; a mount as "MOUNT /static")."""
    unknown = set(surfaces) - set(SURFACES)
    assert surfaces and not unknown, f"surfaces are some of {SURFACES}, not {unknown or 'none'}"

    def record(test: Test) -> Test:
        assert getattr(test, "is_hypothesis_test", False), f"{test.__name__} is not a hypothesis test (@given)"
        FUZZED[route].update(surfaces)
        TESTS[route].append(f"{test.__module__}.{test.__name__}")
        return test

    return record
