"""Image reference parsing as go-containerregistry's `name.ParseReference(s, name.WeakValidation)`.

Knative only reports whether the reference parses; the error text is always
`could not parse reference: <image>`.
"""

from __future__ import annotations

import string

DEFAULT_REGISTRY = "index.docker.io"

_TAG_CHARS = frozenset(string.ascii_letters + string.digits + "_-.")
_REPOSITORY_CHARS = frozenset(string.ascii_lowercase + string.digits + "_-./")
_DIGEST_CHARS = frozenset("sh:0123456789abcdef")
# Characters Go's url.Parse accepts unescaped in a host (plus non-ASCII).
_HOST_CHARS = frozenset(string.ascii_letters + string.digits + "-_.~!$&'()*+,;=:[]<>\"")


def parse_error(image: str) -> str | None:
    """The go-containerregistry error text for an unparseable reference, or None when it parses."""
    if _is_tag(image) or _is_digest(image):
        return None
    return f"could not parse reference: {image}"


def _check(element: str, allowed: frozenset[str], low: int, high: int) -> bool:
    return low <= len(element) <= high and all(ch in allowed for ch in element)


def _split_tag(name: str) -> tuple[str, str]:
    parts = name.split(":")
    # A last part containing "/" is a registry port, not a tag.
    if len(parts) > 1 and "/" not in parts[-1]:
        return ":".join(parts[:-1]), parts[-1]
    return name, ""


def _is_tag(name: str) -> bool:
    base, tag = _split_tag(name)
    if tag and not _check(tag, _TAG_CHARS, 1, 127):
        return False
    return _repository(base) is not None


def _is_digest(name: str) -> bool:
    parts = name.split("@")
    if len(parts) != 2:
        return False
    base, digest = parts
    if not _check(digest, _DIGEST_CHARS, 7 + 64, 7 + 64):
        return False
    if _is_tag(base):
        base = _repository(_split_tag(base)[0]) or base
    return _repository(base) is not None


def _repository(name: str) -> str | None:
    """The full repository name, or None when NewRepository would fail."""
    if not name:
        return None
    registry, repo = "", name
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first):
        registry, repo = first, rest
    if not _check(repo, _REPOSITORY_CHARS, 2, 255):
        return None
    if not _valid_registry(registry):
        return None
    registry = registry or DEFAULT_REGISTRY
    if registry == "docker.io":
        registry = DEFAULT_REGISTRY
    if "/" not in repo and registry == DEFAULT_REGISTRY:
        repo = "library/" + repo
        if not _check(repo, _REPOSITORY_CHARS, 2, 255):
            return None
    return f"{registry}/{repo}"


def _valid_registry(registry: str) -> bool:
    """Whether url.Parse("//" + registry) gives back exactly that host."""
    if not registry:
        return True
    if any(ch in "/?#@%" for ch in registry):
        return False
    if any(ord(ch) < 0x80 and ch not in _HOST_CHARS for ch in registry):
        return False
    if registry.startswith("["):
        end = registry.find("]")
        if end < 0:
            return False
        port = registry[end + 1 :]
        return port in ("", ":") or (port.startswith(":") and port[1:].isascii() and port[1:].isdigit())
    if ":" in registry:
        port = registry[registry.rfind(":") + 1 :]
        return port == "" or (port.isascii() and port.isdigit())
    return True
