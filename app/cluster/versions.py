"""resourceVersions compared as Kubernetes lets clients compare them: KEP-5504 (Comparable Resource Version, stable
in 1.35; apimachinery's `resourceversion.CompareResourceVersion`). A resourceVersion is comparable when it is a
positive decimal integer without leading zeros, of any length, and two of the same resource compare as those
integers. etcd's revision (kube-apiserver) and the dev cluster's counter both are. Anything else is not comparable:
a cache that meets one vouches for nothing, and its readers ask the API server instead."""

from __future__ import annotations

Version = tuple[int, str]  # (digits, the digits): orders as the integer does, however long


def comparable(text: object) -> Version | None:
    """`text` as a Version, or None when it is not a comparable resourceVersion."""
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or text.startswith("0"):
        return None
    return len(text), text
