"""The diff of two revisions: `/namespaces/{ns}/services/{name}/diff?from=A&to=B` shows their templates side by side,
the fields that differ marked and said in words ("image: …:v2 → …:v3", "env LOG_LEVEL added = debug"). Without
`from` and `to` (or with the table's ticked `rev` boxes), it asks which two to compare."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.knative import changes
from app.knative.instances import resolved_image
from app.knative.models import RevisionView, newest_first, revision_from
from app.web.context import checked, lookups, service_url
from app.web.render import render
from app.web.routing import CheckedRoute

router = APIRouter(route_class=CheckedRoute)


@dataclass
class DiffPage:
    namespace: str
    service: str
    revisions: list[RevisionView]  # newest first, for the pickers
    left: RevisionView | None = None  # from
    right: RevisionView | None = None  # to
    diffs: list[changes.FieldDiff] = field(default_factory=list)
    rows: list[changes.SideBySide] = field(default_factory=list)
    problem: str = ""  # why the two could not be compared, said so that the user can choose again
    chosen: tuple[str, str] = ("", "")  # what the pickers show

    @property
    def base(self) -> str:
        return service_url(self.namespace, self.service)


def choose(names: list[str], picked: list[str], start: str, end: str) -> tuple[str, str, str]:
    """(from, to, problem) from `?from=&to=` or from ticked boxes (`?rev=A&rev=B`, ordered oldest first)."""
    if picked and not (start or end):
        if len(picked) != 2:
            ticked = f"{len(picked)} {'was' if len(picked) == 1 else 'were'} ticked"
            return "", "", f"Tick exactly two revisions to compare; {ticked}."
        ordered = sorted(picked, key=lambda n: names.index(n) if n in names else -1, reverse=True)
        start, end = ordered
    if not start and not end:
        return "", "", ""
    for label, value in (("from", start), ("to", end)):
        if value not in names:
            return start, end, (f'There is no revision "{value[:80]}" of this Service to compare {label}; choose one '
                                "below." if value else f"Choose the revision to compare {label}.")
    if start == end:
        return start, end, "Choose two different revisions."
    return start, end, ""


def compare(page: DiffPage, objs: dict[str, dict[str, Any]], start: str, end: str) -> None:
    older, newer = objs[start], objs[end]
    page.left, page.right = revision_from(older), revision_from(newer)
    page.diffs = changes.revision_diffs(older, newer)
    page.rows = changes.side_by_side(changes.revision_fields(older), changes.revision_fields(newer))
    digests = resolved_image(older), resolved_image(newer)
    if all(digests):  # the code each ran, beside the template that named it
        page.rows.append(changes.SideBySide("resolved image", *digests))


@router.get("/namespaces/{namespace}/services/{name}/diff")
async def diff(request: Request, namespace: str, name: str, start: str = Query("", alias="from", max_length=253),
               end: str = Query("", alias="to", max_length=253),
               rev: list[str] = Query([])) -> Response:
    checked("namespace", namespace)
    checked("Service", name)
    objs = {str(o["metadata"]["name"]): o for o in (await lookups(request).service_objects(namespace, name))[1]}
    revisions = newest_first([revision_from(o) for o in objs.values()])
    names = [r.name for r in revisions]
    start, end, problem = choose(names, [p[:253] for p in rev[:64]], start, end)
    page = DiffPage(namespace, name, revisions, problem=problem, chosen=(start, end))
    if start and end and not problem:
        compare(page, objs, start, end)
    return render(request, "diff.html", page, status=400 if problem else 200)
