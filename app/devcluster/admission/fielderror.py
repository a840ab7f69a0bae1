"""Validation errors modelled on knative.dev/pkg `apis.FieldError`, rendered with the same text.

A `FieldError` is an immutable collection of diagnostics. Each diagnostic has a message, the
field paths it applies to, optional details and a level. Validators build errors relative to
the value they check and prefix the paths on the way out (`via_field("spec")`), exactly as
Knative's Go validators do, so the rendered text matches the webhook's word for word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR = 0
WARNING = 1

CURRENT_FIELD = ""


@dataclass(frozen=True)
class Diagnostic:
    message: str
    paths: tuple[str, ...]
    details: str = ""
    level: int = ERROR


class FieldError:
    """Zero or more diagnostics; falsy when empty. Every method returns a new value."""

    __slots__ = ("diagnostics",)

    def __init__(
        self,
        message: str = "",
        paths: tuple[str, ...] | list[str] = (),
        details: str = "",
        level: int = ERROR,
    ) -> None:
        # An empty message is never rendered by Knative either, so it is not kept.
        self.diagnostics: tuple[Diagnostic, ...] = (
            (Diagnostic(message, tuple(paths), details, level),) if message else ()
        )

    @classmethod
    def _of(cls, diagnostics: tuple[Diagnostic, ...]) -> FieldError:
        err = cls()
        err.diagnostics = diagnostics
        return err

    def __bool__(self) -> bool:
        return bool(self.diagnostics)

    def __repr__(self) -> str:
        return f"FieldError({self.error()!r})"

    def __str__(self) -> str:
        return self.error()

    def also(self, *others: FieldError | None) -> FieldError:
        collected = list(self.diagnostics)
        for other in others:
            if other:
                collected.extend(other.diagnostics)
        return FieldError._of(tuple(collected))

    def via_field(self, *prefix: str) -> FieldError:
        return FieldError._of(
            tuple(
                Diagnostic(d.message, tuple(_flatten([*prefix, p]) for p in d.paths), d.details, d.level)
                for d in self.diagnostics
            )
        )

    def via_index(self, index: int) -> FieldError:
        return self.via_field(f"[{index}]")

    def via_field_index(self, field: str, index: int) -> FieldError:
        return self.via_index(index).via_field(field)

    def via_key(self, key: str) -> FieldError:
        return self.via_field(f"[{key}]")

    def via_field_key(self, field: str, key: str) -> FieldError:
        return self.via_key(key).via_field(field)

    def at(self, level: int) -> FieldError:
        return FieldError._of(tuple(Diagnostic(d.message, d.paths, d.details, level) for d in self.diagnostics))

    def filter(self, level: int) -> FieldError:
        return FieldError._of(tuple(d for d in self.diagnostics if d.level == level))

    def merged(self) -> list[Diagnostic]:
        """Diagnostics with equal level, message and details merged, paths and entries sorted."""
        by_key: dict[tuple[int, str, str], list[str]] = {}
        for d in self.diagnostics:
            paths = by_key.setdefault((d.level, d.message, d.details), [])
            paths.extend(p for p in d.paths if p not in paths)
        merged = [Diagnostic(m, tuple(sorted(p)), dt, lv) for (lv, m, dt), p in by_key.items()]
        return sorted(merged, key=lambda d: (d.message, d.details, d.level))

    def error(self) -> str:
        lines = []
        for d in self.merged():
            line = f"{d.message}: {', '.join(d.paths)}"
            lines.append(f"{line}\n{d.details}" if d.details else line)
        return "\n".join(lines)


def _is_index(part: str) -> bool:
    return part.startswith("[") and part.endswith("]")


def _flatten(parts: list[str]) -> str:
    # Knative splits every part on "." and glues index parts onto the previous segment.
    out: list[str] = []
    for part in parts:
        for p in part.split("."):
            if p == CURRENT_FIELD:
                continue
            if out and _is_index(p):
                out[-1] += p
            else:
                out.append(p)
    return ".".join(out)


# Constructors with the exact wording of knative.dev/pkg/apis.


def missing_field(*paths: str) -> FieldError:
    return FieldError("missing field(s)", paths)


def disallowed_fields(*paths: str) -> FieldError:
    return FieldError("must not set the field(s)", paths)


def invalid_value(value: Any, path: str, *details: str) -> FieldError:
    return FieldError(f"invalid value: {go_value(value)}", (path,), ", ".join(details))


def out_of_bounds(value: Any, lower: Any, upper: Any, path: str) -> FieldError:
    return FieldError(f"expected {go_value(lower)} <= {go_value(value)} <= {go_value(upper)}", (path,))


def missing_one_of(*paths: str) -> FieldError:
    return FieldError("expected exactly one, got neither", paths)


def multiple_one_of(*paths: str) -> FieldError:
    return FieldError("expected exactly one, got both", paths)


def invalid_key_name(key: str, path: str, *details: str) -> FieldError:
    return FieldError(f"invalid key name {go_quote(key)}", (path,), ", ".join(details))


def generic(message: str, *paths: str) -> FieldError:
    return FieldError(message, paths)


# Go's fmt verbs, as far as the messages need them.


def go_value(value: Any) -> str:
    """Go's `%v` for the JSON values validators print."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    return str(value)


def go_float(value: float) -> str:
    """Go's `%v`/`%g` for a float64: the shortest representation, no trailing `.0`."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = exponent[0] if exponent[0] in "+-" else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return text


def go_quote(text: str) -> str:
    """Go's `%q` (strconv.Quote): double quotes, backslash escapes, printable Unicode kept."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_SHORT_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
