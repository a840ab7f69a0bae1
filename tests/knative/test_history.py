"""The console's history (app.knative.history): entries round-trip through the annotation, which keeps the newest
LIMIT within MAX_BYTES; an entry knows the generations a write moves between; the timeline merges entries, Events
and revisions and tells changes made outside the console by the gaps in the generations."""

from __future__ import annotations

import json

from app.knative import history
from app.knative.models import TrafficTarget

A, B = TrafficTarget(100, "hw-00001"), TrafficTarget(50, "hw-00002", tag="candidate")
LATEST = TrafficTarget(100, latest_revision=True)


def entry(ident: str, at: str, action: str, generations: tuple[int, int], after: tuple[TrafficTarget, ...] = (A,),
          revision: str = "") -> history.Entry:
    return history.Entry(ident, at, "alice", action, generations, (LATEST,), after, revision)


def service(entries: list[history.Entry], generation: int, traffic: list[dict[str, object]] | None = None,
            modifier: str = "bob") -> dict[str, object]:
    return {"metadata": {"name": "hw", "namespace": "ns", "generation": generation,
                         "creationTimestamp": "2026-01-01T00:00:00Z",
                         "annotations": {history.HISTORY: history.encode(entries),
                                         "serving.knative.dev/creator": "alice",
                                         "serving.knative.dev/lastModifier": modifier}},
            "spec": {"traffic": traffic or [{"revisionName": "hw-00001", "percent": 100}]}}


def revision(name: str, created: str, creator: str = "bob") -> dict[str, object]:
    return {"metadata": {"name": name, "creationTimestamp": created,
                         "annotations": {"serving.knative.dev/creator": creator}}}


def test_entries_round_trip_newest_first_and_stay_bounded() -> None:
    first = entry("a1", "2026-01-01T00:00:00Z", "create", (0, 1), (LATEST,), "hw-00001")
    second = entry("b2", "2026-01-01T01:00:00Z", "split", (1, 2), (A, B))
    value = history.record(history.record("", first), second)
    assert history.entries(value) == [second, first]
    assert json.loads(value)[0]["to"] == [["hw-00001", 100], ["hw-00002", 50, "candidate"]]
    many = ""
    for n in range(history.LIMIT + 5):
        many = history.record(many, entry(f"e{n}", f"2026-01-02T00:00:{n % 60:02d}Z", "split", (n, n + 1)))
    kept = history.entries(many)
    assert len(kept) == history.LIMIT and kept[0].id == f"e{history.LIMIT + 4}"
    wide = tuple(TrafficTarget(1, f"hw-{n:05d}", tag=f"t{n}" * 20) for n in range(100))
    huge = ""
    for n in range(history.LIMIT):
        huge = history.record(huge, entry(f"w{n}", "2026-01-03T00:00:00Z", "split", (n, n + 1), wide))
    assert len(huge.encode()) <= history.MAX_BYTES and history.entries(huge)[0].id == f"w{history.LIMIT - 1}"


def test_what_cannot_be_read_is_left_out() -> None:
    assert history.entries("not json") == [] and history.entries('{"a": 1}') == []
    odd = json.dumps([{"id": "x", "do": "split", "g": ["1", 2], "to": [["hw-1", "50"], [3, 4], ["hw-2", 50]]},
                      {"do": "split"}, "text"])
    [read] = history.entries(odd)
    assert read.generations == (0, 0) and read.after == (TrafficTarget(50, "hw-2"),)


def test_an_entry_knows_whether_its_write_moves_the_generation() -> None:
    same = history.make_entry("i", "t", "alice", "split", "4", [{"latestRevision": True, "percent": 100}], (LATEST,))
    assert same.generations == (4, 4)  # the same split, spelled out as Knative's defaulting leaves it
    moved = history.make_entry("i", "t", "alice", "split", "4", [{"latestRevision": True, "percent": 100}], (A,))
    assert moved.generations == (4, 5)
    made = history.make_entry("i", "t", "alice", "revision", "4", [], (A,), template_changes=True, revision="hw-2")
    assert made.generations == (4, 5) and made.revision == "hw-2"
    assert history.make_entry("i", "t", "a", "split", "x" * 40, None, (A,)).generations == (0, 1)


def test_a_new_revision_that_leaves_the_split_as_it_was() -> None:
    """Create Revision with the split untouched: the history said "latest ready revision 100% → latest ready
    revision 100%", a change that is none."""
    made = entry("c3", "2026-01-01T02:00:00Z", "revision", (2, 3), (LATEST,), revision="hw-00002")
    assert history.change_text(made, "hw") == "traffic: latest ready revision 100% (unchanged)"


