"""resource.Quantity as k8s.io/apimachinery pkg/api/resource/quantity.go parses it: which texts it accepts (with
its error for those it refuses) and, for the API server's own arithmetic (a Pod's QoS class, quotas and limit
ranges), a parsed one's exact value, and the canonical text `Quantity.String()` gives it (quantity.go, amount.go): a
ResourceQuota's or a LimitRange's values, and the sums and messages the quota and limit range admission print, read
as a cluster prints them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any


def is_quantity(text: str) -> bool:
    """Whether k8s.io/apimachinery resource.ParseQuantity accepts the text."""
    return quantity_error(text) is None


# apimachinery pkg/api/resource/quantity.go: ErrFormatWrong, ErrSuffix and ErrNumeric.
QUANTITY_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
QUANTITY_SUFFIX = "unable to parse quantity's suffix"
QUANTITY_NUMERIC = "unable to parse numeric part of quantity"
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DIGITS = frozenset("0123456789")


def quantity_error(text: str) -> str | None:
    """resource.ParseQuantity's error for the text, or None when it parses."""
    if not text:
        return QUANTITY_FORMAT
    if text == "0":
        return None
    parsed = _quantity_parts(text)
    if parsed is None:
        return QUANTITY_FORMAT
    value, num, denom, suffix = parsed
    if suffix in _BINARY_SUFFIXES:
        exponent = _BINARY_SUFFIXES[suffix]
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1 if not denom else -1
        scale = 0
    elif suffix in _DECIMAL_SUFFIXES or _exponent(suffix) is not None:
        scale = _DECIMAL_SUFFIXES[suffix] if suffix in _DECIMAL_SUFFIXES else int(_exponent(suffix) or 0)
        precision = 18 - len(num) - len(denom)
        scale -= len(denom)
    else:
        return QUANTITY_SUFFIX
    fast = precision >= 0 and scale >= -9  # the int64 path, which never fails on digits
    if not fast and not any(c in _DIGITS for c in value):
        return QUANTITY_NUMERIC  # the decimal fallback (inf.Dec.SetString) needs a number
    return None


def _quantity_parts(text: str) -> tuple[str, str, str, str] | None:
    """parseQuantityString: (value, numerator, denominator, suffix), or None for ErrFormatWrong."""
    pos, end = (1 if text[0] in "+-" else 0), len(text)
    while pos < end and text[pos] == "0":  # leading zeros go, and all-zero is 0
        pos += 1
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num, denom = text[start:pos] or "0", ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
    value, suffix_start = text[:pos], pos
    while pos < end and text[pos] in "eEinumkKMGTP":
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        return None
    return value, num, denom, text[suffix_start:]


def _exponent(suffix: str) -> int | None:
    """The exponent of an `e<int>` or `E<int>` suffix that strconv.ParseInt(…, 10, 64) reads."""
    if len(suffix) < 2 or suffix[0] not in "eE":
        return None
    number = suffix[1:]
    body = number[1:] if number[0] in "+-" else number
    if not body or not set(body) <= _DIGITS or len(body) > 19 or not -(2**63) <= int(number) < 2**63:
        return None
    return int(number)


def quantity_value(text: str) -> Fraction | None:
    """The exact value of a quantity resource.ParseQuantity accepts (cpu "100m" is 1/10, memory "1Ki" 1024), as
    `parse` reads it; None for text it refuses (surrounding spaces included)."""
    if quantity_error(text) is not None:
        return None
    try:
        return parse(text).value
    except ValueError:  # beyond what `parse` computes
        return None


DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"
_NANO = 10**9
_MOST_DIGITS = 100  # far beyond any real quantity (2^63 has 19 digits) ...
_MOST_EXPONENT = 100  # ... and its exponent: the arithmetic stays small
_SI_SUFFIX = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIX = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


@dataclass(frozen=True)
class Quantity:
    """An exact value (rounded up to a multiple of 1n, as ParseQuantity rounds) and the format its text had, which
    its canonical text keeps."""

    value: Fraction
    format: str = DECIMAL_SI

    def __str__(self) -> str:
        return canonical(self.value, self.format)

    def __add__(self, other: Quantity) -> Quantity:
        """Quantity.Add: the sum keeps the left operand's format."""
        return Quantity(self.value + other.value, self.format)

    def milli(self) -> int:
        """MilliValue: the value in thousandths, rounded up."""
        return math.ceil(self.value * 1000)


ZERO = Quantity(Fraction(0))


def parse(text: str) -> Quantity:
    """ParseQuantity's value; ValueError (its message) for text it refuses."""
    text = text.strip()
    problem = quantity_error(text)
    if problem is not None:
        raise ValueError(problem)
    if text == "0":
        return ZERO
    parts = _quantity_parts(text)
    assert parts is not None
    _, num, denom, suffix = parts
    exponent = _exponent(suffix)
    if len(num) + len(denom) > _MOST_DIGITS or (exponent is not None and abs(exponent) > _MOST_EXPONENT):
        # apimachinery keeps such a value exactly (inf.Dec); here it is refused rather than computed digit by digit.
        raise ValueError(QUANTITY_NUMERIC)
    negative = text.startswith("-")
    amount = Fraction(int(num or "0")) + (Fraction(int(denom), 10 ** len(denom)) if denom else 0)
    if suffix in _BINARY_SUFFIXES:
        amount *= 2 ** _BINARY_SUFFIXES[suffix]
        fmt = BINARY_SI
    elif suffix in _DECIMAL_SUFFIXES:
        amount *= Fraction(10) ** _DECIMAL_SUFFIXES[suffix]
        fmt = DECIMAL_SI
    else:
        amount *= Fraction(10) ** int(exponent or 0)
        fmt = DECIMAL_EXPONENT
    amount = Fraction(math.ceil(amount * _NANO), _NANO)  # the smallest step is 1n: finer values round up
    return Quantity(-amount if negative else amount, fmt)


def canonical(value: Fraction, fmt: str = DECIMAL_SI) -> str:
    """Quantity.String(): BinarySI as a whole number of the largest power of 1024 that divides it (below 1024, or
    not whole, as DecimalSI); otherwise the mantissa with the largest exponent that is a multiple of three and keeps it
    whole, written with its SI suffix (or as `e<n>` for DecimalExponent)."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value == 0:
        return "0"
    if fmt == BINARY_SI and value >= 1024 and value.denominator == 1:
        number, power = int(value), 0
        while number % 1024 == 0 and power < len(_BINARY_SUFFIX) - 1:
            number //= 1024
            power += 1
        return f"{sign}{number}{_BINARY_SUFFIX[power]}"
    mantissa, exponent = math.ceil(value * _NANO), -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3
    mantissa, exponent = mantissa * 10**shift, exponent - shift
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{mantissa}{f'e{exponent}' if exponent else ''}"
    suffix = _SI_SUFFIX.get(exponent)
    return f"{sign}{mantissa}{suffix if suffix is not None else f'e{exponent}'}"


def canonical_text(text: str) -> str:
    """The text a cluster stores and returns for a quantity sent as `text` (e.g. `1000m` as `1`, `0.5` as `500m`)."""
    return str(parse(text))


def json_text(value: Any) -> str:
    """What Quantity.UnmarshalJSON parses: a string's content, or the JSON text of anything else."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "{}" if isinstance(value, dict) else "[]"
