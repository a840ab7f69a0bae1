"""Finding Services (app.knative.finding): the filter's words and label requirements, what is wrong with a filter
said so that it can be fixed, and sorting by a column."""

from __future__ import annotations

import pytest

from app.knative.finding import FilterError, Sort, matches, parse_filter, parse_sort, sort_services


def ksvc(name: str, image: str = "ghcr.io/knative/helloworld-go:latest", labels: dict[str, str] | None = None,
         created: str = "2026-01-01T00:00:00Z", ready: str = "True", namespace: str = "ns") -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels or {}, "creationTimestamp": created,
                         "generation": 1},
            "spec": {"template": {"spec": {"containers": [{"image": image}]}}},
            "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": ready}]}}


def test_words_and_labels() -> None:
    found = parse_filter("  Hello  team=payments tier!=canary ")
    assert found.words == ("hello",) and found.label_selector == "team=payments,tier!=canary"
    assert matches(found, ksvc("helloworld", labels={"team": "payments"}))
    assert not matches(found, ksvc("helloworld", labels={"team": "payments", "tier": "canary"}))
    assert not matches(found, ksvc("other", "example.com/app:1", labels={"team": "payments"}))
    assert matches(parse_filter("knative/helloworld"), ksvc("x"))  # the image
    assert matches(parse_filter("PAY"), ksvc("x", labels={"team": "payments"}))  # a label's value
    assert matches(parse_filter("team==payments"), ksvc("x", labels={"team": "payments"}))
    assert matches(parse_filter("example.com/team="), ksvc("x", labels={"example.com/team": ""}))
    assert parse_filter("").empty


@pytest.mark.parametrize(("text", "words"), [
    ("=x", 'has no label key before "="'), ("B_/c=d", "has no valid prefix"), ("-bad=x", "is not a label key"),
    ("k=-bad-", "is not a label value"), ("k=" + "v" * 64, "is not a label value"), ("x" * 501, "use at most 500"),
])
def test_what_is_wrong_with_a_filter(text: str, words: str) -> None:
    with pytest.raises(FilterError, match=words):
        parse_filter(text)


def test_sorting() -> None:
    items = [ksvc("b", created="2026-01-02T00:00:00Z"), ksvc("a", ready="False", namespace="z"),
             ksvc("c", created="2026-01-03T00:00:00Z")]
    assert [i["metadata"]["name"] for i in sort_services(items, parse_sort("-created"))] == ["c", "b", "a"]
    assert [i["metadata"]["name"] for i in sort_services(items, parse_sort("status"))] == ["a", "b", "c"]
    assert [i["metadata"]["name"] for i in sort_services(items, parse_sort("-namespace"))] == ["a", "c", "b"]
    assert parse_sort("bogus") == Sort() and parse_sort("-name") == Sort("name", True)
    assert Sort("name").toggled("name") == Sort("name", True) and Sort("name", True).toggled("created") == \
        Sort("created")
