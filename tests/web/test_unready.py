"""A revision whose container runs but never passes its readiness probe, in the console (over httpx, against the
session's dev cluster, whose images ConfigMap lists the image under `unready`): before its progress deadline the
details page, its revision row and its own page say so, with the probe in words, rather than only "Deploying"; after
it, the ProgressDeadlineExceeded diagnosis says what to look at (the probe's settings, the port, the logs), with the
instances' Unhealthy events and the container's last log lines behind it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest

from tests.support import DevClusterProcess, ksvc_manifest, wait_for
from tests.web.conftest import Console

KSVC = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"
REVISION = "/apis/serving.knative.dev/v1/namespaces/{ns}/revisions/{name}"
DEADLINE = "serving.knative.dev/progress-deadline"


@pytest.fixture
def unready(devcluster: DevClusterProcess) -> Iterator[str]:
    """Images `ghcr.io/never-ready/*` never pass their readiness probe, for the test; the ConfigMap is put back."""
    with devcluster.images("unready", "ghcr.io/never-ready/*\n"):
        yield "ghcr.io/never-ready/app:v1"


def _create(console: Console, ns: str, name: str, image: str, deadline: str, probe: dict | None = None) -> None:
    manifest = ksvc_manifest(name, ns, image=image)
    manifest["spec"]["template"]["metadata"] = {"annotations": {DEADLINE: deadline}}
    if probe is not None:
        manifest["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = probe
    code, _, body = console.cluster.request("POST", KSVC.format(ns=ns), manifest)
    assert code == 201, body


def _unhealthy(console: Console, ns: str) -> bool:
    events = console.cluster.get(f"/api/v1/namespaces/{ns}/events?fieldSelector=reason%3DUnhealthy")["items"]
    return bool(events)


def _ready(console: Console, ns: str, name: str) -> str:
    code, _, revision = console.cluster.request("GET", REVISION.format(ns=ns, name=name))
    if code != 200:
        return ""
    return next((c["status"] for c in (revision.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"),
                "")


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", page))


def _words(page: str) -> str:
    """The page's text with its tags taken out (`<strong>what.</strong> Todo` reads `what. Todo`)."""
    return _text(re.sub(r"<[^>]+>", "", page))


async def test_before_its_deadline_the_console_says_the_container_never_passes_its_probe(console: Console,
                                                                                        unready: str) -> None:
    ns = console.namespace()
    _create(console, ns, "slow", unready, "600s")
    wait_for(lambda: _unhealthy(console, ns), timeout=15, message="the kubelet's Unhealthy")
    assert _ready(console, ns, "slow-00001") == "Unknown"

    said = "Its container runs but does not pass its readiness probe (a TCP connection to port 8080)"
    details = _text((await console.get(f"/namespaces/{ns}/services/slow")).text)
    assert f"{said}." in details  # under the Deploying badge in the revision table
    assert "running, not ready (its readiness probe does not pass)" in details  # its instances, in words
    page = _text((await console.get(f"/namespaces/{ns}/services/slow/revisions/slow-00001")).text)
    assert "data-waiting" in page and said in page
    assert "Knative sends it no requests until it does, and fails the revision if it has not within its progress " \
        "deadline (600s)" in page
    assert "check that the app listens on port 8080 (the PORT environment variable Knative sets)" in page
    # What the kubelet says of it, among the revision's events, and the instance's state.
    assert "Readiness probe failed: HTTP probe failed with statuscode: 503" in page
    assert "running, not ready (its readiness probe does not pass)" in page
    assert "data-failure=" not in page and "Failed</span> What happened" not in page


async def test_an_http_probe_is_said_in_words(console: Console, unready: str) -> None:
    ns = console.namespace()
    _create(console, ns, "probed", unready, "600s", probe={"httpGet": {"path": "/healthz"}, "periodSeconds": 5})
    wait_for(lambda: _unhealthy(console, ns), timeout=15, message="the kubelet's Unhealthy")
    page = _text((await console.get(f"/namespaces/{ns}/services/probed/revisions/probed-00001")).text)
    assert "Its container runs but does not pass its readiness probe (an HTTP GET of /healthz on port 8080, every " \
        "5s)" in page
    assert "check that the app answers /healthz on port 8080" in page


async def test_after_its_deadline_the_diagnosis_says_what_to_look_at(console: Console, unready: str) -> None:
    ns = console.namespace()
    _create(console, ns, "stuck", unready, "2s")
    wait_for(lambda: _ready(console, ns, "stuck-00001") == "False", timeout=20, message="stuck-00001 failed")

    what = "The revision did not become ready within its progress deadline (2s): its container runs but never " \
        "passed its readiness probe (a TCP connection to port 8080)"
    todo = "Check that the app listens on port 8080 (the PORT environment variable Knative sets), or change the " \
        "readiness probe's settings, with its logs below for why, then create a new revision"
    details = _words((await console.get(f"/namespaces/{ns}/services/stuck")).text)
    assert f"{what}. {todo}." in details  # the failure explained, in two sentences
    assert f"{what}." in details  # the revision table's line
    assert "Readiness probe failed: HTTP probe failed with statuscode: 503" in details  # its instances' events
    assert "not listening on port 8080" in details  # the last log lines
    page = _text((await console.get(f"/namespaces/{ns}/services/stuck/revisions/stuck-00001")).text)
    assert f"{what}. {todo}." in _words(page)
    assert 'Knative reports <span class="reason">ProgressDeadlineExceeded</span>: <span class="message">ReplicaSet "' \
        in page and 'has timed out progressing.</span>' in page
    assert "Readiness probe failed: HTTP probe failed with statuscode: 503" in page
    assert "data-waiting" not in page
    listing = _text((await console.get(f"/namespaces/{ns}/services")).text)
    # Knative's message ends with a full stop, and the Configuration's adds one: the list says it in words.
    assert "Revision stuck-00001 failed: it did not become ready within its progress deadline." in listing
    assert "progressing.." not in listing