def test_words_and_the_event() -> None:
    split = entry("b2", "2026-01-01T01:00:00Z", "split", (1, 2), (A, B))
    assert history.change_text(split, "hw") == "traffic: latest ready revision 100% → 00001 100% · " \
                                               "00002 50% (tag candidate)"
    assert history.event_message(split, "hw").startswith("Traffic split by alice; traffic: ")
    made = history.event({"apiVersion": "serving.knative.dev/v1", "metadata": {"name": "hw", "namespace": "ns",
                                                                                "uid": "u", "resourceVersion": "9"}},
                         split, "message", "host")
    assert made["metadata"] == {"name": "hw.b2", "namespace": "ns", "annotations": {history.CHANGE: "b2"}}
    assert made["involvedObject"] == {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "hw",
                                      "namespace": "ns", "uid": "u", "resourceVersion": "9"}
    assert (made["reason"], made["type"], made["reportingComponent"]) == ("TrafficSplit", "Normal", "knative-console")


def test_changes_outside_the_console_are_found_by_generation() -> None:
    created = entry("a1", "2026-01-01T00:00:00Z", "create", (0, 1), (LATEST,), "hw-00001")
    split = entry("b2", "2026-01-01T02:00:00Z", "split", (3, 4), (A,))
    obj = service([split, created], generation=6, traffic=[{"revisionName": "hw-00002", "percent": 100}])
    revisions = [revision("hw-00001", "2026-01-01T00:00:00Z", "alice"),
                 revision("hw-00002", "2026-01-01T01:00:00Z", "carol")]  # between the two entries
    items = history.timeline(obj, revisions)
    assert [(i.source, i.title) for i in items] == [
        ("outside", "Changed outside the console"),  # generations 5 and 6: after the last entry, time unknown
        ("console", "Traffic split"),
        ("outside", "Changed outside the console"),  # generations 2 and 3, one of them the revision below
        ("outside", "Revision 00002 created outside the console"),
        ("console", "Service created")]
    latest, _, between, made, _ = items
    assert latest.by == "bob" and latest.detail == "2 changes to the spec (traffic or settings); traffic now: " \
                                                   "00002 100%"
    assert between.detail == "1 change to the spec (traffic or settings)" and made.by == "carol"
    assert items[1].restorable and not latest.restorable


def test_a_service_the_console_never_touched_and_events() -> None:
    obj = service([], generation=1)
    events = [{"metadata": {"name": "e1"}, "reason": "Created", "message": 'Created Route "hw"', "type": "Normal",
               "involvedObject": {"kind": "Service", "name": "hw"}, "source": {"component": "service-controller"},
               "lastTimestamp": "2026-01-01T00:00:01Z", "count": 2}]
    items = history.timeline(obj, [revision("hw-00001", "2026-01-01T00:00:00Z")], events)
    assert [(i.source, i.title, i.by) for i in items] == [
        ("cluster", "Created", "service-controller"),
        ("outside", "Revision 00001 created outside the console", "bob"),
        ("outside", "Service created outside the console", "alice")]
    assert items[0].count == 2


def test_the_consoles_own_event_is_merged_with_its_entry() -> None:
    split = entry("b2", "2026-01-01T02:00:00Z", "split", (1, 2), (A,))
    ours = {"metadata": {"name": "hw.b2", "annotations": {history.CHANGE: "b2"}}, "reason": "TrafficSplit",
            "reportingComponent": "knative-console", "lastTimestamp": "2026-01-01T02:00:00Z"}
    item, made = history.timeline(service([split], generation=2), [], [ours])
    assert item.recorded and item.entry == split
    assert made.title == "Service created outside the console"  # the record starts after the creation
    summarized = history.with_summaries([item, history.Item("", "outside", "x", "detail", revision="hw-2")],
                                        lambda name: "image v1 → v2" if name == "hw-2" else "")
    assert summarized[0] == item and summarized[1].detail == "image v1 → v2; detail"


def test_a_change_after_an_outside_creation_is_not_explained_by_the_first_revision() -> None:
    first = revision("hw-00001", "2026-01-01T00:00:00Z", "alice")
    first["metadata"]["labels"] = {"serving.knative.dev/configurationGeneration": "1"}  # type: ignore[index]
    items = history.timeline(service([], generation=2), [first])
    assert [(i.title, i.by) for i in items] == [("Changed outside the console", "bob"),
                                                ("Revision 00001 created outside the console", "alice"),
                                                ("Service created outside the console", "alice")]


