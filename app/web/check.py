"""Check traffic: N requests through the gateway to the Service's host (or a tag's), counted per revision against the
configured split, shown as bars while they run.

The form is a POST (CSRF-checked like every write). With JavaScript its answer is a frame whose server-sent event
stream (`/live/…/check`, signed for this browser) brings the results a few times a second, and Cancel closes it,
which cancels the requests still out. Without JavaScript the POST runs the whole check and answers with the
results. Either way a check ends within CHECK_SECONDS, stops early when the gateway cannot be
reached from where the console runs, and at most MAX_RUNNING checks run at once in a console.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from app.cluster import gateway as probe
from app.cluster import resources as r
from app.knative import observed
from app.knative.gateway import Gateway
from app.knative.models import ServiceView, service_from
from app.knative.numbers import whole
from app.web import forms, security
from app.web.context import checked, cluster, lookups, service_url
from app.web.live import event
from app.web.render import render
from app.web.routing import CheckedRoute
from app.web.security import COOKIE

router = APIRouter(route_class=CheckedRoute)
CHECK_SECONDS = 30.0  # a check ends by then, whatever the gateway does
REQUEST_SECONDS = 5.0
CONCURRENCY = 8
MAX_RUNNING = 4  # checks at once in one console
UPDATES_PER_SECOND = 5
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
RETRY_MS = 600_000  # a dropped check stream is not started again by the browser (a reconnect is refused anyway)


@dataclass
class CheckPage:
    namespace: str
    service: ServiceView
    gateway: Gateway
    requests: str = str(observed.DEFAULT_REQUESTS)
    target: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    result: Result | None = None
    signature: str = ""  # for the stream: this browser started this check (stream_signature)

    @property
    def base(self) -> str:
        return service_url(self.namespace, self.service.name)

    @property
    def hosts(self) -> dict[str, str]:
        return observed.hosts(self.service)

    @property
    def maximum(self) -> int:
        return observed.MAX_REQUESTS

    @property
    def curl(self) -> str:
        host = self.hosts.get(self.target) or self.service.default_domain
        count = whole(self.requests.strip().replace(",", ""), observed.MAX_REQUESTS) or observed.DEFAULT_REQUESTS
        return observed.curl_loop(self.gateway.address, host, count) if self.gateway.known and host else ""

    def stream_url(self) -> str:
        return f"/live{self.base}/check?" + urlencode({"requests": self.requests, "target": self.target,
                                                       "sig": self.signature})


@dataclass
class Result:
    """A check's state as the page shows it: while it runs and when it has ended."""

    tally: observed.Tally
    running: bool = True
    stopped: str = ""  # why it ended early, "" when all requests were sent
    problem: str = ""  # why it could not run at all

    @property
    def rows(self) -> list[observed.Row]:
        return self.tally.rows()

    @property
    def worst(self) -> float:
        return observed.worst(self.rows)


class Running:
    """How many checks run now in this console (app.state.checks)."""

    def __init__(self) -> None:
        self.count = 0


def _refusal(plan: observed.Plan, service: str, why: str) -> Result:
    return Result(observed.Tally(plan, service), running=False, problem=why)


async def progress(request: Request, page: CheckPage, plan: observed.Plan) -> AsyncIterator[Result]:
    """The check's results, a few times a second while it runs, and once more at the end."""
    name = page.service.name
    if not page.gateway.known:
        yield _refusal(plan, name, f"The gateway's address is not known, so the console cannot send requests "
                                   f"through it: {page.gateway.hint}")
        return
    running: Running = request.app.state.checks
    if running.count >= MAX_RUNNING:
        yield _refusal(plan, name, f"{MAX_RUNNING} traffic checks are running in this console already; start this "
                                   "one again in a moment.")
        return
    running.count += 1
    result = Result(observed.Tally(plan, name))
    loop = asyncio.get_running_loop()
    deadline, shown = loop.time() + CHECK_SECONDS, 0.0
    first_error = ""
    try:
        replies = probe.replies(page.gateway.address, plan.host, plan.requests, CONCURRENCY, REQUEST_SECONDS)
        try:
            async for reply in replies:
                result.tally.add(observed.Answer(reply.status, reply.revision, reply.body, reply.error))
                first_error = first_error or reply.error
                if not result.tally.answered and result.tally.sent >= min(plan.requests, CONCURRENCY):
                    result.stopped = (f"The console could not reach the gateway at {page.gateway.address} from "
                                      f"where it runs: {first_error}. If the cluster's gateway has a private "
                                      "address, run the curl loop below from inside its network.")
                    break
                if loop.time() > deadline:
                    result.stopped = (f"Stopped after {CHECK_SECONDS:.0f} s with {result.tally.sent:,} of "
                                      f"{plan.requests:,} requests answered: the gateway answers slowly.")
                    break
                if loop.time() - shown >= 1 / UPDATES_PER_SECOND:
                    shown = loop.time()
                    yield result
        finally:
            await replies.aclose()
    finally:
        running.count -= 1
    result.running = False
    yield result


