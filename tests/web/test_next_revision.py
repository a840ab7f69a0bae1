"""The name the wizard pins for the new revision is never one Knative is about to give another: not while someone
else's template change has not yet made its revision (the Configuration reconciler runs after the write is
acknowledged), and not a name someone else pinned in the template and Knative has not yet created."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.knative.models import revision_from, service_from
from app.knative.naming import revision_name
from app.web.revisions import next_revision_name


def _container(image: str) -> dict[str, Any]:
    return {"image": image, "ports": [{"containerPort": 8080}]}


def _service(image: str, pinned: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": pinned} if pinned else {}
    return {"metadata": {"name": "app", "namespace": "ns", "generation": 1},
            "spec": {"template": {"metadata": metadata, "spec": {"containers": [_container(image)]}}}}


def _revision(generation: int, image: str, name: str = "") -> dict[str, Any]:
    return {"metadata": {"name": name or revision_name("app", generation),
                         "labels": {"serving.knative.dev/configurationGeneration": str(generation)}},
            "spec": {"containers": [_container(image)]}}


def test_the_next_generation_when_the_template_has_its_revision() -> None:
    service = service_from(_service("b:1"))
    revisions = [revision_from(_revision(2, "b:1")), revision_from(_revision(1, "a:1"))]
    assert next_revision_name(service, revisions) == "app-00003"


def test_one_further_while_the_template_has_no_revision_yet() -> None:
    """Someone changed the image a moment ago: Knative is making app-00002 for it, so ours is app-00003."""
    service = service_from(_service("theirs:2"))
    assert next_revision_name(service, [revision_from(_revision(1, "a:1"))]) == "app-00003"


def test_a_brand_new_service_whose_first_revision_is_not_made_yet() -> None:
    assert next_revision_name(service_from(_service("a:1")), []) == "app-00002"


def test_not_a_name_pinned_in_the_template_and_not_made_yet() -> None:
    """Another console pinned app-00002 (the wizard names its revision): that name is taken before it exists."""
    service = service_from(_service("theirs:2", pinned="app-00002"))
    assert next_revision_name(service, [revision_from(_revision(1, "a:1"))]) == "app-00003"


@given(st.lists(st.tuples(st.integers(1, 12), st.sampled_from(["a:1", "b:1", "c:1"])), max_size=6, unique_by=lambda t: t[0]),
       st.sampled_from(["a:1", "b:1", "c:1", "d:1"]), st.sampled_from(["", "app-00001", "app-00004", "mine"]))
def test_never_a_name_that_is_or_is_about_to_be_taken(made: list[tuple[int, str]], image: str, pinned: str) -> None:
    service = service_from(_service(image, pinned=pinned))
    revisions = sorted((revision_from(_revision(g, i)) for g, i in made), key=lambda r: -r.generation)
    name = next_revision_name(service, revisions)
    newest = max(made, default=(0, ""))
    pending = newest[1] != image  # Knative is making the template's revision, with the next generation
    knatives = revision_name("app", newest[0] + 1) if pending else ""
    assert name not in {r.name for r in revisions} | {pinned, knatives}
    assert name.startswith("app-")
