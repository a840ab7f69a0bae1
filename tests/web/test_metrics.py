"""/metrics: the Prometheus text the official client writes, with writes counted by kind and outcome, the
Kubernetes calls behind them, and HTTP requests by route template; X-Request-ID on every answer. Property
tests: any path and any X-Request-ID give no 5xx, a well-formed id, and no label made from what was sent."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from app import health
from app.access import route_template
from app.metrics import write_outcome
from app.web import (
    auth,
    check,
    details,
    diff,
    history_page,
    logs,
    revision_page,
    revisions,
    service_writes,
    services,
    streams,
    traffic,
)
from tests.web.conftest import Console
from tests.web.test_writes import _two_revisions, split_path, submit

TRAFFIC_ROUTE = "/namespaces/{namespace}/services/{name}/traffic"
KSVC_RESOURCE = "services.serving.knative.dev"


async def scrape(console: Console) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics by name and labels, parsed as Prometheus would parse it."""
    response = await console.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def writes(samples: dict, kind: str, outcome: str) -> float:
    return value(samples, "knative_console_writes_total", kind=kind, outcome=outcome)


async def test_a_split_is_counted_with_the_calls_behind_it(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "counted")
    page = await console.get(split_path(ns, "counted"))
    before = await scrape(console)
    rows = [("latest", "", "0", ""), ("revision", "counted-00002", "50", ""), ("revision", "counted-00001", "50", "")]
    response = await submit(console, split_path(ns, "counted"), page.text, "split-form", "ok", rows=rows)
    assert response.status_code == 303
    after = await scrape(console)
    assert writes(after, "split", "ok") == writes(before, "split", "ok") + 1
    patches = {"verb": "patch", "resource": KSVC_RESOURCE, "outcome": "ok"}
    assert value(after, "knative_console_kubernetes_requests_total", **patches) == \
        value(before, "knative_console_kubernetes_requests_total", **patches) + 1
    latency = {"verb": "patch", "resource": KSVC_RESOURCE}
    assert value(after, "knative_console_kubernetes_request_duration_seconds_count", **latency) == \
        value(before, "knative_console_kubernetes_request_duration_seconds_count", **latency) + 1
    posted = {"route": TRAFFIC_ROUTE, "method": "POST", "status": "303"}
    assert value(after, "knative_console_http_requests_total", **posted) == \
        value(before, "knative_console_http_requests_total", **posted) + 1
    timed = {"route": TRAFFIC_ROUTE, "method": "POST"}
    assert value(after, "knative_console_http_request_duration_seconds_count", **timed) == \
        value(before, "knative_console_http_request_duration_seconds_count", **timed) + 1


async def test_refused_splits_count_by_outcome(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "refused")
    page = await console.get(split_path(ns, "refused"))
    before = await scrape(console)
    bad_sum = await submit(console, split_path(ns, "refused"), page.text, "split-form", "ok", rows=[
        ("latest", "", "0", ""), ("revision", "refused-00002", "50", ""), ("revision", "refused-00001", "40", "")])
    assert bad_sum.status_code == 422
    code, _, _ = console.cluster.request(  # someone else changes the traffic: the console's form is stale
        "PATCH", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services/refused",
        {"spec": {"traffic": [{"revisionName": "refused-00002", "percent": 100}]}},
        content_type="application/merge-patch+json")
    assert code == 200
    stale = await submit(console, split_path(ns, "refused"), page.text, "split-form", "ok", rows=[
        ("latest", "", "0", ""), ("revision", "refused-00002", "50", ""), ("revision", "refused-00001", "50", "")])
    assert stale.status_code == 409
    after = await scrape(console)
    assert writes(after, "split", "rejected") == writes(before, "split", "rejected") + 1
    assert writes(after, "split", "conflict") == writes(before, "split", "conflict") + 1
    assert writes(after, "split", "ok") == writes(before, "split", "ok")
    # Writes go first: one conditional PATCH with the form's resourceVersion, which the API server refuses
    # (Conflict), then a read that finds the other change, and no second PATCH.
    patches = {"verb": "patch", "resource": KSVC_RESOURCE}
    assert value(after, "knative_console_kubernetes_request_duration_seconds_count", **patches) == \
        value(before, "knative_console_kubernetes_request_duration_seconds_count", **patches) + 1
    for outcome, more in (("conflict", 1), ("ok", 0)):
        assert value(after, "knative_console_kubernetes_requests_total", outcome=outcome, **patches) == \
            value(before, "knative_console_kubernetes_requests_total", outcome=outcome, **patches) + more
    assert console.ksvc(ns, "refused")["spec"]["traffic"] == [
        {"revisionName": "refused-00002", "percent": 100, "latestRevision": False}]  # theirs, untouched


