"""The traffic check's rules (app.knative.observed): its parameters checked with a message, the split it expects
for the Service's host and for a tag's, and answers counted per revision or grouped by status and body."""

from __future__ import annotations

import pytest

from app.knative.models import service_from
from app.knative.observed import Answer, CheckError, Tally, curl_loop, plan, worst

SERVICE = service_from({
    "metadata": {"name": "hw", "namespace": "ns"},
    "status": {"url": "http://hw.ns.example.com", "traffic": [
        {"revisionName": "hw-00001", "percent": 50},
        {"revisionName": "hw-00002", "percent": 50, "latestRevision": True},
        {"revisionName": "hw-00002", "percent": 0, "tag": "candidate",
         "url": "http://candidate-hw.ns.example.com"}]},
})


def test_plan() -> None:
    checked = plan(SERVICE, " 1,000 ", "")
    assert (checked.requests, checked.host, checked.configured) == (1000, "hw.ns.example.com",
                                                                    {"hw-00001": 50, "hw-00002": 50})
    tagged = plan(SERVICE, "200", "candidate")
    assert (tagged.host, tagged.configured) == ("candidate-hw.ns.example.com", {"hw-00002": 100})


@pytest.mark.parametrize(("requests", "target", "fields"), [
    ("0", "", {"requests"}), ("2001", "", {"requests"}), ("²", "", {"requests"}), ("1" * 5000, "", {"requests"}),
    ("10", "nope", {"target"}), ("x", "nope", {"requests", "target"}),
])
def test_bad_parameters_say_what_to_do(requests: str, target: str, fields: set[str]) -> None:
    with pytest.raises(CheckError) as raised:
        plan(SERVICE, requests, target)
    assert set(raised.value.fields) == fields
    assert all(message.endswith(".") for message in raised.value.fields.values())
    with pytest.raises(CheckError, match="no URL to check yet"):
        plan(service_from({"metadata": {"name": "x"}}), "10", "")


def test_answers_attributed_by_the_revision_header() -> None:
    tally = Tally(plan(SERVICE, "10", ""), "hw")
    for revision in ("hw-00001",) * 6 + ("hw-00002",) * 3:
        tally.add(Answer(200, revision, "Hello"))
    tally.add(Answer(0, error="connection refused"))
    rows = tally.rows()
    assert tally.attributed and tally.sent == 10 and tally.answered == 9
    assert [(r.label, r.configured, r.count, round(r.share, 1)) for r in rows] == [
        ("00001", 50, 6, 66.7), ("00002", 50, 3, 33.3)]
    assert round(worst(rows), 1) == 16.7 and dict(tally.errors) == {"connection refused": 1}


def test_answers_without_the_header_are_grouped_by_status_and_body() -> None:
    tally = Tally(plan(SERVICE, "4", ""), "hw")
    for body in ("Hello World!\n", "Hello World!\n", "Hello Knative!\n"):
        tally.add(Answer(200, "", body))
    tally.add(Answer(503, "", "no ready revision"))
    assert not tally.attributed
    assert [(r.label, r.configured, r.count) for r in tally.rows()] == [
        ("00001", 50, 0), ("00002", 50, 0), ("200 Hello World!", None, 2), ("200 Hello Knative!", None, 1),
        ("503 no ready revision", None, 1)]
    assert curl_loop("127.0.0.1:8080", "hw.ns.example.com", 200) == (
        'for i in $(seq 200); do curl -s -H "Host: hw.ns.example.com" http://127.0.0.1:8080; echo; done | sort | '
        "uniq -c")
