"""client-go's event correlator as the dev cluster records its Events through it (tools/record/events_cache.go): the
same Event counted, similar ones combined after ten, a source's flood about one object dropped after 25."""

from __future__ import annotations

import itertools
from typing import Any

from app.devcluster.controllers.correlator import (
    AGGREGATE_INTERVAL,
    COMBINED,
    MAX_ENTRIES,
    SPAM_BURST,
    SPAM_REFILL,
    Correlated,
    Correlator,
    Lru,
)
from tests.support import DevClusterProcess, ksvc_manifest, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


names = (f"rs.{n:x}" for n in itertools.count(1))


def _event(message: str, name: str = "", reason: str = "FailedCreate", obj: str = "rs", field_path: str = "",
           stamp: str = "2026-12-03T06:00:00Z") -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": name or next(names), "namespace": "ns"},
        "involvedObject": {"kind": "ReplicaSet", "namespace": "ns", "name": obj, "uid": f"uid-{obj}",
                           "apiVersion": "apps/v1", **({"fieldPath": field_path} if field_path else {})},
        "reason": reason, "message": message, "source": {"component": "replicaset-controller"},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": "Warning",
        "reportingComponent": "replicaset-controller", "reportingInstance": "",
    }


def _record(correlator: Correlator, event: dict[str, Any]) -> Correlated | None:
    """As Context.record: correlate, then tell the correlator what was stored."""
    done = correlator.correlate(event, lambda: next(names))
    if done is not None:
        correlator.written(done.key, done.event)
    return done


def test_the_same_event_again_updates_the_first_with_its_count_raised() -> None:
    correlator = Correlator(Clock())
    first = _record(correlator, _event("Error creating: quota", stamp="2026-12-03T06:00:00Z"))
    assert first is not None and not first.update and first.event["count"] == 1
    for count in (2, 3):
        again = _record(correlator, _event("Error creating: quota", stamp=f"2026-12-03T06:0{count}:00Z"))
        assert again is not None and again.update
        assert again.event["metadata"]["name"] == first.event["metadata"]["name"]
        assert (again.event["count"], again.event["firstTimestamp"], again.event["lastTimestamp"]) == \
            (count, "2026-12-03T06:00:00Z", f"2026-12-03T06:0{count}:00Z")
    # Another field path, reason or object is another Event.
    for other in (_event("Error creating: quota", field_path="spec.containers{a}"),
                  _event("Error creating: quota", reason="Other"), _event("Error creating: quota", obj="other")):
        found = _record(correlator, other)
        assert found is not None and not found.update and found.event["count"] == 1


def test_ten_events_that_differ_only_in_their_message_are_combined_from_the_tenth() -> None:
    correlator = Correlator(Clock())
    made = [_record(correlator, _event(f'Error creating: pods "rs-{n}" is forbidden')) for n in range(9)]
    assert all(m is not None and not m.update and not m.event["message"].startswith(COMBINED) for m in made)
    tenth = _record(correlator, _event('Error creating: pods "rs-9" is forbidden'))
    assert tenth is not None and not tenth.update
    assert tenth.event["message"] == COMBINED + 'Error creating: pods "rs-9" is forbidden'
    assert tenth.event["count"] == 1 and tenth.event["reason"] == "FailedCreate"
    assert tenth.event["metadata"]["name"] not in {m.event["metadata"]["name"] for m in made if m}
    # From then on each similar one raises the combined Event's count and carries the latest message.
    eleventh = _record(correlator, _event('Error creating: pods "rs-10" is forbidden'))
    assert eleventh is not None and eleventh.update
    assert eleventh.event["metadata"]["name"] == tenth.event["metadata"]["name"]
    assert (eleventh.event["count"], eleventh.event["message"]) == \
        (2, COMBINED + 'Error creating: pods "rs-10" is forbidden')


def test_similar_events_are_counted_afresh_after_ten_quiet_minutes() -> None:
    clock = Clock()
    correlator = Correlator(clock)
    for n in range(9):
        _record(correlator, _event(f"message {n}"))
    clock.now += AGGREGATE_INTERVAL + 1
    fresh = _record(correlator, _event("message 9"))
    assert fresh is not None and fresh.event["message"] == "message 9"


def test_a_source_records_25_events_about_an_object_then_one_every_five_minutes() -> None:
    clock = Clock()
    correlator = Correlator(clock)
    kept = [_record(correlator, _event("again")) for _ in range(SPAM_BURST)]
    assert all(kept) and kept[-1] is not None and kept[-1].event["count"] == SPAM_BURST
    assert _record(correlator, _event("again")) is None
    assert correlator.allowed_in(_event("x")) == SPAM_REFILL
    assert _record(correlator, _event("again", obj="another")) is not None  # its own bucket
    clock.now += SPAM_REFILL / 2
    assert correlator.allowed_in(_event("x")) == SPAM_REFILL / 2
    assert _record(correlator, _event("again")) is None
    clock.now += SPAM_REFILL / 2
    assert correlator.allowed_in(_event("x")) == 0.0
    later = _record(correlator, _event("again"))
    # The count held what the filter dropped as well (the cache is updated before the filter, as in client-go).
    assert later is not None and later.update and later.event["count"] == SPAM_BURST + 3


def test_the_caches_forget_the_least_recently_used_past_their_size() -> None:
    cache: Lru[int] = Lru(3)
    for n in range(3):
        cache.add(str(n), n)
    assert cache.get("0") == 0
    cache.add("3", 3)
    assert (cache.get("1"), cache.get("0"), cache.get("3")) == (None, 0, 3)
    assert Correlator().seen.size == MAX_ENTRIES


def test_a_replicaset_making_30_pods_says_so_in_ten_events_and_25_occurrences(devcluster: DevClusterProcess) -> None:
    """The ReplicaSet controller's SuccessfulCreate names each pod: nine Events, then one combined Event counting the
    rest, until the spam filter has let 25 through (kubectl describe: "(combined from similar events): Created pod:
    …"); the pods are all made."""
    ns = devcluster.new_namespace("ev")
    manifest = ksvc_manifest("thirty", ns)
    manifest["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/min-scale": "30"}}
    code, _, body = devcluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services", manifest)
    assert code == 201, body
    wait_for(lambda: len(devcluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]) == 30, timeout=30,
             message="30 pods")

    def created() -> list[dict[str, Any]] | None:
        found = [e for e in devcluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
                 if e["reason"] == "SuccessfulCreate" and e["involvedObject"]["kind"] == "ReplicaSet"]
        return found if sum(e["count"] for e in found) >= SPAM_BURST else None

    found = wait_for(created, timeout=10, message="25 SuccessfulCreate occurrences")
    combined = [e for e in found if e["message"].startswith(COMBINED + "Created pod: ")]
    assert len(found) == 10 and len(combined) == 1, [(e["message"], e["count"]) for e in found]
    assert sum(e["count"] for e in found) == SPAM_BURST and combined[0]["count"] == SPAM_BURST - 9
    assert combined[0]["source"] == {"component": "replicaset-controller"}
