"""resourceVersions compared as KEP-5504 lets clients compare them: positive decimal integers without leading zeros,
of any length; anything else is not comparable."""

from __future__ import annotations

import pytest

from app.cluster.versions import comparable


@pytest.mark.parametrize(("older", "newer"), [("9", "10"), ("99", "100"), ("123", "124"), ("1", "1" * 5000)])
def test_comparable_versions_order_as_their_integers(older: str, newer: str) -> None:
    first, second = comparable(older), comparable(newer)
    assert first is not None and second is not None and first < second


@pytest.mark.parametrize("text", ["", "0", "01", "-1", "+1", "1.0", " 1", "1 ", "1e3", "abc", "٣", "１", None, 12])
def test_anything_else_is_not_comparable(text: object) -> None:
    assert comparable(text) is None
