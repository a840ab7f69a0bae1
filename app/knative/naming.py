"""Names as Knative checks them: Services, tags and revisions are DNS-1035 labels."""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def dns1035_problem(value: str, what: str) -> str:
    """What is wrong with `value` as a DNS-1035 label, said so that the user can fix it; "" when fine."""
    if not value:
        return f"Enter a {what}."
    if len(value) > MAX_NAME:
        return f"Use at most {MAX_NAME} characters; this {what} has {len(value)}."
    if not _DNS1035.match(value):
        return (f"Use lowercase letters, digits and '-' in a {what}; start with a letter and end with a letter or "
                "digit (for example helloworld-go).")
    return ""


def revision_name(service: str, generation: int) -> str:
    """The name Knative gives a Configuration's Nth revision (`<name>-%05d`, hashed when too long)."""
    suffix = f"-{generation:05d}"
    if len(service) + len(suffix) <= MAX_NAME:
        return service + suffix
    # knative.dev/pkg kmeta.ChildName: keep a prefix, then the MD5 of the Service's name, then the suffix.
    digest = hashlib.md5(service.encode(), usedforsecurity=False).hexdigest()
    return service[: MAX_NAME - len(digest) - len(suffix)] + digest + suffix


def short_name(revision: str, service: str) -> str:
    """`00002` for `helloworld-go-00002`: how the list names revisions."""
    return revision[len(service) + 1:] if revision.startswith(f"{service}-") else revision
