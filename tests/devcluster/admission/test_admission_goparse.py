"""Go parser look-alikes used by admission: durations, integers, floats, quantities, paths, image references."""

import pytest

from app.devcluster.admission.goparse import (
    HOUR,
    MINUTE,
    SECOND,
    RangeError,
    clean_path,
    format_duration,
    is_quantity,
    parse_bool,
    parse_duration,
    parse_float,
    parse_int,
)
from app.devcluster.admission.imageref import parse_error


@pytest.mark.parametrize(("nanos", "text"), [
    (0, "0s"), (1, "1ns"), (999, "999ns"), (1_500, "1.5\u00b5s"), (500_000_000, "500ms"), (-500_000_000, "-500ms"),
    (1_250_000, "1.25ms"), (SECOND, "1s"), (6_500_000_000, "6.5s"), (10 * SECOND, "10s"), (80 * SECOND, "1m20s"),
    (5 * MINUTE, "5m0s"), (HOUR, "1h0m0s"), (2 * HOUR + 1, "2h0m0.000000001s"), (-90 * SECOND, "-1m30s"),
])
def test_format_duration_is_gos_duration_string(nanos: int, text: str) -> None:
    """time.Duration.String(), what `%v` of a duration prints."""
    assert format_duration(nanos) == text
    assert parse_duration(text) == nanos  # and Go reads it back


@pytest.mark.parametrize(("text", "value"), [("1", True), ("t", True), ("T", True), ("TRUE", True), ("true", True),
                                             ("True", True), ("0", False), ("f", False), ("F", False),
                                             ("FALSE", False), ("false", False), ("False", False)])
def test_parse_bool_is_strconvs(text: str, value: bool) -> None:
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["yes", "tRUE", "", " true", "on", "2"])
def test_parse_bool_refuses_what_strconv_refuses(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_bool(text)
    assert str(refused.value) == f'strconv.ParseBool: parsing "{text}": invalid syntax'


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("0", 0),
        ("60s", 60 * SECOND),
        ("1h0m0s", HOUR),
        ("1m5s", MINUTE + 5 * SECOND),
        ("1.5s", 1_500_000_000),
        (".5s", 500_000_000),
        ("5.s", 5 * SECOND),
        ("-10s", -10 * SECOND),
        ("+3ms", 3_000_000),
        ("2us", 2_000),
        ("2\u00b5s", 2_000),
        ("7ns", 7),
    ],
)
def test_parse_duration(text, nanos):
    assert parse_duration(text) == nanos


@pytest.mark.parametrize("text", ["", "60", "s", "1d", "1 s", ".s", "-", "1.5.5s"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("+5", 5), ("-12", -12), ("2147483647", 2147483647)])
def test_parse_int(text, value):
    assert parse_int(text, 32) == value


@pytest.mark.parametrize(
    ("text", "error"), [("2147483648", RangeError), (" 1", ValueError), ("1_000", ValueError), ("", ValueError)]
)
def test_parse_int_rejects(text, error):
    with pytest.raises(error):
        parse_int(text, 32)


@pytest.mark.parametrize(
    ("text", "value"), [("0.01", 0.01), ("1e2", 100.0), ("-1", -1.0), (".5", 0.5), ("0x1p-2", 0.25)]
)
def test_parse_float(text, value):
    assert parse_float(text) == value


@pytest.mark.parametrize("text", ["", "abc", " 1", "1_0", "1e400"])
def test_parse_float_rejects(text):
    with pytest.raises(ValueError):
        parse_float(text)


@pytest.mark.parametrize(
    ("text", "ok"), [("100m", True), ("1.5Gi", True), ("1e3", True), ("64Mi", True), ("1GB", False), ("", False)]
)
def test_is_quantity(text, ok):
    assert is_quantity(text) is ok


@pytest.mark.parametrize(
    ("path", "cleaned"), [("/dev/", "/dev"), ("//dev/./log", "/dev/log"), ("/a/../", "/"), ("a/..", "."), ("", ".")]
)
def test_clean_path(path, cleaned):
    assert clean_path(path) == cleaned


@pytest.mark.parametrize(
    ("image", "error"),
    [
        ("nginx", None),
        ("nginx:", None),
        ("localhost:5000/team/app:v1", None),
        ("[::1]:5000/app", None),
        ("ghcr.io/knative/helloworld-go@sha256:" + "0" * 64, None),
        ("ghcr.io/knative/helloworld-go:latest@sha256:" + "0" * 64, None),
        ("Nginx", "could not parse reference: Nginx"),
        ("reg.io:port/app", "could not parse reference: reg.io:port/app"),
        ("app:" + "t" * 128, "could not parse reference: app:" + "t" * 128),
        ("", "could not parse reference: "),
    ],
)
def test_image_references(image, error):
    assert parse_error(image) == error
