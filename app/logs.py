"""Log lines as text or as JSON, carrying the current request's id, route, status, duration and user.

The request's fields live in a context variable that app.access sets for each request, so every line
logged while a request is handled carries them, not only the access line. Nothing here logs headers,
cookies or query strings; bearer tokens in a message are masked all the same, as a second line of defence.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
FIELDS = ("request_id", "method", "path", "route", "status", "duration_ms", "user")
_IN_ACCESS_LINE = ("method", "path", "status", "duration_ms")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")

_request: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("knative_console_request",
                                                                                  default=None)


def bind(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Add fields to every line logged in this context (this request); `unbind` with the token when done."""
    return _request.set({**(_request.get() or {}), **fields})


def unbind(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _request.reset(token)


def redact(text: str) -> str:
    return _BEARER.sub(r"\1[redacted]", text)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The request fields of a line: those passed with `extra=` win over the context's."""
    values = dict(_request.get() or {})
    values.update({key: getattr(record, key) for key in FIELDS if hasattr(record, key)})
    return {key: values[key] for key in FIELDS if values.get(key) not in (None, "")}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, RFC 3339), level, logger, message and the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger message key=value…`, for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        # The access line's message already says method, path, status and duration.
        extra = " ".join(f"{key}={value}" for key, value in _fields(record).items() if key not in _IN_ACCESS_LINE)
        return f"{line} {extra}" if extra else line


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Send every logger's lines (uvicorn's too) to stderr in `log_format`: text or json."""
    if log_format not in FORMATS:
        raise ValueError(f"the log format must be text or json, not {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
