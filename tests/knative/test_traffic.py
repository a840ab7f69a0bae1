"""Traffic plans (app.knative.traffic): rows from a Service's spec (the floating entry its own row, named rows
pinned), validation with every message, the spec.traffic built for them, the wizard's prefill, promote and roll
back, the rows a long list shows, and the plain-text form of a split."""

from __future__ import annotations

import pytest

from app.knative import traffic
from app.knative.models import ServiceView, TrafficTarget, service_from
from app.knative.traffic import FORM_ERROR, LATEST, NAMED, NEW, RowInput, TrafficRow


def svc(spec_traffic: list[dict], status_traffic: list[dict], latest: str = "hello-00002") -> ServiceView:
    return service_from({
        "metadata": {"name": "hello", "namespace": "default", "generation": 3, "resourceVersion": "9"},
        "spec": {"template": {"spec": {"containers": [{"image": "x"}]}}, "traffic": spec_traffic},
        "status": {"observedGeneration": 3, "latestCreatedRevisionName": latest, "latestReadyRevisionName": latest,
                   "traffic": status_traffic},
    })


REVS = ["hello-00002", "hello-00001"]
MSG_NUMBER = "Enter a whole number from 0 to 100."


@pytest.mark.parametrize(("inputs", "errors"), [
    ([RowInput(NAMED, "hello-00001", "50"), RowInput(NAMED, "hello-00002", "40")],
     {FORM_ERROR: "Traffic must add up to 100%; these add up to 90%."}),
    ([RowInput(LATEST, "", "100"), RowInput(NAMED, "hello-00001", "10")],
     {FORM_ERROR: "Traffic must add up to 100%; these add up to 110%."}),
    ([RowInput(NAMED, "hello-00001", "fifty"), RowInput(NAMED, "hello-00002", "50")], {"percent-0": MSG_NUMBER}),
    ([RowInput(NAMED, "hello-00001", "-5"), RowInput(NAMED, "hello-00002", "105")],
     {"percent-0": MSG_NUMBER, "percent-1": MSG_NUMBER}),
    ([RowInput(NAMED, "hello-00001", "12.5"), RowInput(NAMED, "hello-00002", "87.5")],
     {"percent-0": MSG_NUMBER, "percent-1": MSG_NUMBER}),
    # what isdigit() accepts and int() refuses, and integers of 4,300+ digits
    ([RowInput(NAMED, "hello-00001", "5²"), RowInput(NAMED, "hello-00002", "٥٠")],
     {"percent-0": MSG_NUMBER, "percent-1": MSG_NUMBER}),
    ([RowInput(NAMED, "hello-00001", "1" * 4300)], {"percent-0": MSG_NUMBER}),
    ([RowInput(NAMED, "hello-00001", "50", "Canary"), RowInput(NAMED, "hello-00002", "50")],
     {"tag-0": "Use lowercase letters, digits and '-' in a tag; start with a letter and end with a letter or digit "
               "(for example helloworld-go)."}),
    ([RowInput(NAMED, "hello-00001", "50", "v1"), RowInput(LATEST, "", "50", "v1")],
     {"tag-1": 'The tag "v1" is already used above; tags must be unique.'}),
    ([RowInput(NAMED, "hello-00001", "100", "t" * 60)],
     {"tag-0": 'The tag makes the host name "' + "t" * 60 + '-hello" 66 characters long; the limit is 63. '
               "Use a shorter tag."}),
    ([RowInput(NAMED, "other-00001", "100")],
     {FORM_ERROR: "This form lists a revision that this Service does not have (any more). Reload the page and enter "
                  "the split again."}),
    ([RowInput("floating", "hello-00001", "100")],
     {FORM_ERROR: "This form lists a revision that this Service does not have (any more). Reload the page and enter "
                  "the split again."}),
    ([RowInput(NEW, "hello-00003", "100")],  # no new revision in Split Traffic
     {FORM_ERROR: "This form lists a revision that this Service does not have (any more). Reload the page and enter "
                  "the split again."}),
])
def test_invalid_rows(inputs: list[RowInput], errors: dict[str, str]) -> None:
    with pytest.raises(traffic.TrafficError) as raised:
        traffic.parse_rows(inputs, "hello", REVS)
    assert raised.value.fields == errors


