"""The Service list's rows, rendered once per version of each Service and kept: a list page that is loaded
again (or a live list that changes one row) renders only the rows whose Service changed.

A row's HTML depends only on its Service object, the namespace, the gateway shown and whether the user may
delete it (the Delete action, enabled or disabled with the reason), never on the time or the browser (ages are
shown by the page's script), so (namespace, uid, resourceVersion, gateway, the delete refusal) is a complete key:
one user's enabled actions never show in another's row.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from app.knative.diagnosis import service_problem
from app.knative.gateway import Gateway
from app.knative.models import ServiceView, service_from
from app.knative.rollout import rollout_progress
from app.knative.traffic import Share, shares

ROWS_TEMPLATE = "_service_rows_render.html"
END_OF_ROW = "<!--/row-->"  # what the rows template writes after each row, to cut its output into rows
CAPACITY = 4096  # rows kept, the least recently shown dropped first: a few MB


@dataclass(frozen=True)
class ServiceRow:
    service: ServiceView
    traffic: list[Share]
    problem: str = ""  # a failed Service: which revision failed and why, in a line
    rolling: str = ""  # a gradual rollout under way: which revision, how far


class RowCache:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.rows: OrderedDict[tuple[Any, ...], Markup] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> Markup | None:
        html = self.rows.get(key)
        if html is not None:
            self.rows.move_to_end(key)
        return html

    def put(self, key: tuple[Any, ...], html: Markup) -> None:
        self.rows[key] = html
        self.rows.move_to_end(key)
        while len(self.rows) > self.capacity:
            self.rows.popitem(last=False)


def row_key(namespace: str, gateway: Gateway, obj: dict[str, Any], no_delete: str = "") -> tuple[Any, ...]:
    meta = obj.get("metadata") or {}
    return (namespace, meta.get("name"), meta.get("uid"), meta.get("resourceVersion"), gateway.known,
            gateway.address, gateway.source, gateway.hint, no_delete)


def render_rows(templates: Jinja2Templates, cache: RowCache, namespace: str, gateway: Gateway,
                items: Sequence[dict[str, Any]], no_delete: Callable[[str], str] = lambda _: "") -> list[Markup]:
    """Each item's row: from the cache, or (all the missing ones in one rendering) parsed and rendered now.
    `no_delete` says why the user may not delete the Services of a namespace ("" when they may)."""

    def render(missing: list[int]) -> list[Markup]:
        views = [service_from(items[index]) for index in missing]
        rows = [ServiceRow(view, shares(view.status_traffic, view.name), service_problem(view), _rolling(view))
                for view in views]
        return cut(templates, ROWS_TEMPLATE, namespace=namespace, gateway=gateway, rows=rows, no_delete=no_delete)

    return kept_rows(cache, [row_key(namespace, gateway, obj, no_delete(_namespace(obj))) for obj in items], render)


def _rolling(view: ServiceView) -> str:
    progress = rollout_progress(view)
    return progress.in_list if progress else ""


def kept_rows(cache: RowCache, keys: Sequence[tuple[Any, ...] | None],
              render: Callable[[list[int]], list[Markup]]) -> list[Markup]:
    """The rows with these keys: from the cache, or rendered now (`render` gets the indexes of all the missing ones,
    for one rendering) and kept. A key of None is never kept: its row is always rendered."""
    found = [None if key is None else cache.get(key) for key in keys]
    missing = [index for index, html in enumerate(found) if html is None]
    if missing:
        for index, html in zip(missing, render(missing), strict=True):
            found[index] = html
            key = keys[index]
            if key is not None:
                cache.put(key, html)
    return [html for html in found if html is not None]


def cut(templates: Jinja2Templates, template: str, **context: Any) -> list[Markup]:
    """A rows template's output, cut into its rows (it writes END_OF_ROW after each)."""
    text = templates.get_template(template).render(**context)
    # Markup: the rows templates autoescape; each piece is a whole <tr> they wrote.
    return [Markup(piece.strip()) for piece in text.split(END_OF_ROW)[:-1]]  # noqa: S704


def _namespace(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")
