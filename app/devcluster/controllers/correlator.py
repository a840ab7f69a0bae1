"""client-go's event correlator, which every Kubernetes and Knative component records its Events through (tools/record
events_cache.go, NewEventCorrelator's defaults), as the dev cluster's controllers and kubelet record theirs:

- the same Event again (same source, object, type, reason and message) is not a new Event: the one written before
  gets its count raised and its lastTimestamp moved (kubectl's "(x5 over 2m)");
- ten Events that differ only in their message within ten minutes (a ReplicaSet's FailedCreate per refused pod, each
  naming its pod) become one Event "(combined from similar events): <the latest message>", counted from then on;
- a source may record 25 Events about one object, then one every 5 minutes (EventSourceObjectSpamFilter): the rest
  are dropped.

Its caches are bounded as client-go's are (4,096 entries each, the least recently used forgotten)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

MAX_ENTRIES = 4096  # maxLruCacheEntries
AGGREGATE_MAX_EVENTS = 10  # defaultAggregateMaxEvents
AGGREGATE_INTERVAL = 600.0  # defaultAggregateIntervalInSeconds
SPAM_BURST = 25  # defaultSpamBurst
SPAM_REFILL = 300.0  # seconds a token takes to come back (defaultSpamQPS = 1/300)
COMBINED = "(combined from similar events): "  # EventAggregatorByReasonMessageFunc

V = TypeVar("V")


class Lru(Generic[V]):
    """groupcache's lru.Cache as client-go uses it: get marks an entry used, add past the size drops the oldest."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self.size = size
        self.entries: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def add(self, key: str, value: V) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


@dataclass
class Similar:
    """The messages seen lately of Events that differ only in their message (aggregateRecord)."""

    messages: set[str] = field(default_factory=set)
    last: float = float("-inf")


@dataclass
class Seen:
    """The Event last written under a key (eventLog): how many times it happened, since when, and its name."""

    count: int
    first: str
    name: str


@dataclass
class Bucket:
    """A source's token bucket for one object (the spam filter's rate limiter)."""

    tokens: float
    refilled: float


def _part(value: Any) -> str:
    return "" if value is None else str(value)


def _involved(event: dict[str, Any], field_path: bool = True) -> list[str]:
    involved = event.get("involvedObject") or {}
    return [_part(involved.get(k)) for k in ("kind", "namespace", "name", *(("fieldPath",) if field_path else ()),
                                             "uid", "apiVersion")]


def _source(event: dict[str, Any]) -> list[str]:
    source = event.get("source") or {}
    return [_part(source.get("component")), _part(source.get("host"))]


def event_key(event: dict[str, Any]) -> str:
    """getEventKey: the source, the object (with the field path), the type, the reason and the message."""
    return "\x00".join([*_source(event), *_involved(event), _part(event.get("type")), _part(event.get("reason")),
                        _part(event.get("message"))])


def spam_key(event: dict[str, Any]) -> str:
    """getSpamKey: the source and the object (without the field path)."""
    return "\x00".join([*_source(event), *_involved(event, field_path=False)])


def aggregate_key(event: dict[str, Any]) -> str:
    """EventAggregatorByReasonFunc's group: all but the message (and the field path), with the reporting controller
    (`reportingComponent` in JSON) and instance."""
    return "\x00".join([*_source(event), *_involved(event, field_path=False), _part(event.get("type")),
                        _part(event.get("reason")), _part(event.get("reportingComponent")),
                        _part(event.get("reportingInstance"))])


@dataclass
class Correlated:
    """What to write: the Event as it should now be, and whether it updates one written before (by its name)."""

    event: dict[str, Any]
    update: bool
    key: str


class Correlator:
    """EventCorrelate: aggregate, count, then filter; `written` records what the API server stored (UpdateState)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.similar: Lru[Similar] = Lru()
        self.seen: Lru[Seen] = Lru()
        self.buckets: Lru[Bucket] = Lru()

    def correlate(self, event: dict[str, Any], name: Callable[[], str]) -> Correlated | None:
        """`event` (a new Event, its name and timestamps set) as the recorder writes it, or None when the spam filter
        drops it; `name` names a combined Event."""
        now = self.clock()
        event, key = self._aggregate(event, now, name)
        observed, update = self._observe(event, key)
        if not self._allow(spam_key(observed), now):
            return None
        return Correlated(observed, update, key)

    def written(self, key: str, event: dict[str, Any]) -> None:
        """The Event the API server stored under `key` (its name may differ from the one the cache had: a patch of
        an Event gone since was a create)."""
        self.seen.add(key, Seen(int(event.get("count") or 1), _part(event.get("firstTimestamp")),
                                _part((event.get("metadata") or {}).get("name"))))

    def allowed_in(self, event: dict[str, Any]) -> float:
        """Seconds until the spam filter lets another Event from this source about this object through (0: now)."""
        bucket = self.buckets.get(spam_key(event))
        if bucket is None:
            return 0.0
        tokens = self._refill(bucket, self.clock())
        return 0.0 if tokens >= 1 else (1 - tokens) * SPAM_REFILL

    def _aggregate(self, event: dict[str, Any], now: float, name: Callable[[], str]) -> tuple[dict[str, Any], str]:
        group = aggregate_key(event)
        record = self.similar.get(group)
        if record is None or now - record.last > AGGREGATE_INTERVAL:
            record = Similar()
        record.messages.add(_part(event.get("message")))
        record.last = now
        self.similar.add(group, record)
        if len(record.messages) < AGGREGATE_MAX_EVENTS:
            return event, event_key(event)
        record.messages.pop()  # the set grows no further than the threshold
        metadata = event.get("metadata") or {}
        combined = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name(), "namespace": metadata.get("namespace")},
            "involvedObject": event.get("involvedObject"),
            "reason": event.get("reason"),
            "message": COMBINED + _part(event.get("message")),
            "source": event.get("source"),
            "firstTimestamp": event.get("lastTimestamp"),
            "lastTimestamp": event.get("lastTimestamp"),
            "count": 1,
            "type": event.get("type"),
            "eventTime": None,
            "reportingComponent": "",
            "reportingInstance": "",
        }
        return combined, group

    def _observe(self, event: dict[str, Any], key: str) -> tuple[dict[str, Any], bool]:
        last = self.seen.get(key)
        observed = event
        if last is not None and last.count > 0:
            observed = {**event, "metadata": {**event["metadata"], "name": last.name}, "firstTimestamp": last.first,
                        "count": last.count + 1}
        self.seen.add(key, Seen(int(observed.get("count") or 1), _part(observed.get("firstTimestamp")),
                                _part(observed["metadata"].get("name"))))
        return observed, last is not None and last.count > 0

    def _refill(self, bucket: Bucket, now: float) -> float:
        bucket.tokens = min(float(SPAM_BURST), bucket.tokens + (now - bucket.refilled) / SPAM_REFILL)
        bucket.refilled = now
        return bucket.tokens

    def _allow(self, key: str, now: float) -> bool:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = Bucket(float(SPAM_BURST), now)
        tokens = self._refill(bucket, now)
        self.buckets.add(key, bucket)
        if tokens < 1:
            return False
        bucket.tokens -= 1
        return True