def test_valid_rows() -> None:
    inputs = [RowInput(LATEST, "ignored", " 50 "), RowInput(NAMED, "hello-00001", "50%", "stable"),
              RowInput(NEW, "typed", "0")]
    assert traffic.parse_rows(inputs, "hello", REVS, new_revision="hello-00003") == [
        TrafficRow(LATEST, "", 50), TrafficRow(NAMED, "hello-00001", 50, "stable"), TrafficRow(NEW, "hello-00003", 0)]


@pytest.mark.parametrize(("rows", "spec"), [
    # a named row is always pinned, even the newest revision's, even next to a floating entry
    ([TrafficRow(LATEST, "hello-00002", 0), TrafficRow(NAMED, "hello-00002", 40, "candidate"),
      TrafficRow(NAMED, "hello-00001", 60)],
     [{"latestRevision": True, "percent": 0},
      {"latestRevision": False, "percent": 40, "revisionName": "hello-00002", "tag": "candidate"},
      {"latestRevision": False, "percent": 60, "revisionName": "hello-00001"}]),
    # the floating row keeps its tag and stays at 0%; untagged 0% named rows are dropped
    ([TrafficRow(LATEST, "", 0, "current"), TrafficRow(NAMED, "hello-00002", 100), TrafficRow(NAMED, "hello-00001", 0)],
     [{"latestRevision": True, "percent": 0, "tag": "current"},
      {"latestRevision": False, "percent": 100, "revisionName": "hello-00002"}]),
    # the wizard's new revision, pinned by the name it will get when it has a share or a tag
    ([TrafficRow(NEW, "hello-00003", 10), TrafficRow(NAMED, "hello-00002", 90)],
     [{"latestRevision": False, "percent": 10, "revisionName": "hello-00003"},
      {"latestRevision": False, "percent": 90, "revisionName": "hello-00002"}]),
    ([TrafficRow(NEW, "hello-00003", 0), TrafficRow(NAMED, "hello-00002", 100)],
     [{"latestRevision": False, "percent": 100, "revisionName": "hello-00002"}]),
])
def test_plan(rows: list[TrafficRow], spec: list[dict]) -> None:
    assert [t.to_spec() for t in traffic.plan(rows)] == spec


def test_names_new_revision() -> None:
    assert traffic.names_new_revision([TrafficRow(NEW, "n", 0, "t")])
    assert not traffic.names_new_revision([TrafficRow(NEW, "n", 0), TrafficRow(NAMED, "a", 100)])


def test_current_rows_keep_the_floating_entry_apart() -> None:
    service = svc(
        [{"latestRevision": True, "percent": 40, "tag": "candidate"},
         {"revisionName": "hello-00002", "latestRevision": False, "percent": 10},
         {"revisionName": "hello-00001", "latestRevision": False, "percent": 50, "tag": "old"}],
        [{"revisionName": "hello-00002", "latestRevision": True, "percent": 40, "tag": "candidate"},
         {"revisionName": "hello-00002", "latestRevision": False, "percent": 10},
         {"revisionName": "hello-00001", "latestRevision": False, "percent": 50, "tag": "old"}],
    )
    assert traffic.current_rows(service, ["hello-00003", *REVS]) == [
        TrafficRow(LATEST, "hello-00002", 40, "candidate"), TrafficRow(NAMED, "hello-00003", 0),
        TrafficRow(NAMED, "hello-00002", 10), TrafficRow(NAMED, "hello-00001", 50, "old")]


def test_the_default_floating_hundred_percent() -> None:
    service = svc([{"latestRevision": True, "percent": 100}],
                  [{"revisionName": "hello-00001", "latestRevision": True, "percent": 100}], latest="hello-00001")
    rows = traffic.current_rows(service, ["hello-00001"])
    assert rows == [TrafficRow(LATEST, "hello-00001", 100), TrafficRow(NAMED, "hello-00001", 0)]
    assert [t.to_spec() for t in traffic.plan(rows)] == [{"latestRevision": True, "percent": 100}]