async def _page(request: Request, namespace: str, name: str, requests: str, target: str) -> CheckPage:
    obj, gateway = await asyncio.gather(cluster(request).get(r.SERVICE, name, namespace), lookups(request).gateway())
    return CheckPage(namespace, service_from(obj), gateway, requests[:12], target[:63])


def _plan(page: CheckPage) -> observed.Plan | None:
    try:
        return observed.plan(page.service, page.requests, page.target)
    except observed.CheckError as error:
        page.errors = error.fields
        return None


@router.get("/namespaces/{namespace}/services/{name}/check")
async def check_form(request: Request, namespace: str, name: str, requests: str = str(observed.DEFAULT_REQUESTS),
                     target: str = "") -> Response:
    page = await _page(request, checked("namespace", namespace), checked("Service", name), requests, target)
    return render(request, "check.html", page)


def stream_signature(request: Request, page: CheckPage) -> str:
    """Vouches that this browser started this check from the console's own form (a POST, CSRF-checked): a page on
    another site cannot make the console send requests through the gateway by linking to the stream."""
    browser = request.cookies.get(COOKIE, "")
    return security.signature(request.app.state.settings.secret_key, "check", browser, page.namespace,
                              page.service.name, page.requests, page.target)


@router.post("/namespaces/{namespace}/services/{name}/check")
async def run_check(request: Request, namespace: str, name: str) -> Response:
    """The check: for htmx, the frame its stream fills; without JavaScript, the whole run and its result."""
    posted = await forms.posted(request)
    page = await _page(request, checked("namespace", namespace), checked("Service", name),
                       forms.text(posted, "requests"), forms.text(posted, "target"))
    plan = _plan(page)
    htmx = request.headers.get("HX-Request") == "true"
    if plan is None:
        return render(request, "_check_errors.html" if htmx else "check.html", page, status=422)
    if htmx:
        page.signature = stream_signature(request, page)
        return render(request, "_check_stream.html", page)
    async for result in progress(request, page, plan):
        page.result = result
    return render(request, "check.html", page)


@router.get("/live/namespaces/{namespace}/services/{name}/check")
async def check_stream(request: Request, namespace: str, name: str, requests: str = "", target: str = "",
                       sig: str = "") -> Response:
    page = await _page(request, checked("namespace", namespace), checked("Service", name), requests, target)
    template = request.app.state.templates.get_template("_check_result.html")
    settings = request.app.state.settings

    def frame(name: str, result: Result, ident: int) -> bytes:
        return event(name, template.render(page=page, result=result, settings=settings), str(ident))

    async def events() -> AsyncIterator[bytes]:
        yield f"retry: {RETRY_MS}\n\n".encode()
        plan = _plan(page)
        why = "; ".join(page.errors.values())
        if not security.same(sig[:64], stream_signature(request, page)):
            why = "This check was not started from this console's page: start it again with Start."
        elif request.headers.get("last-event-id"):
            why = "The check was interrupted; start it again."
        if plan is None or why:
            yield frame("done", _refusal(plan or observed.Plan(0, "", "", {}), name, why), 1)
            return
        count = 0
        async for result in progress(request, page, plan):
            count += 1
            yield frame("check" if result.running else "done", result, count)

    return StreamingResponse(events(), media_type="text/event-stream", headers=STREAM_HEADERS)
