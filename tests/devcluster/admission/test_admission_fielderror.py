"""FieldError: path prefixing, index gluing, merging, sorting and the rendered text (reference 2.4)."""

import pytest

from app.devcluster.admission.fielderror import (
    WARNING,
    FieldError,
    disallowed_fields,
    generic,
    go_float,
    go_quote,
    go_value,
    invalid_key_name,
    invalid_value,
    missing_field,
    missing_one_of,
    multiple_one_of,
    out_of_bounds,
)


@pytest.mark.parametrize(
    ("err", "text"),
    [
        (missing_field("image"), "missing field(s): image"),
        (missing_field("image").via_field("spec"), "missing field(s): spec.image"),
        (missing_field("image").via_index(0).via_field("containers"), "missing field(s): containers[0].image"),
        (missing_field("image").via_field_index("containers", 2), "missing field(s): containers[2].image"),
        (generic("x", "").via_field("traffic").via_field("spec"), "x: spec.traffic"),
        (generic("x", "[1].tag").via_field("traffic"), "x: traffic[1].tag"),
        (generic("x", "").via_field_index("tag", 0).via_field("traffic"), "x: traffic.tag[0]"),
        (generic("x", "").via_index(1).via_index(0).via_field("a"), "x: a[0][1]"),
        (generic("x", "a").via_field("metadata.annotations"), "x: metadata.annotations.a"),
        (generic("x", "").via_key("k").via_field("m"), "x: m[k]"),
        (generic("x", "").via_field_key("m", "k"), "x: m[k]"),
        (generic("x", "").via_key("a.b/c").via_field("m"), "x: m.[a.b/c]"),
        (generic("x", "").via_field("containers[*]"), "x: containers[*]"),
        (generic("no paths"), "no paths: "),
        (FieldError(), ""),
    ],
)
def test_paths(err, text):
    assert err.error() == text


@pytest.mark.parametrize(
    ("err", "text"),
    [
        (missing_field("a", "b"), "missing field(s): a, b"),
        (disallowed_fields("lifecycle"), "must not set the field(s): lifecycle"),
        (invalid_value("x", "f"), "invalid value: x: f"),
        (invalid_value(8012, "f", "d1", "d2"), "invalid value: 8012: f\nd1, d2"),
        (out_of_bounds(700, 0, 600, "timeoutSeconds"), "expected 0 <= 700 <= 600: timeoutSeconds"),
        (out_of_bounds("-1", 1.0, 100.0, "k"), "expected 1 <= -1 <= 100: k"),
        (missing_one_of("a", "b"), "expected exactly one, got neither: a, b"),
        (multiple_one_of("a", "b"), "expected exactly one, got both: a, b"),
        (invalid_key_name("k/x", "", "why"), 'invalid key name "k/x": \nwhy'),
    ],
)
def test_constructors(err, text):
    assert err.error() == text


def test_merges_equal_message_and_details_and_sorts_paths_bytewise():
    err = (
        disallowed_fields("url")
        .also(disallowed_fields("url"))
        .also(disallowed_fields("configurationName"))
        .via_index(0)
        .via_field("traffic")
    )
    assert err.error() == "must not set the field(s): traffic[0].configurationName, traffic[0].url"


def test_sorts_by_message_then_details_and_joins_with_newlines():
    err = (
        generic("must not set the field(s)", "z")
        .also(generic("expected 0 <= 150 <= 100", "p"))
        .also(generic("Traffic targets sum to 150, want 100", "t"))
        .also(generic('Multiple definitions for "a"', "m"))
        .also(FieldError("invalid value: sa", ("s",), "second"))
        .also(FieldError("invalid value: sa", ("s",), "first"))
    )
    assert err.error() == (
        'Multiple definitions for "a": m\n'
        "Traffic targets sum to 150, want 100: t\n"
        "expected 0 <= 150 <= 100: p\n"
        "invalid value: sa: s\nfirst\n"
        "invalid value: sa: s\nsecond\n"
        "must not set the field(s): z"
    )


def test_upper_case_paths_sort_before_lower_case():
    assert generic("m", "b", "B", "a", "b").error() == "m: B, a, b"


def test_filter_keeps_one_level_and_at_changes_it():
    err = generic("bad", "a").also(generic("careful", "b").at(WARNING))
    assert err.filter(WARNING).error() == "careful: b"
    assert err.filter(0).error() == "bad: a"
    assert not generic("bad", "a").filter(WARNING)


def test_errors_are_immutable():
    base = missing_field("image")
    base.via_field("spec")
    base.also(missing_field("name"))
    assert base.error() == "missing field(s): image"


def test_empty_message_is_dropped_and_falsy():
    assert not FieldError("", ("a",))
    assert not FieldError().also(FieldError(), None)
    assert bool(missing_field("a"))


@pytest.mark.parametrize(
    ("value", "text"),
    [("plain", '"plain"'), ('a"b\\', '"a\\"b\\\\"'), ("tab\t", '"tab\\t"'), ("\x01", '"\\x01"'), ("é", '"é"')],
)
def test_go_quote(value, text):
    assert go_quote(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (0.01, "0.01"), (110.0, "110"), (1e21, "1e+21"), (1e-05, "1e-05"), (2.5, "2.5")],
)
def test_go_float(value, text):
    assert go_float(value) == text


@pytest.mark.parametrize(("value", "text"), [(True, "true"), (["a", "b"], "[a b]"), (None, "<nil>"), (3, "3")])
def test_go_value(value, text):
    assert go_value(value) == text
