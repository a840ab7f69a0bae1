"""Finding Services in the list: a filter over name, image and labels, and sorting by a column.

The filter is words separated by spaces, all of which must match. `key=value` and `key!=value` are label
requirements, as in a label selector; any other word matches part of the name, the image, or a label's key or
value (ignoring case). The label requirements also go to the API server as a `labelSelector`, so that it sends
fewer Services; the console applies every word itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.knative.models import FAILED, IN_PROGRESS, SUCCESS, service_from

MAX_FILTER = 500
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


class FilterError(Exception):
    """A filter that cannot be applied; the message says how to write it."""


@dataclass(frozen=True)
class Label:
    key: str
    equal: bool
    value: str

    @property
    def selector(self) -> str:
        return f"{self.key}{'=' if self.equal else '!='}{self.value}"


@dataclass(frozen=True)
class Filter:
    words: tuple[str, ...] = ()
    labels: tuple[Label, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.words and not self.labels

    @property
    def label_selector(self) -> str:
        return ",".join(label.selector for label in self.labels)


def label_key_problem(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _PREFIX.match(prefix)):
        return f'"{key[:80]}" has no valid prefix before "/" (a DNS name such as example.com).'
    if not _NAME.match(name):
        return (f'"{key[:80]}" is not a label key: use at most 63 letters, digits, "-", "_" or ".", starting and '
                "ending with a letter or digit.")
    return ""


def parse_filter(text: str) -> Filter:
    """The filter as typed; FilterError says what to change."""
    if len(text) > MAX_FILTER:
        raise FilterError(f"The filter is {len(text):,} characters long; use at most {MAX_FILTER}.")
    words, labels = [], []
    for term in text.split():
        if "=" not in term:
            words.append(term.casefold())
            continue
        equal = "!=" not in term
        key, value = term.split("=", 1) if equal else term.split("!=", 1)
        if equal and value.startswith("="):  # key==value, as selectors allow
            value = value[1:]
        problem = label_key_problem(key) if key else f'"{term[:80]}" has no label key before "=": write key=value.'
        if problem:
            raise FilterError(problem)
        if not _VALUE.match(value):
            raise FilterError(f'"{value[:80]}" is not a label value: use at most 63 letters, digits, "-", "_" or '
                              '".", starting and ending with a letter or digit (or nothing).')
        labels.append(Label(key, equal, value))
    return Filter(tuple(words), tuple(labels))


def _texts(obj: dict[str, Any]) -> list[str]:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    containers = ((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
    images = [str(c.get("image") or "") for c in containers if isinstance(c, dict)]
    pairs = [str(part) for pair in labels.items() for part in pair] if isinstance(labels, dict) else []
    return [str(meta.get("name") or "").casefold(), *(i.casefold() for i in images), *(p.casefold() for p in pairs)]


def matches(found: Filter, obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    labels = labels if isinstance(labels, dict) else {}
    for label in found.labels:
        present = label.key in labels and str(labels[label.key]) == label.value
        if present != label.equal:
            return False
    texts = _texts(obj) if found.words else []
    return all(any(word in text for text in texts) for word in found.words)


# -- sorting --------------------------------------------------------------------------------------

_STATUS_ORDER = {FAILED: 0, IN_PROGRESS: 1, SUCCESS: 2}


def _meta(obj: dict[str, Any], key: str) -> str:
    return str((obj.get("metadata") or {}).get(key) or "")


SORTS: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "name": ("Name", lambda o: (_meta(o, "name"), _meta(o, "namespace"))),
    "namespace": ("Namespace", lambda o: (_meta(o, "namespace"), _meta(o, "name"))),
    "status": ("Status", lambda o: (_STATUS_ORDER.get(service_from(o).status.label, 3), _meta(o, "name"))),
    "domain": ("Default Domain", lambda o: (service_from(o).default_domain, _meta(o, "name"))),
    "latest": ("Latest Revision", lambda o: (service_from(o).latest_ready or service_from(o).latest_created,
                                             _meta(o, "name"))),
    "created": ("Created", lambda o: (_meta(o, "creationTimestamp"), _meta(o, "name"))),
}
DEFAULT_SORT = "name"


@dataclass(frozen=True)
class Sort:
    key: str = DEFAULT_SORT
    descending: bool = False

    @property
    def text(self) -> str:
        return ("-" if self.descending else "") + self.key

    def toggled(self, key: str) -> Sort:
        """The sort a column heading links to: this column ascending, or the other way if it is this one."""
        return Sort(key, not self.descending if key == self.key else False)


def parse_sort(text: str) -> Sort:
    """`created`, `-created`; anything else is the default (sorting by name), since it only comes from links."""
    key = text.removeprefix("-")
    return Sort(key, text.startswith("-")) if key in SORTS else Sort()


def sort_services(items: Sequence[dict[str, Any]], order: Sort) -> list[dict[str, Any]]:
    return sorted(items, key=SORTS[order.key][1], reverse=order.descending)
