"""Kubernetes resource quantities (`100m`, `1.5Gi`, `1Ei`, `12e6`), parsed exactly as apimachinery does.

The grammar and the rules come from kubernetes/apimachinery `pkg/api/resource/quantity.go`:

    <quantity>        ::= <signedNumber><suffix>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>   (an integer: ParseInt on the rest)

Digits are ASCII only. Values are exact (decimal arithmetic, never float), rounded away from zero to a
multiple of 1n as ParseQuantity does, and binary-suffixed values are capped at 2^63-1 ("8Ei" parses as
2^63-1). apimachinery reads the exponent as an int64 and keeps it as an int32, so a larger one wraps
around there; the console refuses an exponent outside the int32 range instead of guessing.
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

_GRAMMAR = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE])?"
)
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_INT32 = 2**31 - 1
_BINARY_CAP = Decimal(2**63 - 1)
_NANO = Decimal("1e-9")
MAX_LENGTH = 1000  # far beyond any real quantity; keeps the arithmetic small


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


def parse_quantity(text: str) -> Decimal:
    """The exact value of `text`, or QuantityError."""
    match = _GRAMMAR.fullmatch(text) if len(text) <= MAX_LENGTH else None
    if match is None:
        raise QuantityError(text)
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    # Enough precision for every digit typed plus the 19 digits of 2^60: the products below are exact.
    context = decimal.Context(prec=len(text) + 40, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    if suffix in _BINARY:
        value = min(context.multiply(number, Decimal(2 ** _BINARY[suffix])), _BINARY_CAP)
    else:
        exponent = _DECIMAL[suffix] if suffix in _DECIMAL else int(suffix[1:])
        if abs(exponent) > _INT32:
            raise QuantityError(text)
        value = context.scaleb(number, exponent)
    if value and value < _NANO:
        value = _NANO  # apimachinery rounds a non-zero value up to the smallest it keeps (1n)
    elif int(value.as_tuple().exponent) < -9:  # finer than 1n: at most len(text) digits, so this is exact
        value = value.quantize(_NANO, rounding=decimal.ROUND_UP, context=context)
    return -value if match["sign"] == "-" else value


def quantity_or_none(text: str) -> Decimal | None:
    """The exact value of `text`, or None when it is no quantity."""
    try:
        return parse_quantity(text)
    except QuantityError:
        return None


def is_quantity(text: str) -> bool:
    return quantity_or_none(text) is not None
