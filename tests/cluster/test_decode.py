"""How the cluster layer decodes the API's answers (app.cluster.client.decode, orjson with json behind it): the same
values json gives for anything a cluster sends, what orjson alone refuses included."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.cluster.client import decode

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SCALARS = st.none() | st.booleans() | INT64 | st.floats(allow_nan=False, allow_infinity=False) | st.text()
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner,
                                                                                             max_size=5), max_leaves=30)


@given(VALUES)
def test_decodes_what_json_decodes(value: Any) -> None:
    payload = json.dumps(value).encode()
    assert decode(payload) == json.loads(payload)


def test_lone_surrogates_and_nan_are_read_as_json_reads_them() -> None:
    # orjson refuses both; a cluster written in Python (json.dumps) may send them.
    assert decode(b'{"data": {"key": "\\ud800"}}') == {"data": {"key": "\ud800"}}
    assert math.isnan(decode(b'{"value": NaN}')["value"])


def test_integers_past_64_bits_come_back_as_floats() -> None:
    assert decode(b'{"n": 123456789012345678901234567890}') == {"n": 1.2345678901234568e29}


def test_what_is_not_json_still_raises_value_error() -> None:
    with pytest.raises(ValueError):
        decode(b"<html>not json</html>")
