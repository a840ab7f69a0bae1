"""Label and field selectors, parsed with the grammar of apimachinery's `labels.Parse` and `fields.Parse`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.devcluster.apiserver.errors import ApiError, bad_request

_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number, bound = int(value or ""), int(self.values[0])
        except ValueError:
            return False
        return number > bound if self.op == "gt" else number < bound


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in self.requirements)


_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")


def _invalid_label(text: str, why: str) -> ApiError:
    return bad_request(f"unable to parse requirement: {why}" if text else why)


def _check_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _PREFIX.match(prefix)):
        raise _invalid_label(key, f'values[0][{key}]: Invalid value: "{key}": prefix part must be a DNS-1123 subdomain')
    if not name or len(name) > 63 or not _NAME.match(name):
        raise _invalid_label(
            key,
            f'key: Invalid value: "{key}": name part must consist of alphanumeric characters, \'-\', \'_\' or '
            "'.', and must start and end with an alphanumeric character",
        )


def _check_value(key: str, value: str) -> None:
    if len(value) > 63 or not _VALUE.match(value):
        raise _invalid_label(
            value,
            f'values[0][{key}]: Invalid value: "{value}": a valid label must be an empty string or consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        )


def parse_label_selector(text: str | None) -> LabelSelector:
    if not text or not text.strip():
        return LabelSelector()
    return _LabelParser(text).parse()


_OPERATORS = ("=", "==", "!=", "(", ")", ",", ">", "<")


class _LabelParser:
    """apimachinery's labels.Parser: comma-separated requirements, each `!key`, `key`, or `key <op> <values>`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = [m.group(1) for m in _TOKEN.finditer(text)]
        self.pos = 0

    def take(self) -> str:
        if self.pos >= len(self.tokens):
            raise bad_request(f"unable to parse requirement: found '', expected: identifier in '{self.text}'")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> LabelSelector:
        requirements: list[Requirement] = []
        while self.pos < len(self.tokens):
            requirements.append(self.requirement())
            nxt = self.peek()
            if nxt is not None:
                if nxt != ",":
                    raise bad_request(f"unable to parse requirement: found '{nxt}', expected: ',' or 'end of string'")
                self.take()
                if self.peek() is None:
                    raise bad_request("unable to parse requirement: found '', expected: identifier")
        return LabelSelector(tuple(requirements))

    def requirement(self) -> Requirement:
        token = self.take()
        if token == "!":
            key = self.take()
            _check_key(key)
            return Requirement(key, "!")
        if token in _OPERATORS:
            raise bad_request(f"unable to parse requirement: found '{token}', expected: identifier")
        key = token
        _check_key(key)
        nxt = self.peek()
        if nxt is None or nxt == ",":
            return Requirement(key, "exists")
        if nxt in ("=", "==", "!="):
            return self.equality(key, nxt)
        if nxt in (">", "<"):
            return self.comparison(key, nxt)
        if nxt in ("in", "notin"):
            return self.set_of(key, nxt)
        raise bad_request(f"unable to parse requirement: found '{nxt}', expected: in, notin, =, ==, !=, gt, lt")

    def equality(self, key: str, op: str) -> Requirement:
        self.take()
        value = self.peek()
        if value is None or value == ",":
            value = ""
        else:
            value = self.take()
            if value in (*_OPERATORS[:5], "!", ">", "<"):
                raise bad_request(f"unable to parse requirement: found '{value}', expected: identifier")
        _check_value(key, value)
        return Requirement(key, "!=" if op == "!=" else "=", (value,))

    def comparison(self, key: str, op: str) -> Requirement:
        self.take()
        value = self.take()
        if not re.fullmatch(r"-?\d+", value):
            raise bad_request("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer")
        return Requirement(key, "gt" if op == ">" else "lt", (value,))

    def set_of(self, key: str, op: str) -> Requirement:
        self.take()
        if self.take() != "(":
            raise bad_request("unable to parse requirement: found '', expected: '('")
        values: list[str] = []
        while True:
            item = self.take()
            if item == ")":
                break
            if item == ",":
                continue
            _check_value(key, item)
            values.append(item)
        return Requirement(key, op, tuple(values))


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[tuple[str, str, str], ...] = ()  # (field, op, value)

    def matches(self, obj: dict[str, Any], getter: Callable[[dict[str, Any], str], str]) -> bool:
        for name, op, value in self.terms:
            actual = getter(obj, name)
            if (actual == value) != (op == "="):
                return False
        return True

    def value_of(self, name: str) -> str | None:
        """The value a term requires with `=`, if any: lets a list skip a scan."""
        return next((v for f, op, v in self.terms if f == name and op == "="), None)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _split_term(part: str) -> tuple[str, str, str] | None:
    for token, op in (("!=", "!="), ("==", "="), ("=", "=")):
        index = part.find(token)
        if index > 0:
            return part[:index].strip(), op, part[index + len(token):]
    return None


def parse_field_selector(text: str | None, allowed: tuple[str, ...]) -> FieldSelector:
    if not text or not text.strip():
        return FieldSelector()
    terms: list[tuple[str, str, str]] = []
    for part in _split_unescaped(text, ","):
        if not part:
            continue
        term = _split_term(part)
        if term is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        name, op, value = term
        if name not in allowed:
            raise bad_request(f"field label not supported: {name}")
        terms.append((name, op, _unescape(value)))
    return FieldSelector(tuple(terms))


def field_value(obj: dict[str, Any], name: str) -> str:
    """The string value of a dotted field path, "" when absent (as fields.Set does)."""
    current: Any = obj
    for part in name.split("."):
        if not isinstance(current, dict):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, dict):
        # Events: `source` selects on source.component.
        return str(current.get("component", ""))
    return str(current)
