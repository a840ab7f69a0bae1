"""Events as the failure panel lists them: a ReplicaSet's refusals that differ only in the pod they name are one row
counting them all, with the correlator's combined Event among them."""

from __future__ import annotations

from typing import Any

from app.knative.events import COMBINED, newest_first, without_pod_name

REFUSED = 'Error creating: pods "web-00001-deployment-6d4b9f-{}" is forbidden: exceeded quota: few, requested: pods=1'


def _event(reason: str, message: str, about: tuple[str, str], last: str, count: int = 1,
           kind: str = "Warning") -> dict[str, Any]:
    return {"type": kind, "reason": reason, "message": message, "count": count, "lastTimestamp": last,
            "involvedObject": {"kind": about[0], "name": about[1]}, "source": {"component": "replicaset-controller"}}


RS = ("ReplicaSet", "web-00001-deployment-6d4b9f")


def test_refusals_naming_different_pods_are_one_row_counting_them_all() -> None:
    events = [_event("FailedCreate", REFUSED.format(suffix), RS, f"2026-12-03T08:00:0{i}Z")
              for i, suffix in enumerate(["x7k2p", "b4n9q", "zz2l5"])]
    events.append(_event("FailedCreate", COMBINED + REFUSED.format("m2v8w"), RS, "2026-12-03T08:00:09Z", count=16))
    events.append(_event("BackOff", "Back-off restarting failed container", ("Pod", "web-00001-x"),
                         "2026-12-03T08:00:05Z"))
    shown = newest_first(events)
    assert [(e.reason, e.count) for e in shown] == [("FailedCreate", 19), ("BackOff", 1)]
    assert shown[0].message == REFUSED.format("…")
    assert shown[0].last == "2026-12-03T08:00:09Z" and shown[0].about == "replicaset/web-00001-deployment-6d4b9f"


def test_one_refusal_keeps_its_words_and_the_combined_one_loses_its_prefix() -> None:
    alone = newest_first([_event("FailedCreate", REFUSED.format("x7k2p"), RS, "2026-12-03T08:00:00Z")])
    assert [(e.message, e.count) for e in alone] == [(REFUSED.format("x7k2p"), 1)]
    combined = newest_first([_event("FailedCreate", COMBINED + REFUSED.format("x7k2p"), RS, "2026-12-03T08:00:00Z",
                                    count=7)])
    assert [(e.message, e.count) for e in combined] == [(REFUSED.format("x7k2p"), 7)]


def test_other_refusals_and_other_replicasets_stay_apart_and_the_limit_counts_rows() -> None:
    other = ("ReplicaSet", "web-00002-deployment-77aa1c")
    events = [_event("FailedCreate", REFUSED.format("x7k2p"), RS, "2026-12-03T08:00:00Z"),
              _event("FailedCreate", REFUSED.format("b4n9q").replace("pods=1", "pods=2"), RS, "2026-12-03T08:00:01Z"),
              _event("FailedCreate", REFUSED.format("q9w8e"), other, "2026-12-03T08:00:02Z")]
    events += [_event("FailedCreate", REFUSED.format(f"a{i:04d}"), RS, f"2026-12-03T07:{i:02d}:00Z") for i in range(30)]
    shown = newest_first(events, limit=2)
    assert [(e.about, e.count) for e in shown] == [("replicaset/web-00002-deployment-77aa1c", 1),
                                                   ("replicaset/web-00001-deployment-6d4b9f", 1)]
    assert [e.count for e in newest_first(events)] == [1, 1, 31]


def test_without_pod_name() -> None:
    assert without_pod_name(COMBINED + REFUSED.format("x7k2p")) == REFUSED.format("…")
    assert without_pod_name("Back-off restarting failed container") == "Back-off restarting failed container"
    assert without_pod_name('pods "short" is forbidden') == 'pods "short" is forbidden'  # no generated suffix
