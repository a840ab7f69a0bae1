"""Which Host a request names: a Knative route's (and which tag), the gateway's own address, or a stranger.

A Route answers on `<route>.<namespace>` with the cluster-local suffixes, on its status URL's host,
and, per tag, on `<tag>-<route>.<namespace>` and the tag's URL host. A route's own name outranks
another route's tag host that happens to spell the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CLUSTER_SUFFIXES = (".svc.cluster.local", ".svc", "")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Target:
    namespace: str
    route: str
    tag: str  # "" for the route's own host
    public: bool = False  # served by the external gateway too; cluster-local hosts only by the internal one


class HostIndex:
    def __init__(self) -> None:
        self._hosts: dict[str, Target] = {}
        self._route_hosts: dict[tuple[str, str], list[str]] = {}

    def find(self, name: str) -> Target | None:
        return self._hosts.get(name)

    def remove(self, namespace: str, route: str) -> None:
        for host in self._route_hosts.pop((namespace, route), []):
            found = self._hosts.get(host)
            if found is not None and (found.namespace, found.route) == (namespace, route):
                del self._hosts[host]

    def add(self, route: dict[str, Any]) -> None:
        namespace, name = route["metadata"]["namespace"], route["metadata"]["name"]
        self.remove(namespace, name)
        status = route.get("status") or {}
        hosts: dict[str, tuple[str, bool]] = {}
        for suffix in CLUSTER_SUFFIXES:
            hosts[f"{name}.{namespace}{suffix}"] = ("", False)
        if status.get("url"):
            hosts[host_of(status["url"])] = ("", is_public(host_of(status["url"])))
        for target in status.get("traffic") or []:
            tag = target.get("tag")
            if tag:
                for suffix in CLUSTER_SUFFIXES:
                    hosts[f"{tag}-{name}.{namespace}{suffix}"] = (tag, False)
                if target.get("url"):
                    hosts[host_of(target["url"])] = (tag, is_public(host_of(target["url"])))
        for host, (tag, public) in hosts.items():
            taken = self._hosts.get(host)
            if tag and taken is not None and not taken.tag and (taken.namespace, taken.route) != (namespace, name):
                continue
            self._hosts[host] = Target(namespace, name, tag, public)
        self._route_hosts[(namespace, name)] = list(hosts)


def knative_shaped(name: str, domains: set[str]) -> bool:
    """Whether a host has a form Knative routes are served on: `*.<domain>`, cluster-local, or `<svc>.<ns>`."""
    if any(name.endswith(f".{domain}") for domain in domains) or name.endswith((".svc.cluster.local", ".svc")):
        return True
    labels = name.split(".")
    return len(labels) == 2 and all(_LABEL.match(label) for label in labels)


def is_public(host: str) -> bool:
    """Whether a route's URL host is an external one (a cluster-local route's URL is `*.svc.cluster.local`)."""
    return not host.endswith(CLUSTER_SUFFIXES[0])


def host_of(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