async def test_promote_create_and_delete_are_counted_as_such(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "kinds")
    before = await scrape(console)
    preset = await console.get(split_path(ns, "kinds") + "?revision=kinds-00002")
    assert (await submit(console, split_path(ns, "kinds"), preset.text, "split-form", "ok")).status_code == 303
    created = await console.post(f"/namespaces/{ns}/services", {
        "name": "made", "image": "ghcr.io/knative/helloworld-go:latest", "protocol": "http", "port": "8080",
        "visibility": "public", "action": "create"})
    assert created.status_code == 303
    taken = await console.post(f"/namespaces/{ns}/services", {
        "name": "made", "image": "ghcr.io/knative/helloworld-go:latest", "protocol": "http", "port": "8080",
        "visibility": "public", "action": "create"})
    assert taken.status_code == 409
    more = await console.post(f"/namespaces/{ns}/services", {"name": "x", "action": "add-env"})
    assert more.status_code == 200  # a form re-rendered: no write
    confirm = await console.get(f"/namespaces/{ns}/services/made/delete")
    deleted = await submit(console, f"/namespaces/{ns}/services/made/delete", confirm.text, "delete", "delete")
    assert deleted.status_code == 303
    after = await scrape(console)
    expected = {("promote_rollback", "ok"): 1, ("split", "ok"): 0, ("create", "ok"): 1, ("create", "conflict"): 1,
                ("create", "rejected"): 0, ("delete", "ok"): 1}
    for (kind, outcome), added in expected.items():
        assert writes(after, kind, outcome) == writes(before, kind, outcome) + added, (kind, outcome)


async def test_wizard_steps_are_not_writes(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "steps")
    await console.settled(ns, "steps")
    before = await scrape(console)
    step = await console.post(f"/namespaces/{ns}/services/steps/revisions/new",
                              {"step": "1", "action": "next", "image": "", "port": "8080", "protocol": "http"})
    assert step.status_code == 422  # the step's own message, nothing sent
    after = await scrape(console)
    for outcome in ("ok", "rejected", "conflict"):
        assert writes(after, "revision", outcome) == writes(before, "revision", outcome)


@pytest.mark.parametrize(("status", "outcome"), [
    (303, "ok"), (204, "ok"), (200, None), (409, "conflict"), (422, "rejected"), (400, "rejected"),
    (403, "forbidden"), (404, "not_found"), (502, "error"), (503, "error"),
])
def test_write_outcomes(status: int, outcome: str | None) -> None:
    assert write_outcome(status) == outcome


async def test_paths_never_become_labels(console: Console) -> None:
    secret_looking = uuid.uuid4().hex
    assert (await console.get(f"/no/such/{secret_looking}")).status_code == 404
    assert (await console.get(f"/namespaces/{secret_looking}/services")).status_code == 404  # no such namespace
    text = (await console.get("/metrics")).text
    assert secret_looking not in text
    assert 'route="unmatched"' in text and 'route="/namespaces/{namespace}/services"' in text


async def test_request_ids(console: Console) -> None:
    given = await console.get("/livez", headers={"X-Request-ID": "from-the-proxy.1"})
    assert given.headers["X-Request-ID"] == "from-the-proxy.1"
    made = await console.get("/livez", headers={"X-Request-ID": "not a token <script>"})
    assert made.headers["X-Request-ID"] != "not a token <script>" and len(made.headers["X-Request-ID"]) == 32
    assert (await console.get("/livez")).headers["X-Request-ID"] != made.headers["X-Request-ID"]


SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Header values as a client can send them: latin-1 text without line breaks.
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=200)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=HEADER_TEXT)
async def test_any_request_id_gives_a_well_formed_one(console: Console, sent: str) -> None:
    response = await console.get("/livez", headers={"X-Request-ID": sent.encode("latin-1")})
    assert response.status_code == 200
    returned = response.headers["X-Request-ID"]
    assert SANE_ID.match(returned)
    assert (returned == sent) == bool(SANE_ID.match(sent))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=4))  # "//" is no URL httpx sends
async def test_any_path_is_answered_and_labelled_by_its_route(console: Console, segments: list[str]) -> None:
    path = "/" + "/".join(quote(segment, safe="") for segment in segments)
    response = await console.get(path)
    assert response.status_code < 500, (path, response.text[:500])
    modules = (auth, services, service_writes, details, revisions, revision_page, diff, history_page, traffic, check,
               streams, logs, health)
    declared = {getattr(route, "path", "") for module in modules
                for route in module.router.routes} | {"/metrics", "/static/{path}", "unmatched"}
    routes = {sample.labels["route"] for family in text_string_to_metric_families((await console.get("/metrics")).text)
              for sample in family.samples if sample.name == "knative_console_http_requests_total"}
    assert routes <= declared, routes - declared


def test_route_template_of_a_mount_and_of_nothing() -> None:
    assert route_template({"endpoint": object(), "root_path": "/static"}) == "/static/{path}"
    # Starlette's Mount makes the root path "/static/" for a path ending in a newline ("/static/a%0A": its `$`
    # matches before the newline); found by the test above, once another test in the worker had sent one.
    assert route_template({"endpoint": object(), "root_path": "/static/"}) == "/static/{path}"


async def test_a_static_path_ending_in_a_newline_is_labelled_as_the_mount(console: Console) -> None:
    assert (await console.get("/static/a%0A")).status_code == 404
    routes = {sample.labels["route"] for family in text_string_to_metric_families((await console.get("/metrics")).text)
              for sample in family.samples if sample.name == "knative_console_http_requests_total"}
    assert "/static//{path}" not in routes and "/static/{path}" in routes
    assert route_template({}) == "unmatched"
