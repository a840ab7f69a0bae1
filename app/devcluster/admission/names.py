"""Kubernetes name checks with apimachinery's exact messages, and Knative's child names.

The check functions return the list of messages apimachinery's `pkg/util/validation` returns
(empty when the value is valid); Knative prints that list with Go's `%v`, e.g.
`[must be no more than 63 characters]`.
"""

from __future__ import annotations

import hashlib
import re

DNS1035_LABEL_MAX = 63
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
QUALIFIED_NAME_MAX = 63

_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError, including its two spaces before each ` or`."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _byte_len(value: str) -> int:
    # Go's len() counts bytes, and so do the length limits.
    return len(value.encode())


def _length_and_format(value: str, limit: int, fmt: str, msg: str, *examples: str) -> list[str]:
    """The two checks every apimachinery name validator makes: its byte length, then its format."""
    errs = []
    if _byte_len(value) > limit:
        errs.append(max_len_error(limit))
    if not re.fullmatch(fmt, value):
        errs.append(regex_error(msg, fmt, *examples))
    return errs


def dns1035_label(value: str) -> list[str]:
    return _length_and_format(value, DNS1035_LABEL_MAX, _DNS1035_LABEL_FMT, _DNS1035_LABEL_MSG, "my-name", "abc-123")


def dns1035_label_prefix(value: str) -> list[str]:
    """NameIsDNS1035Label(value, prefix=true), used for generateName."""
    return dns1035_label(_mask_trailing_dash(value))


def _mask_trailing_dash(name: str) -> str:
    # apimachinery replaces the last two characters, not one; the quirk is kept on purpose.
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def dns1123_label(value: str) -> list[str]:
    return _length_and_format(value, DNS1123_LABEL_MAX, _DNS1123_LABEL_FMT, _DNS1123_LABEL_MSG, "my-name", "123-abc")


def dns1123_subdomain(value: str) -> list[str]:
    return _length_and_format(value, DNS1123_SUBDOMAIN_MAX, _DNS1123_SUBDOMAIN_FMT, _DNS1123_SUBDOMAIN_MSG,
                              "example.com")


def qualified_name(value: str) -> list[str]:
    """IsQualifiedName: `name` or `dns-subdomain-prefix/name`."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif _byte_len(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX))
    if not re.fullmatch(_QUALIFIED_NAME_FMT, name):
        errs.append(
            "name part " + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


_LONGEST = 63
_MD5_LEN = 32
_HEAD = _LONGEST - _MD5_LEN


def child_name(parent: str, suffix: str) -> str:
    """knative.dev/pkg kmeta.ChildName: `parent + suffix`, hashed down to 63 characters if longer."""
    if len(parent) <= _LONGEST - len(suffix):
        return parent + suffix
    if _HEAD - len(suffix) <= 0:
        # The suffix alone leaves no room: hash everything and pad with the suffix's start.
        digest = hashlib.md5((parent + suffix).encode(), usedforsecurity=False).hexdigest()
        name = parent[:_HEAD] + digest
        if (room := _LONGEST - len(name)) > 0:
            name += suffix[:room]
        return name.rstrip("-")
    digest = hashlib.md5(parent.encode(), usedforsecurity=False).hexdigest()
    return parent[: _HEAD - len(suffix)] + digest + suffix


def revision_name(configuration_name: str, generation: int) -> str:
    """The generated revision name, `<configuration>-00001` (section 1.3)."""
    return child_name(configuration_name, f"-{generation:05d}")
