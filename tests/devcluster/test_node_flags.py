"""The node's size on the command line (--node-cpu, --node-memory, --node-pods) and the quantity values the scheduler
counts with: apimachinery's MilliValue() and Value() of a quantity, rounded up, exactly; any text either parses to a
positive size or is refused with a message that says what to type, never an exception of another kind."""

from __future__ import annotations

import argparse
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.devcluster.__main__ import parse_args
from app.devcluster.apiserver.node_flags import node_pods, node_quantity
from app.devcluster.apiserver.nodes import NodeSize
from app.devcluster.apiserver.quantity import is_quantity
from app.devcluster.controllers.scheduler import int_value, milli_value
from app.knative.quantity import QuantityError, parse_quantity


@pytest.mark.parametrize(("text", "milli", "whole"), [
    ("100m", 100, 1), ("1", 1000, 1), ("1.5", 1500, 2), ("0.5Gi", 536870912000, 536870912),
    ("128Mi", 134217728000, 134217728), ("1e3", 1000000, 1000), ("2k", 2000000, 2000), (".5", 500, 1),
    ("12e-3", 12, 1), ("1n", 1, 1), ("0", 0, 0), ("25m", 25, 1),
])
def test_quantity_values_round_up_as_apimachinery_does(text: str, milli: int, whole: int) -> None:
    assert (milli_value(text), int_value(text)) == (milli, whole)


def test_not_a_quantity_is_none() -> None:
    for text in ("", "abc", "1x", "--1", "1 Gi"):
        assert milli_value(text) is None and int_value(text) is None


@settings(max_examples=400)
@given(st.one_of(
    st.text(max_size=20),
    st.from_regex(r"\A[+-]?[0-9]{0,6}(\.[0-9]{0,4})?(Ki|Mi|Gi|Ti|m|k|M|G|n|u|e[+-]?[0-9]{1,2}|E[0-9])?\Z"),
))
def test_any_text_is_a_value_exactly_as_the_consoles_parser_reads_it_or_refused(text: str) -> None:
    """Cross-checked with the console's own exact parser (app/knative/quantity.py, from the same quantity.go)."""
    if not is_quantity(text):
        assert milli_value(text) is None
        return
    try:
        exact = parse_quantity(text)
    except QuantityError:
        return  # an exponent beyond int32, which the console refuses
    if abs(exact) < Decimal("1e50"):
        # The console's keeps nanos (rounded away from zero), which never moves a value across a thousandth.
        assert milli_value(text) == math.ceil(Fraction(exact) * 1000)
        assert int_value(text) == math.ceil(Fraction(exact))


@settings(max_examples=300)
@given(st.text(max_size=30))
def test_any_flag_value_is_a_size_or_a_clear_refusal(text: str) -> None:
    for check in (node_quantity, node_pods):
        try:
            got = check(text)
        except argparse.ArgumentTypeError as error:
            assert repr(text) in str(error)
            continue
        if check is node_pods:
            assert isinstance(got, int) and got >= 1
        else:
            assert got == text and (milli_value(text) or 0) > 0


def test_the_flags_make_the_nodes_size() -> None:
    config = parse_args(["--node-cpu", "3500m", "--node-memory", "2Gi", "--node-pods", "12"])
    assert config.node == NodeSize("3500m", "2Gi", 12)
    assert parse_args([]).node == NodeSize("8", "16Gi", 110)
    for bad in (["--node-cpu", "0"], ["--node-memory", "lots"], ["--node-pods", "0"], ["--node-pods", "1.5"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
