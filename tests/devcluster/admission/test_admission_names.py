"""Name checks with apimachinery's messages, kmeta ChildName shortening and revision names."""

import hashlib

import pytest

from app.devcluster.admission.names import (
    child_name,
    dns1035_label,
    dns1035_label_prefix,
    dns1123_label,
    dns1123_subdomain,
    qualified_name,
    revision_name,
)

DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
QUALIFIED = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
TOO_LONG = "must be no more than 63 characters"


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("hello", []),
        ("a", []),
        ("a-1", []),
        ("1abc", [DNS1035]),
        ("abc-", [DNS1035]),
        ("a.b", [DNS1035]),
        ("Hello", [DNS1035]),
        ("", [DNS1035]),
        ("a" * 63, []),
        ("a" * 64, [TOO_LONG]),
        ("A" * 64, [TOO_LONG, DNS1035]),
    ],
)
def test_dns1035_label(value, messages):
    assert dns1035_label(value) == messages


@pytest.mark.parametrize(
    ("value", "messages"),
    # apimachinery replaces the last two characters by "a", so "1-" passes and "1a-" does not.
    [("hello-", []), ("a-", []), ("1-", []), ("1a-", [DNS1035]), ("ab--", []), ("Ab-", [DNS1035])],
)
def test_dns1035_label_prefix_masks_the_trailing_dash(value, messages):
    assert dns1035_label_prefix(value) == messages


@pytest.mark.parametrize(
    ("value", "messages"),
    [("vol-1", []), ("1vol", []), ("Vol", [DNS1123_LABEL]), ("a.b", [DNS1123_LABEL]), ("a" * 64, [TOO_LONG])],
)
def test_dns1123_label(value, messages):
    assert dns1123_label(value) == messages


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("default", []),
        ("my.service-account", []),
        ("My_SA", [DNS1123_SUBDOMAIN]),
        ("a" * 254, ["must be no more than 253 characters"]),
    ],
)
def test_dns1123_subdomain(value, messages):
    assert dns1123_subdomain(value) == messages


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("hello-00001", []),
        ("My_Rev.1", []),
        ("example.com/name", []),
        ("-bad", [QUALIFIED]),
        ("a" * 64, ["name part must be no more than 63 characters"]),
        ("/name", ["prefix part must be non-empty"]),
        ("Bad_Prefix/name", ["prefix part " + DNS1123_SUBDOMAIN]),
        ("prefix/", ["name part must be non-empty", QUALIFIED]),
        (
            "a/b/c",
            [
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
                "and '/' (e.g. 'example.com/MyName')"
            ],
        ),
    ],
)
def test_qualified_name(value, messages):
    assert qualified_name(value) == messages


@pytest.mark.parametrize(
    ("configuration", "generation", "name"),
    [
        ("helloworld-go", 1, "helloworld-go-00001"),
        ("x", 2, "x-00002"),
        ("x", 100000, "x-100000"),
        ("a" * 57, 1, "a" * 57 + "-00001"),
    ],
)
def test_revision_name(configuration, generation, name):
    assert revision_name(configuration, generation) == name


@pytest.mark.parametrize("length", [58, 60, 63])
def test_long_revision_names_are_hashed_to_exactly_63_characters(length):
    parent = "s" * (length - 1) + "x"
    name = revision_name(parent, 1)
    digest = hashlib.md5(parent.encode(), usedforsecurity=False).hexdigest()
    assert name == parent[:25] + digest + "-00001"
    assert len(name) == 63


def test_child_name_known_value():
    # Regression value: md5("a" * 60) = cc7ed669cf88f201c3297c6a91e1d18d.
    assert child_name("a" * 60, "-00001") == "a" * 25 + "cc7ed669cf88f201c3297c6a91e1d18d-00001"


def test_child_name_with_a_suffix_longer_than_31_hashes_everything():
    parent, suffix = "p" * 40, "-" + "b" * 40
    name = child_name(parent, suffix)
    digest = hashlib.md5((parent + suffix).encode(), usedforsecurity=False).hexdigest()
    assert name == "p" * 31 + digest
    # One character of room is padded from the suffix, a "-", which is then trimmed.
    short_digest = hashlib.md5(("p" * 30 + suffix).encode(), usedforsecurity=False).hexdigest()
    assert child_name("p" * 30, suffix) == "p" * 30 + short_digest
    assert child_name("short", suffix) == "short" + suffix


def test_default_container_names_use_child_name():
    assert child_name("user-container", "-0") == "user-container-0"
