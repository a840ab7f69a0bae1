"""Read your own writes: what this browser's recent writes to Services require of a watch-fed cache before it may
answer for their namespace (app.web.informer), kept in a cookie so that it holds whichever replica of the console
answers next.

Kubernetes' consistent reads from cache (KEP-2340) wait until the cache has reached the revision a read must see;
here the page asks for the newest resourceVersion its user's writes in the namespace answered with (a create or
patch answers with the object), and, for a Service they deleted, that the cache no longer holds it by its uid: a
delete of a custom resource answers with a Status that carries no resourceVersion (kube-apiserver's
`finalizeDelete`: name, group, kind and uid only). A cache that has not caught up is not used: the page lists.

The cookie is not a secret and needs no signature: a value someone makes up can only make their own pages list.
Each entry is `namespace.version` or `namespace.name.uid` (namespaces and Service names hold no dots), joined by
`_`; the newest MAX_ENTRIES are kept, for MAX_AGE seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.responses import Response

from app.cluster.versions import Version, comparable
from app.web.auth import secure

COOKIE = "kc_written"
MAX_ENTRIES = 12
MAX_AGE = 600  # seconds; a cache still behind a write after this long is one whose watch is broken (not fresh)
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_UID = re.compile(r"[0-9A-Za-z-]{1,64}")


@dataclass(frozen=True)
class Writes:
    """This browser's recent writes: (namespace, resourceVersion) and (namespace, name, uid) of deletes."""

    versions: tuple[tuple[str, str], ...] = ()
    deleted: tuple[tuple[str, str, str], ...] = ()

    def floor(self, namespace: str) -> Version | None:
        """The newest resourceVersion a write in `namespace` answered with."""
        found = [v for ns, text in self.versions if ns == namespace and (v := comparable(text)) is not None]
        return max(found) if found else None

    def gone(self, namespace: str) -> list[tuple[str, str]]:
        """(name, uid) of the Services deleted in `namespace`."""
        return [(name, uid) for ns, name, uid in self.deleted if ns == namespace]


def _entries(text: str) -> list[str]:
    """The cookie's well-formed entries, oldest first."""
    return [entry for entry in text[:4096].split("_")[-MAX_ENTRIES:] if _well_formed(entry.split("."))]


def _well_formed(parts: list[str]) -> bool:
    if len(parts) == 2:
        return bool(_LABEL.fullmatch(parts[0])) and comparable(parts[1]) is not None
    return len(parts) == 3 and all((_LABEL.fullmatch(parts[0]), _LABEL.fullmatch(parts[1]), _UID.fullmatch(parts[2])))


def parse(text: str) -> Writes:
    """The cookie's value; entries that are not well formed are left out."""
    parts = [entry.split(".") for entry in _entries(text)]
    return Writes(tuple((p[0], p[1]) for p in parts if len(p) == 2),
                  tuple((p[0], p[1], p[2]) for p in parts if len(p) == 3))


def of(request: Request) -> Writes:
    return parse(request.cookies.get(COOKIE, ""))


def remember(request: Request, response: Response, namespace: str, answer: dict[str, Any]) -> Response:
    """`response`, with the cookie now also holding what a write to a Service in `namespace` answered: the object
    (its resourceVersion), or a delete's Status (the name and uid it deleted)."""
    entry = _entry(namespace, answer)
    if entry is None:
        return response
    before = request.cookies.get(COOKIE, "")
    entries = [e for e in _entries(before) if e != entry]
    if entry.count(".") == 1:  # one version a namespace: the newest stands for every write before it there
        newest = max(v for v in (parse(before).floor(namespace), comparable(entry.split(".")[1])) if v is not None)
        entries = [e for e in entries if not (e.count(".") == 1 and e.split(".")[0] == namespace)]
        entry = f"{namespace}.{newest[1]}"
    value = "_".join([*entries, entry][-MAX_ENTRIES:])
    parts = [f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={MAX_AGE}"]
    if secure(request):
        parts.append("Secure")
    response.headers.append("set-cookie", "; ".join(parts))
    return response


def _entry(namespace: str, answer: dict[str, Any]) -> str | None:
    if not _LABEL.fullmatch(namespace):
        return None
    if answer.get("kind") == "Status":
        details = answer.get("details") or {}
        name, uid = str(details.get("name") or ""), str(details.get("uid") or "")
        return f"{namespace}.{name}.{uid}" if _LABEL.fullmatch(name) and _UID.fullmatch(uid) else None
    text = (answer.get("metadata") or {}).get("resourceVersion")
    return f"{namespace}.{text}" if comparable(text) is not None else None