def test_what_was_done_outside_before_the_first_entry_is_listed_while_the_record_is_whole() -> None:
    split = entry("b2", "2026-01-01T02:00:00Z", "split", (4, 5), (A,))
    first = revision("hw-00001", "2026-01-01T00:00:00Z", "alice")
    first["metadata"]["labels"] = {"serving.knative.dev/configurationGeneration": "1"}  # type: ignore[index]
    second = revision("hw-00002", "2026-01-01T01:00:00Z", "carol")
    items = history.timeline(service([split], generation=5), [second, first])
    assert [(i.source, i.title, i.by) for i in items] == [
        ("console", "Traffic split", "alice"),
        ("outside", "Changed outside the console", ""),  # generations 2 to 4, one of them hw-00002
        ("outside", "Revision 00002 created outside the console", "carol"),
        ("outside", "Revision 00001 created outside the console", "alice"),
        ("outside", "Service created outside the console", "alice")]
    assert items[1].detail == "2 changes to the spec (traffic or settings)" and items[1].at == split.at


def test_before_a_record_that_has_dropped_entries_nothing_is_claimed() -> None:
    kept = [entry(f"e{n}", f"2026-01-02T00:00:{n:02d}Z", "split", (n + 10, n + 11)) for n in range(history.LIMIT)]
    old = revision("hw-00001", "2026-01-01T00:00:00Z", "alice")  # made before the oldest entry kept
    items = history.timeline(service(list(reversed(kept)), generation=history.LIMIT + 10), [old])
    assert {i.source for i in items} == {"console"} and len(items) == history.LIMIT


def test_an_entry_whose_split_names_a_deleted_revision_says_it_cannot_be_restored() -> None:
    both = entry("b2", "2026-01-01T02:00:00Z", "split", (1, 2), (TrafficTarget(50, "hw-00001"), B, LATEST))
    alive = [revision("hw-00001", "2026-01-01T00:00:00Z")]
    [item] = [i for i in history.timeline(service([both], generation=2), alive) if i.entry]
    assert item.gone == ("hw-00002",) and item.unrestorable == "Cannot be restored: hw-00002 no longer exists."
    [whole] = [i for i in history.timeline(service([both], generation=2), [*alive, revision(
        "hw-00002", "2026-01-01T01:00:00Z")]) if i.entry]
    assert whole.restorable and whole.unrestorable == ""
    assert history.missing((A, B, LATEST), set()) == ("hw-00001", "hw-00002")  # never the floating entry


def test_changes_in_the_same_second_are_ordered_by_generation() -> None:
    """A revision made outside the console in the same second as a console entry sorts where its generation puts it:
    below the entry it came before, above the one it came after (found by a walkthrough: it sorted above both)."""
    created = entry("a1", "2026-01-01T00:00:00Z", "create", (0, 1), (LATEST,), "hw-00001")
    split = entry("b2", "2026-01-01T00:00:05Z", "split", (2, 3), (A,))  # after kubectl's change (generation 2)
    outside = revision("hw-00002", "2026-01-01T00:00:05Z", "carol")
    items = history.timeline(service([split, created], generation=3), [outside])
    assert [(i.source, i.title) for i in items] == [
        ("console", "Traffic split"), ("outside", "Revision 00002 created outside the console"),
        ("console", "Service created")]
    first = entry("b2", "2026-01-01T00:00:05Z", "split", (1, 2), (A,))  # before kubectl's change (generation 3)
    items = history.timeline(service([first, created], generation=3), [outside])
    assert [(i.source, i.title) for i in items] == [
        ("outside", "Revision 00002 created outside the console"), ("console", "Traffic split"),
        ("console", "Service created")]
    # Both a change before the entry and one after it, in its second: the revision's configuration generation says
    # which one it was, against the revision the console's entry made.
    made = entry("b2", "2026-01-01T00:00:05Z", "revision", (2, 3), (LATEST,), "hw-00002")
    labelled = revision("hw-00003", "2026-01-01T00:00:05Z", "carol")
    labelled["metadata"]["labels"] = {"serving.knative.dev/configurationGeneration": "3"}  # type: ignore[index]
    ours = revision("hw-00002", "2026-01-01T00:00:05Z", "alice")
    ours["metadata"]["labels"] = {"serving.knative.dev/configurationGeneration": "2"}  # type: ignore[index]
    items = history.timeline(service([made, created], generation=4), [labelled, ours])
    assert [(i.source, i.title) for i in items] == [
        ("outside", "Revision 00003 created outside the console"), ("console", "Revision 00002 created"),
        ("outside", "Changed outside the console"), ("console", "Service created")]
