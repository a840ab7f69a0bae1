"""The Host header check that keeps a DNS-rebinding page off the server: only the names it is reached by pass."""

from __future__ import annotations

import re
from collections.abc import Iterable

_PORT = re.compile(r"^[0-9]{1,5}$")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def hostname(host: str) -> str | None:
    """The Host header's name, lower-case, without port or final dot; None when it is not a host[:port]."""
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, rest = host.partition("]")
        if not bracket or (rest and not (rest.startswith(":") and _PORT.match(rest[1:]))):
            return None
        return name + bracket
    name, colon, port = host.partition(":")
    if colon and not _PORT.match(port):
        return None
    return name.rstrip(".")


def bracketed(address: str) -> str:
    """An address as it appears in a Host header: IPv6 in brackets."""
    address = address.strip().lower()
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def own_names(*addresses: str) -> frozenset[str]:
    """The names a server bound to `addresses` answers to: those, and loopback's."""
    return frozenset(bracketed(a).rstrip(".") for a in (*addresses, *LOOPBACK_NAMES) if a)


def refusal(host: str, allowed: Iterable[str]) -> str:
    names = ", ".join(sorted(allowed))
    return (
        f'the Host header "{host}" is not an address of this server: reach it as one of {names}, or start the '
        "dev cluster with --advertise-host set to the name you use"
    )
