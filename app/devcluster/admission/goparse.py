"""The Go parsers Knative's validation leans on, with the same accept/reject behaviour.

Annotation values are strings that Knative reads with `time.ParseDuration`,
`strconv.ParseInt`, `strconv.Atoi`, `strconv.ParseFloat`, `strconv.ParseBool` and `resource.ParseQuantity`;
Python's own parsers accept different spellings (spaces, underscores, `1_000`), so these
follow Go instead.
"""

from __future__ import annotations

import json
import math
import re

from app.devcluster.apiserver.quantity import (  # noqa: F401 (the admission parsers' home for them)
    QUANTITY_FORMAT,
    QUANTITY_NUMERIC,
    QUANTITY_SUFFIX,
    is_quantity,
    quantity_error,
)

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_MAX_INT64 = (1 << 63) - 1
_DURATION_PART = re.compile(r"([0-9]*)(\.[0-9]*)?([^0-9.]+)")


def _quote(text: str) -> str:
    """Go's %q for the texts these errors quote: double quotes, escapes as in JSON."""
    return json.dumps(text, ensure_ascii=False)


def parse_duration(text: str) -> int:
    """time.ParseDuration, returning nanoseconds; ValueError when Go would return an error."""
    s = text
    negative = False
    if s and s[0] in "+-":
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"time: invalid duration {_quote(text)}")
    total = 0
    pos = 0
    while pos < len(s):
        match = _DURATION_PART.match(s, pos)
        if not match:
            raise ValueError(f"time: invalid duration {_quote(text)}")
        whole, fraction, unit = match.groups()
        fraction = (fraction or "")[1:]
        if not whole and not fraction:
            raise ValueError(f"time: invalid duration {_quote(text)}")
        # The unit ends at the next digit or dot; Go rejects unknown units.
        if unit not in _UNITS:
            raise ValueError(f"time: unknown unit {unit!r} in duration {_quote(text)}")
        scale = _UNITS[unit]
        value = int(whole or "0") * scale
        if fraction:
            value += int(fraction) * scale // 10 ** len(fraction)
        total += value
        if total > _MAX_INT64 + (1 if negative else 0):
            raise ValueError(f"time: invalid duration {_quote(text)}")
        pos = match.end()
    return -total if negative else total


def _fraction(value: int, scale: int) -> str:
    """`value / scale` as Go's fmtFrac writes it: the fraction's trailing zeros, and a bare dot, dropped."""
    whole, rest = divmod(value, scale)
    digits = str(rest).rjust(len(str(scale)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def format_duration(nanoseconds: int) -> str:
    """time.Duration's String(), i.e. what `%v` of a duration prints: 500ms, 1.5µs, 6.5s, 1m30s, 1h0m0s."""
    if nanoseconds == 0:
        return "0s"
    sign, u = ("-" if nanoseconds < 0 else ""), abs(nanoseconds)
    if u < SECOND:
        if u < 1_000:
            return f"{sign}{u}ns"
        unit, scale = ("µs", 1_000) if u < 1_000_000 else ("ms", 1_000_000)
        return sign + _fraction(u, scale) + unit
    minutes, rest = divmod(u, MINUTE)
    text = _fraction(rest, SECOND) + "s"
    if minutes:
        hours, minutes = divmod(minutes, 60)
        text = f"{minutes}m{text}"
        if hours:
            text = f"{hours}h{text}"
    return sign + text


def go_duration(seconds: float) -> str:
    """format_duration of a duration kept in (float) seconds."""
    return format_duration(round(seconds * SECOND))


def parse_bool(text: str) -> bool:
    """strconv.ParseBool: 1, t, T, TRUE, true, True and 0, f, F, FALSE, false, False; ValueError otherwise."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f"strconv.ParseBool: parsing {_quote(text)}: invalid syntax")


class RangeError(ValueError):
    """strconv's ErrRange: the text is a number, but out of range."""


_GO_INT = re.compile(r"[+-]?[0-9]+")


def parse_int(text: str, bits: int = 64) -> int:
    """strconv.ParseInt(text, 10, bits); RangeError for overflow, ValueError for bad syntax."""
    if not _GO_INT.fullmatch(text):
        raise ValueError(f"strconv.ParseInt: parsing {_quote(text)}: invalid syntax")
    value = int(text)
    limit = 1 << (bits - 1)
    if not -limit <= value < limit:
        raise RangeError(f"strconv.ParseInt: parsing {_quote(text)}: value out of range")
    return value


_GO_FLOAT = re.compile(r"[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE)
_GO_HEX_FLOAT = re.compile(r"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+")


def parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64): ValueError for bad syntax and for values beyond float64."""
    if _GO_HEX_FLOAT.fullmatch(text):
        sign = -1.0 if text.startswith("-") else 1.0
        value = sign * float.fromhex(text.lstrip("+-"))
    elif _GO_FLOAT.fullmatch(text):
        value = float(text)
        if math.isinf(value) and "inf" not in text.lower():
            raise RangeError(f"strconv.ParseFloat: parsing {_quote(text)}: value out of range")
    else:
        raise ValueError(f"strconv.ParseFloat: parsing {_quote(text)}: invalid syntax")
    return value


def clean_path(path: str) -> str:
    """Go's path.Clean (Python's normpath keeps a leading `//`, Go does not)."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."
