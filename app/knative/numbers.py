"""Whole numbers as a user types them: ASCII digits only, bounded before they are converted.

`str.isdigit()` accepts `²` and `٣`, which `int()` then refuses or reads as another number, and `int()` refuses
strings of 4,300+ digits; neither may reach a page as a 500.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")


def whole(text: str, maximum: int) -> int | None:
    """`text` (already stripped) as an int in 0..maximum, or None when it is anything else."""
    if len(text) > len(str(maximum)) + 20 or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= maximum else None
