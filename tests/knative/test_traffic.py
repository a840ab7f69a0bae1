"""Traffic plans (app.knative.traffic): rows from a Service's state, validation with every message, and the
spec.traffic built for a new service, a new revision at 0%, 50/50, tags, promote and roll back."""

from __future__ import annotations

import pytest

from app.knative import traffic
from app.knative.models import RevisionView, TrafficTarget, revision_from, service_from
from app.knative.traffic import FORM_ERROR, RowInput, TrafficRow


def svc(spec_traffic: list[dict], status_traffic: list[dict], latest: str = "hello-00002") -> object:
    return service_from({
        "metadata": {"name": "hello", "namespace": "default", "generation": 3, "resourceVersion": "9"},
        "spec": {"template": {"spec": {"containers": [{"image": "x"}]}}, "traffic": spec_traffic},
        "status": {"observedGeneration": 3, "latestCreatedRevisionName": latest, "latestReadyRevisionName": latest,
                   "traffic": status_traffic},
    })


def revs(*names: str) -> list[RevisionView]:
    return [revision_from({"metadata": {"name": n, "labels": {"serving.knative.dev/configurationGeneration":
                                                               n.rsplit("-", 1)[1].lstrip("0")}}}) for n in names]


@pytest.mark.parametrize(("inputs", "errors"), [
    ([RowInput("a", "50"), RowInput("b", "40")], {FORM_ERROR: "Traffic must add up to 100%; these add up to 90%."}),
    ([RowInput("a", "100"), RowInput("b", "10")], {FORM_ERROR: "Traffic must add up to 100%; these add up to 110%."}),
    ([RowInput("a", "0")], {FORM_ERROR: "Traffic must add up to 100%; these add up to 0%."}),
    ([RowInput("a", "fifty"), RowInput("b", "50")], {"percent-0": "Enter a whole number from 0 to 100."}),
    ([RowInput("a", "-5"), RowInput("b", "105")], {"percent-0": "Enter a whole number from 0 to 100.",
                                                   "percent-1": "Enter a whole number from 0 to 100."}),
    ([RowInput("a", "12.5"), RowInput("b", "87.5")], {"percent-0": "Enter a whole number from 0 to 100.",
                                                      "percent-1": "Enter a whole number from 0 to 100."}),
    ([RowInput("a", "50", "Canary"), RowInput("b", "50")],
     {"tag-0": "Use lowercase letters, digits and '-' in a tag; start with a letter and end with a letter or digit "
               "(for example helloworld-go)."}),
    ([RowInput("a", "50", "v1"), RowInput("b", "50", "v1")],
     {"tag-1": 'The tag "v1" is already used above; tags must be unique.'}),
    ([RowInput("a", "100", "t" * 60)],
     {"tag-0": 'The tag makes the host name "' + "t" * 60 + '-hello" 66 characters long; the limit is 63. '
               "Use a shorter tag."}),
    ([RowInput("a", "100", "x" * 64)], {"tag-0": "Use at most 63 characters; this tag has 64."}),
])
def test_invalid_rows(inputs: list[RowInput], errors: dict[str, str]) -> None:
    with pytest.raises(traffic.TrafficError) as raised:
        traffic.parse_rows(inputs, "hello")
    assert raised.value.fields == errors


@pytest.mark.parametrize(("inputs", "rows"), [
    ([RowInput("a", " 50 "), RowInput("b", "50%")], [TrafficRow("a", 50), TrafficRow("b", 50)]),
    ([RowInput("", "0", "", True), RowInput("a", "100", "stable")],
     [TrafficRow("", 0, "", True), TrafficRow("a", 100, "stable")]),
])
def test_valid_rows(inputs: list[RowInput], rows: list[TrafficRow]) -> None:
    assert traffic.parse_rows(inputs, "hello") == rows


@pytest.mark.parametrize(("rows", "spec"), [
    # a new revision at 0%: the floating entry stays, the old revision is pinned
    ([TrafficRow("", 0, latest=True), TrafficRow("hello-00001", 100)],
     [{"latestRevision": True, "percent": 0}, {"latestRevision": False, "percent": 100, "revisionName": "hello-00001"}]),
    # 50/50 keeping the floating entry on the latest revision
    ([TrafficRow("hello-00002", 50, latest=True), TrafficRow("hello-00001", 50)],
     [{"latestRevision": True, "percent": 50}, {"latestRevision": False, "percent": 50, "revisionName": "hello-00001"}]),
    # tags travel with their rows; a tagged 0% row is kept, an untagged 0% pinned row dropped
    ([TrafficRow("hello-00003", 0, "canary"), TrafficRow("hello-00002", 100, "current", latest=True),
      TrafficRow("hello-00001", 0)],
     [{"latestRevision": False, "percent": 0, "revisionName": "hello-00003", "tag": "canary"},
      {"latestRevision": True, "percent": 100, "tag": "current"}]),
    # all pinned
    ([TrafficRow("hello-00002", 10), TrafficRow("hello-00001", 90)],
     [{"latestRevision": False, "percent": 10, "revisionName": "hello-00002"},
      {"latestRevision": False, "percent": 90, "revisionName": "hello-00001"}]),
])
def test_plan(rows: list[TrafficRow], spec: list[dict]) -> None:
    assert [t.to_spec() for t in traffic.plan(rows)] == spec