def test_what_each_row_gets_now() -> None:
    """The "Now" column: a named row counts what it gets by name and through the floating entry that serves it; held,
    what the Route still routes (status.traffic) instead of what spec.traffic asks for."""
    service = svc([{"latestRevision": True, "percent": 40}, {"revisionName": "hello-00002", "percent": 20},
                   {"revisionName": "hello-00001", "percent": 40}],
                  [{"revisionName": "hello-00002", "latestRevision": True, "percent": 40},
                   {"revisionName": "hello-00002", "latestRevision": False, "percent": 20},
                   {"revisionName": "hello-00001", "latestRevision": False, "percent": 40}])
    routed = traffic.routed_now(service)
    assert traffic.now_of(routed, LATEST, "") == traffic.Now(40)
    assert traffic.now_of(routed, NAMED, "hello-00002") == traffic.Now(20, 40)
    assert traffic.now_of(routed, NAMED, "hello-00002").total == 60
    assert traffic.now_of(routed, NAMED, "hello-00001") == traffic.Now(40)
    assert traffic.now_of(routed, NEW, "hello-00003") == traffic.Now(0)
    held = svc([{"revisionName": "hello-00002", "percent": 50}, {"revisionName": "hello-00001", "percent": 50}],
               [{"revisionName": "hello-00001", "latestRevision": True, "percent": 100}], latest="hello-00001")
    assert traffic.now_of(traffic.routed_now(held), NAMED, "hello-00002") == traffic.Now(50)  # as asked for
    routed = traffic.routed_now(held, held=True)
    assert traffic.now_of(routed, NAMED, "hello-00002") == traffic.Now(0)
    assert traffic.now_of(routed, NAMED, "hello-00001") == traffic.Now(0, 100)


def test_a_pinned_revision_that_is_gone_keeps_its_row() -> None:
    service = svc([{"revisionName": "hello-00001", "percent": 100}], [], latest="hello-00002")
    assert traffic.current_rows(service, ["hello-00002"]) == [
        TrafficRow(NAMED, "hello-00002", 0), TrafficRow(NAMED, "hello-00001", 100)]


def test_the_wizard_keeps_the_floating_share_where_it_is_served_now() -> None:
    service = svc([{"latestRevision": True, "percent": 100, "tag": "current"}],
                  [{"revisionName": "hello-00001", "latestRevision": True, "percent": 100, "tag": "current"}],
                  latest="hello-00001")
    plan = traffic.new_revision_rows(service, ["hello-00001"], "hello-00002")
    assert plan.rows == [TrafficRow(NEW, "hello-00002", 0), TrafficRow(LATEST, "hello-00001", 0, "current"),
                         TrafficRow(NAMED, "hello-00001", 100)]
    assert (plan.kept_on, plan.kept) == ("hello-00001", 100)


def test_the_wizard_keeps_each_part_of_a_rolling_out_floating_share_where_it_is() -> None:
    """During a gradual rollout the floating entry's 100% is 86% on hello-00001 and 14% on hello-00002 (status.traffic,
    RoutesReady RolloutInProgress): the prefill pins those parts, so that nothing moves (it pinned all 100% on
    hello-00001, taking hello-00002's 14% away at once)."""
    service = svc([{"latestRevision": True, "percent": 100}],
                  [{"revisionName": "hello-00001", "latestRevision": True, "percent": 86},
                   {"revisionName": "hello-00002", "latestRevision": True, "percent": 14}])
    plan = traffic.new_revision_rows(service, REVS, "hello-00003")
    assert plan.rows == [TrafficRow(NEW, "hello-00003", 0), TrafficRow(LATEST, "hello-00001", 0),
                         TrafficRow(NAMED, "hello-00002", 14), TrafficRow(NAMED, "hello-00001", 86)]
    assert (plan.kept_on, plan.kept) == ("hello-00001 (86%) and hello-00002 (14%)", 100)


def test_the_wizard_without_a_floating_entry() -> None:
    service = svc([{"revisionName": "hello-00001", "percent": 100}],
                  [{"revisionName": "hello-00001", "latestRevision": False, "percent": 100}], latest="hello-00001")
    plan = traffic.new_revision_rows(service, ["hello-00001"], "hello-00002")
    assert plan.rows == [TrafficRow(NEW, "hello-00002", 0), TrafficRow(NAMED, "hello-00001", 100)]
    assert plan.kept_on == ""


@pytest.mark.parametrize(("target", "spec"), [
    ("hello-00002", [{"latestRevision": True, "percent": 0},
                     {"latestRevision": False, "percent": 100, "revisionName": "hello-00002"}]),
    ("hello-00001", [{"latestRevision": True, "percent": 0},
                     {"latestRevision": False, "percent": 100, "revisionName": "hello-00001"}]),
])
def test_promote_and_roll_back_pin_by_name(target: str, spec: list[dict]) -> None:
    service = svc([{"latestRevision": True, "percent": 50}, {"revisionName": "hello-00001", "percent": 50}],
                  [{"revisionName": "hello-00002", "latestRevision": True, "percent": 50},
                   {"revisionName": "hello-00001", "latestRevision": False, "percent": 50}])
    rows = traffic.send_all_to(traffic.current_rows(service, REVS), target)
    assert [t.to_spec() for t in traffic.plan(rows)] == spec


