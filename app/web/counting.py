"""Counting the writes users ask for, by kind and outcome, with one decorator line on each write handler.

The outcome is read from how the handler ended: a redirect is `ok`; 409 `conflict`; 400 or 422
`rejected` (by the console's own checks or the cluster's admission); 403 `forbidden`; 404 `not_found`;
a 200 re-renders a form without writing (a wizard step) and is not counted. A cluster error that escapes
the handler counts by its code before the error pages render it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from app import metrics
from app.web import forms

P = ParamSpec("P")
Kind = str | Callable[[FormData], str | None]  # a kind, or the kind of the posted form (None: not a write)


def counted(kind: Kind) -> Callable[[Callable[P, Awaitable[Response]]], Callable[P, Awaitable[Response]]]:
    def decorate(handler: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
        @functools.wraps(handler)
        async def counting(*args: P.args, **kwargs: P.kwargs) -> Response:
            which: str | None = kind if isinstance(kind, str) else None
            if not isinstance(kind, str):
                request: Any = kwargs["request"]  # passed by name (FastAPI, app.web.routing)
                which = kind(await forms.posted(request)) if isinstance(request, Request) else None
            try:
                response = await handler(*args, **kwargs)
            except Exception as error:
                code = getattr(error, "code", None)
                if which:
                    metrics.count_write(which, code if isinstance(code, int) else 500)
                raise
            if which:
                metrics.count_write(which, response.status_code)
            return response

        # FastAPI reads the parameters from the signature; resolved here, as the handler's module sees them.
        counting.__signature__ = inspect.signature(handler, eval_str=True)  # type: ignore[attr-defined]
        return counting

    return decorate
