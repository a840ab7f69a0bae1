"""The console's Prometheus metrics, served at /metrics in the text format by the official client library.

Collectors are process-wide, as a process has one /metrics (several apps in one process, as in the tests,
add to the same counters). Label values come from small fixed sets, never from user input: route
templates, not paths; outcomes, not messages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# No `_created` series beside each counter: half the lines, and nothing Prometheus needs.
disable_created_metrics()  # type: ignore[no-untyped-call]
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Pages take milliseconds against a healthy cluster and up to the request timeout (10 s) against a sick one.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

http_requests = Counter(
    "knative_console_http_requests", "HTTP requests the console answered, by route template, method and status.",
    ["route", "method", "status"],
)
http_duration = Histogram(
    "knative_console_http_request_duration_seconds", "Time from a request's arrival to the end of its response.",
    ["route", "method"], buckets=LATENCY_BUCKETS,
)
kubernetes_requests = Counter(
    "knative_console_kubernetes_requests", "Calls to the Kubernetes API, by verb, resource and outcome.",
    ["verb", "resource", "outcome"],
)
kubernetes_duration = Histogram(
    "knative_console_kubernetes_request_duration_seconds", "Time a call to the Kubernetes API took, failures included.",
    ["verb", "resource"], buckets=LATENCY_BUCKETS,
)
# app.web.live counts a stream when a tab attaches and uncounts it when the stream ends, however it ends.
live_streams = Gauge(
    "knative_console_live_streams", "Live-update streams (server-sent events) open to browsers now.",
)
writes = Counter(
    "knative_console_writes", "Changes users asked for, by kind and outcome.",
    ["kind", "outcome"],
)

WRITE_KINDS = ("create", "revision", "split", "promote_rollback", "restore", "delete")
WRITE_OUTCOMES = ("ok", "conflict", "rejected", "forbidden", "not_found", "error")
for _kind in WRITE_KINDS:  # every series from the start, so that rate() and alerts see the first write
    for _outcome in WRITE_OUTCOMES:
        writes.labels(_kind, _outcome)


def write_outcome(status: int) -> str | None:
    """The outcome of a write from the status its handler answered with; None when nothing was sent.

    A write ends in a redirect (303, or 204 with HX-Redirect for htmx); 200 re-renders a form without
    writing (a wizard step, "add a variable").
    """
    if status == 200:
        return None
    if status < 400:
        return "ok"
    return {409: "conflict", 400: "rejected", 422: "rejected", 403: "forbidden", 404: "not_found"}.get(status, "error")


def count_write(kind: str, status: int) -> None:
    outcome = write_outcome(status)
    if outcome is not None:
        writes.labels(kind, outcome).inc()


def error_outcome(error: BaseException) -> str:
    """`not_found`, `conflict`, `forbidden`, `unreachable`, …: the error's type, as app.cluster.errors names it."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()


@contextmanager
def kubernetes_call(verb: str, resource: str) -> Iterator[None]:
    """Time one API call and count it, with the outcome `ok` or the type of the error it raised."""
    outcome = "ok"
    started = time.perf_counter()
    try:
        yield
    except BaseException as error:
        outcome = error_outcome(error)
        raise
    finally:
        kubernetes_duration.labels(verb, resource).observe(time.perf_counter() - started)
        kubernetes_requests.labels(verb, resource, outcome).inc()


def exposition() -> bytes:
    return generate_latest(REGISTRY)
