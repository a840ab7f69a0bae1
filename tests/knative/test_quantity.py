"""The one quantity parser (app.knative.quantity): apimachinery's grammar and values, exact, with the inputs that
used to break the console (1e400, 1Ei, Unicode digits) and the ones apimachinery refuses."""

from __future__ import annotations

from decimal import Context, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.knative.quantity import QuantityError, is_quantity, parse_quantity


@pytest.mark.parametrize(("text", "value"), [
    ("0", Decimal(0)), ("1", Decimal(1)), ("100m", Decimal("0.1")), ("0.5", Decimal("0.5")), (".5", Decimal("0.5")),
    ("1.", Decimal(1)), ("+2k", Decimal(2000)), ("-1", Decimal(-1)), ("1e3", Decimal(1000)), ("1E3", Decimal(1000)),
    ("1e-3", Decimal("0.001")), ("1E", Decimal(10) ** 18), ("1n", Decimal("1e-9")), ("5u", Decimal("5e-6")),
    ("1Ki", Decimal(1024)), ("128Mi", Decimal(128 * 2**20)), ("1.5Gi", Decimal(3 * 2**29)), ("1Ti", Decimal(2**40)),
    ("1Pi", Decimal(2**50)), ("1Ei", Decimal(2**60)), ("1e400", Decimal(10) ** 400),
    # apimachinery caps binary quantities at 2^63-1 and rounds anything finer than 1n up to it
    ("8Ei", Decimal(2**63 - 1)), ("9Ei", Decimal(2**63 - 1)), ("0.9n", Decimal("1e-9")), ("1e-400", Decimal("1e-9")),
    ("1.0000000001", Decimal("1.000000001")),
])
def test_values(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", [
    "", " 1", "1 ", "1\n", "²", "１", "٣", "1e", "e3", "Ki", "1KI", "1ki", "1.2.3", "1e1.5", "1b", "1Mb", "--1", "0x10",
    "1_000", "inf", "NaN", "1e2147483648", "1" * 1001,
])
def test_refused(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)
    assert not is_quantity(text)


def test_comparisons_that_used_to_fail() -> None:
    assert parse_quantity("1e400") > parse_quantity("1")  # OverflowError with floats
    assert parse_quantity("1Ei") > parse_quantity("1Gi")  # ValueError: "Ei" was missing from the regex
    assert parse_quantity("1500m") == parse_quantity("1.5")
    assert parse_quantity("1Ki") > parse_quantity("1k")


@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused(text: str) -> None:
    try:
        parse_quantity(text)
    except QuantityError:
        pass


@given(st.integers(min_value=0, max_value=10**30), st.sampled_from(["", "k", "M", "G", "Ki", "Mi", "Gi", "e2"]))
def test_integers_with_suffixes(number: int, suffix: str) -> None:
    scale = {"": 1, "k": 1000, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "e2": 100}[suffix]
    expected = number * scale
    if suffix.endswith("i"):
        expected = min(expected, 2**63 - 1)
    assert parse_quantity(f"{number}{suffix}") == Decimal(expected)
    assert parse_quantity(f"{number}m").scaleb(3, context=Context(prec=100)) == number  # exact, no float
