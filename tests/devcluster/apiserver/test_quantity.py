"""apimachinery's Quantity in the dev cluster's API server: the canonical text a cluster stores and prints a quantity
in (Quantity.String, pkg/api/resource/quantity.go and amount.go), and the sums the quota admission prints."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.devcluster.apiserver.quantity import BINARY_SI, DECIMAL_SI, canonical, canonical_text, parse, quantity_error


@pytest.mark.parametrize(("sent", "stored"), [
    ("1000m", "1"), ("0.5", "500m"), ("1500m", "1500m"), ("2", "2"), ("1k", "1k"), ("1500", "1500"),
    ("1024", "1024"), ("100Mi", "100Mi"), ("1.5Gi", "1536Mi"), ("2048Ki", "2Mi"), ("512", "512"), ("1e3", "1e3"),
    ("3e-2", "30e-3"), ("0.1n", "1n"), ("-1", "-1"), ("0", "0"), ("129M", "129M"), ("0.5Ki", "512"),
])
def test_a_quantity_is_stored_in_its_canonical_text(sent: str, stored: str) -> None:
    assert canonical_text(sent) == stored


def test_a_sum_keeps_the_format_of_its_first_term() -> None:
    assert str(parse("512Mi") + parse("512Mi")) == "1Gi"
    assert str(parse("1") + parse("512Mi")) == "536870913"
    assert str(parse("500m") + parse("25m")) == "525m"


def test_what_parse_quantity_refuses() -> None:
    assert quantity_error("abc") == ("quantities must match the regular expression "
                                     "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    assert quantity_error("1Qi") is not None and quantity_error("1.2.3") is not None
    with pytest.raises(ValueError):
        parse("1Xi")


@given(st.fractions(min_value=-10**12, max_value=10**12), st.sampled_from([DECIMAL_SI, BINARY_SI]))
def test_the_canonical_text_reads_back_as_the_same_value(value: Fraction, fmt: str) -> None:
    value = Fraction(round(value * 10**9), 10**9)  # a quantity's smallest step is 1n
    assert parse(canonical(value, fmt)).value == value


def test_an_absurd_quantity_is_refused_not_computed() -> None:
    """An exponent or a number of digits no real quantity has is refused at once (a value of 10^999999999 would take
    the API server's time digit by digit)."""
    for text in ("1e999999999", "1" * 500, "1e-999999999"):
        with pytest.raises(ValueError, match="unable to parse numeric part of quantity"):
            parse(text)