def test_promote_an_unknown_revision() -> None:
    with pytest.raises(traffic.TrafficError) as raised:
        traffic.send_all_to([TrafficRow(NAMED, "a", 100)], "zzz")
    assert raised.value.fields == {FORM_ERROR: 'Revision "zzz" is not one of this Service\'s revisions.'}


def test_shown_rows_with_many_revisions() -> None:
    names = [f"hello-{n:05d}" for n in range(300, 0, -1)]
    rows = [RowInput(LATEST, "", "0"), *(RowInput(NAMED, n, "0") for n in names)]
    rows[-1] = RowInput(NAMED, "hello-00001", "100")
    rows[200] = RowInput(NAMED, names[199], "0", "old")
    shown, hidden = traffic.shown_rows(rows, names, keep=("hello-00150",))
    assert [(r.kind, r.revision) for r in shown] == [
        (LATEST, ""), *((NAMED, n) for n in names[:5]), (NAMED, "hello-00150"), (NAMED, names[199]),
        (NAMED, "hello-00001")]
    assert len(hidden) == 300 - 8 and hidden[0] == "hello-00295"


@pytest.mark.parametrize(("targets", "text"), [
    ([TrafficTarget(50, "hello-00001"), TrafficTarget(50, "hello-00002", True)],
     "00001 50% · latest ready revision (now 00002) 50%"),
    ([TrafficTarget(100, "hello-00003", tag="latest")], "00003 100% (tag latest)"),
    ([TrafficTarget(100, "other-00001")], "other-00001 100%"),
    ([TrafficTarget(100, "", True)], "latest ready revision (now none ready) 100%"),
])
def test_describe(targets: list[TrafficTarget], text: str) -> None:
    assert traffic.describe(traffic.shares(targets, "hello")) == text


@pytest.mark.parametrize(("inputs", "total"), [
    ([RowInput(NAMED, "a", "50"), RowInput(LATEST, "", "40")], 90),
    ([RowInput(NAMED, "a", "50"), RowInput(NAMED, "b", "x")], None),
    ([RowInput(NAMED, "a", "²")], None),
    ([], 0),
])
def test_typed_total(inputs: list[RowInput], total: int | None) -> None:
    assert traffic.typed_total(inputs) == total


GENERATIONS = {"hello-00001": 1, "hello-00002": 2, "hello-00003": 3}


@pytest.mark.parametrize(("status_traffic", "revision", "back"), [
    # 00001 has it all, 00003 is the newest: 100% to 00002 goes forward, not back.
    ([{"revisionName": "hello-00001", "percent": 100}], "hello-00002", False),
    ([{"revisionName": "hello-00001", "percent": 100}], "hello-00003", False),
    # 00002 serves (a 0% tag on 00003 is no traffic): 00001 is older, a roll back.
    ([{"revisionName": "hello-00002", "percent": 100}, {"revisionName": "hello-00003", "percent": 0, "tag": "x"}],
     "hello-00001", True),
    ([{"revisionName": "hello-00002", "percent": 100}, {"revisionName": "hello-00003", "percent": 0, "tag": "x"}],
     "hello-00003", False),
    # The latest ready revision resolved to 00003 with half: both older ones go back.
    ([{"revisionName": "hello-00003", "latestRevision": True, "percent": 50},
      {"revisionName": "hello-00001", "percent": 50}], "hello-00002", True),
    ([], "hello-00001", False),  # nothing serves yet: nothing to go back from
    ([{"revisionName": "hello-00002", "percent": 100}], "unlabelled", False),  # no generation known: not said older
])
def test_a_one_click_100_rolls_back_only_to_an_older_revision_than_the_newest_serving(
        status_traffic: list[dict], revision: str, back: bool) -> None:
    service = service_from({"metadata": {"name": "hello"}, "status": {"traffic": status_traffic}})
    newest = traffic.newest_serving(service, GENERATIONS)
    assert traffic.rolls_back(GENERATIONS.get(revision, 0), newest) is back
