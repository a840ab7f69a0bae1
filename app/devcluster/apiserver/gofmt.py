"""Go's `%q` and `%v` of strings and string lists, as kube-apiserver's messages print them."""

from __future__ import annotations

from collections.abc import Iterable

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
            "\\": "\\\\", '"': '\\"'}


def quote(text: str) -> str:
    """strconv.Quote: printable runes kept, the rest escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def quote_list(items: Iterable[str]) -> str:
    """`%q` of a []string: `["a" "b"]`."""
    return "[" + " ".join(quote(item) for item in items) + "]"


def plain_list(items: Iterable[str]) -> str:
    """`%v` of a []string: `[a b]`."""
    return "[" + " ".join(items) + "]"
