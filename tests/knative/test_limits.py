"""The Create Revision wizard's warning of what a namespace's LimitRange refuses (app/knative/limits.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.knative.limits import limit_range_warnings
from app.knative.models import Template


def test_the_wizard_warns_of_what_a_limit_range_refuses() -> None:
    """A Container item's max and min against what was typed; a request not typed is the limit, as kube-apiserver
    defaults it; a Pod item, or a LimitRange that allows it, says nothing."""
    sizes = {"metadata": {"name": "sizes"}, "spec": {"limits": [
        {"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}, "min": {"memory": "64Mi"}},
        {"type": "Pod", "max": {"cpu": "100m"}}]}}
    assert limit_range_warnings(Template(cpu_limit="2"), [sizes]) == [
        "The namespace's LimitRange sizes allows a container a CPU limit of at most 1, and this one's is 2: "
        "Kubernetes would refuse every instance of the new revision."]
    assert limit_range_warnings(Template(cpu_request="1500m", memory_request="32Mi"), [sizes]) == [
        "The namespace's LimitRange sizes allows a container a CPU request of at most 1, and this one's is 1500m: "
        "Kubernetes would refuse every instance of the new revision.",
        "The namespace's LimitRange sizes allows a container a memory request of at least 64Mi, and this one's is "
        "32Mi: Kubernetes would refuse every instance of the new revision."]
    assert limit_range_warnings(Template(cpu_request="500m", cpu_limit="1", memory_limit="512Mi"), [sizes]) == []
    assert limit_range_warnings(Template(cpu_limit="2"), [{"spec": {"limits": "x"}}, None, {}]) == []


@given(st.lists(st.one_of(st.none(), st.text(max_size=8), st.dictionaries(
    st.sampled_from(["metadata", "spec"]), st.one_of(st.none(), st.text(max_size=4), st.fixed_dictionaries(
        {"limits": st.lists(st.dictionaries(st.sampled_from(["type", "max", "min"]), st.one_of(
            st.sampled_from(["Container", "Pod"]), st.dictionaries(st.sampled_from(["cpu", "memory"]),
                                                                   st.one_of(st.text(max_size=6), st.integers())))),
            max_size=2)})))), max_size=2),
       st.text(max_size=6), st.text(max_size=6))
def test_any_limit_range_is_read_without_failing(ranges: list[Any], request: str, limit: str) -> None:
    for warning in limit_range_warnings(Template(cpu_request=request, memory_limit=limit), ranges):
        assert warning.startswith("The namespace's LimitRange ")
