"""The details page's kept work: the revisions newest first and the Service's timeline are computed once per version
of the Service and of its revisions, whatever order the cache hands the revisions in, and again as soon as any of
them changes; objects that carry no resourceVersion are never kept."""

from __future__ import annotations

from typing import Any

from app.web.details import SummaryCache, summaries


def revision(generation: int, rv: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"svc-{generation:05d}", "uid": f"u{generation}",
                            "labels": {"serving.knative.dev/configurationGeneration": str(generation)},
                            "creationTimestamp": f"2026-01-01T00:00:{generation:02d}Z"}
    if rv:
        meta["resourceVersion"] = rv
    return {"metadata": meta, "spec": {"containers": [{"image": f"app:{generation}"}]}}


SERVICE = {"metadata": {"name": "svc", "uid": "s", "resourceVersion": "10", "generation": 3}}


def names(ordered: list[dict[str, Any]]) -> list[str]:
    return [r["metadata"]["name"] for r in ordered]


def test_kept_by_the_versions_of_the_service_and_every_revision() -> None:
    cache = SummaryCache()
    revisions = [revision(1, "5"), revision(3, "7"), revision(2, "6")]
    ordered, timeline = cache.ordered(SERVICE, revisions)
    assert names(ordered) == ["svc-00003", "svc-00002", "svc-00001"]
    again, _ = cache.ordered(SERVICE, list(reversed(revisions)))  # another order, the same versions: kept
    assert again is ordered
    changed = [revision(1, "5"), revision(3, "8"), revision(2, "6")]
    assert cache.ordered(SERVICE, changed)[0] is not ordered  # a revision changed: computed again
    newer = {"metadata": {**SERVICE["metadata"], "resourceVersion": "11"}}
    assert cache.ordered(newer, revisions)[0] is not ordered
    assert cache.ordered(SERVICE, [*revisions, revision(4, "9")])[0][0]["metadata"]["name"] == "svc-00004"
    assert timeline == cache.ordered(SERVICE, revisions)[1]


def test_objects_without_a_resource_version_are_not_kept() -> None:
    cache = SummaryCache()
    first, _ = cache.ordered(SERVICE, [revision(1), revision(2)])
    second, _ = cache.ordered(SERVICE, [revision(1), revision(2)])
    assert first == second and first is not second and not cache.orders


def test_only_the_last_pages_are_kept() -> None:
    cache = SummaryCache(pages=2)
    for rv in ("1", "2", "3"):
        cache.ordered(SERVICE, [revision(1, rv)])
    assert len(cache.orders) == 2


def test_kept_by_the_stamp_of_the_cache_the_revisions_came_from() -> None:
    """From a watch-fed cache the revisions are known by its stamp: the versions of 300 revisions are not read."""
    cache = SummaryCache()
    revisions = [revision(1, "5"), revision(2, "6")]
    ordered, _ = cache.ordered(SERVICE, revisions, (1, 1, 7))
    assert cache.ordered(SERVICE, list(reversed(revisions)), (1, 1, 7))[0] is ordered
    newer = [*revisions, revision(3, "8")]
    assert names(cache.ordered(SERVICE, newer, (1, 1, 8))[0]) == ["svc-00003", "svc-00002", "svc-00001"]
    # Another version of the Service, the same stamp: computed again (the timeline reads the Service too).
    assert cache.ordered({"metadata": {**SERVICE["metadata"], "resourceVersion": "11"}}, revisions, (1, 1, 7))[0] \
        is not ordered


def test_what_a_revision_changed_names_the_one_before_it_when_revisions_between_were_deleted() -> None:
    """With svc-00002 deleted (kubectl delete revision), svc-00003's change from svc-00001 is not all its own: the
    Changes column says which revision it is counted from; the oldest left is not called the first."""
    kept = [revision(4, "8"), revision(3, "7"), revision(1, "5")]
    for obj in kept:
        obj["metadata"]["labels"]["serving.knative.dev/service"] = "svc"
    summary_of = summaries(kept)
    assert summary_of("svc-00004") == "image 3 → 4"
    assert summary_of("svc-00003") == "since 00001: image 1 → 3"
    assert summary_of("svc-00001") == "first revision"
    assert summaries([revision(3, "7"), revision(2, "6")])("svc-00002") == \
        "oldest left: the revisions before it were deleted"