def test_current_rows_follow_status_and_mark_the_floating_revision() -> None:
    service = svc(
        [{"latestRevision": True, "percent": 50}, {"revisionName": "hello-00001", "latestRevision": False,
                                                    "percent": 50, "tag": "old"}],
        [{"revisionName": "hello-00002", "latestRevision": True, "percent": 50},
         {"revisionName": "hello-00001", "latestRevision": False, "percent": 50, "tag": "old",
          "url": "http://old-hello.default.example.com"}],
    )
    rows = traffic.current_rows(service, revs("hello-00002", "hello-00001"))
    assert rows == [TrafficRow("hello-00002", 50, latest=True), TrafficRow("hello-00001", 50, "old")]


def test_new_revision_rows_pin_everything_and_add_the_new_one_at_zero() -> None:
    service = svc([{"latestRevision": True, "percent": 100}],
                  [{"revisionName": "hello-00001", "latestRevision": True, "percent": 100}], latest="hello-00001")
    rows = traffic.new_revision_rows(service, revs("hello-00001"))
    assert rows == [TrafficRow("", 0, latest=True), TrafficRow("hello-00001", 100)]
    assert [t.to_spec() for t in traffic.plan(rows)] == [
        {"latestRevision": True, "percent": 0},
        {"latestRevision": False, "percent": 100, "revisionName": "hello-00001"},
    ]


@pytest.mark.parametrize(("target", "spec"), [
    # promote the latest: it gets 100% through its floating entry
    ("hello-00002", [{"latestRevision": True, "percent": 100}]),
    # roll back: the old revision pinned at 100%, the floating entry kept at 0% so the new one stays listed
    ("hello-00001", [{"latestRevision": True, "percent": 0},
                     {"latestRevision": False, "percent": 100, "revisionName": "hello-00001"}]),
])
def test_promote_and_roll_back(target: str, spec: list[dict]) -> None:
    service = svc([{"latestRevision": True, "percent": 50}, {"revisionName": "hello-00001", "percent": 50}],
                  [{"revisionName": "hello-00002", "latestRevision": True, "percent": 50},
                   {"revisionName": "hello-00001", "latestRevision": False, "percent": 50}])
    rows = traffic.send_all_to(traffic.current_rows(service, revs("hello-00002", "hello-00001")), target)
    assert [t.to_spec() for t in traffic.plan(rows)] == spec


def test_promote_an_unknown_revision() -> None:
    with pytest.raises(traffic.TrafficError) as raised:
        traffic.send_all_to([TrafficRow("a", 100)], "zzz")
    assert raised.value.fields == {FORM_ERROR: 'Revision "zzz" is not one of this Service\'s revisions.'}


@pytest.mark.parametrize(("targets", "text"), [
    ([TrafficTarget(50, "hello-00001"), TrafficTarget(50, "hello-00002", True)], "00001 50% · 00002 50%"),
    ([TrafficTarget(100, "hello-00003", tag="blue")], "00003 (blue) 100%"),
    ([TrafficTarget(100, "other-00001")], "other-00001 100%"),
])
def test_summary(targets: list[TrafficTarget], text: str) -> None:
    assert traffic.summary(targets, "hello") == text


@pytest.mark.parametrize(("inputs", "total"), [
    ([RowInput("a", "50"), RowInput("b", "40")], 90),
    ([RowInput("a", "50"), RowInput("b", "x")], None),
    ([], 0),
])
def test_typed_total(inputs: list[RowInput], total: int | None) -> None:
    assert traffic.typed_total(inputs) == total


def test_rows_before_the_route_has_resolved_anything_follow_the_spec() -> None:
    # Just created or just changed: status.traffic is still empty, the form must not show everything at 0%.
    service = svc([{"latestRevision": True, "percent": 100}], [], latest="hello-00001")
    rows = traffic.current_rows(service, revs("hello-00001"))
    assert rows == [TrafficRow("hello-00001", 100, latest=True)]
    assert traffic.typed_total(traffic_inputs(rows)) == 100


def traffic_inputs(rows: list[TrafficRow]) -> list[RowInput]:
    return [RowInput(r.revision, str(r.percent), r.tag, r.latest) for r in rows]
