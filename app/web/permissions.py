"""What the acting user may do to Services in a namespace, asked of the cluster (SelfSubjectAccessReview) and kept a
short while per user: pages offer Create, Create Revision, Split Traffic, promote / roll back and Delete enabled only
when it allows them, and a revision's Logs only when the user may list its pods and read their logs, and say why not
otherwise. The cluster's RBAC still decides every write; this only spares a
user a form they could not send. Every sentence about a refusal is written here."""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from app.cluster import resources as r
from app.cluster.errors import ClusterError, Forbidden, Unreachable
from app.web.auth import Principal

TTL = 30.0  # seconds an answer is kept
CAPACITY = 4096  # (identity, namespace) answers kept
ROLE_FOR = {"get": "view", "list": "view", "watch": "view"}  # the default role that grants each verb; else edit
_DENIED = re.compile(r'User "(?P<user>(?:[^"\\]|\\.)*)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]+)"'
                     r'(?: in API group "[^"]*")?(?: in the namespace "(?P<namespace>[^"]*)")?')
_KINDS = {"services": "Services", "revisions": "Revisions", "namespaces": "namespaces", "configmaps": "ConfigMaps",
          "events": "Events", "pods": "Pods", "pods/log": "the logs of Pods"}


def refusal(user: str, verb: str, resource: str, namespace: str) -> str:
    """ "bob may not patch Services in default: ask for the edit role"; `resource` may name a subresource
    (pods/log)."""
    kind = _KINDS.get(resource, resource)
    where = f" in {namespace}" if namespace else ""
    return f"{user} may not {verb} {kind}{where}: ask for the {ROLE_FOR.get(verb, 'edit')} role"


def forbidden_text(error: Forbidden, user: str = "") -> str:
    """A 403 from the cluster, said plainly (of `user`, or else of the user it names); the cluster's own message when
    it is not one RBAC wrote."""
    found = _DENIED.search(error.message)
    if found is None:
        return error.message
    resource = found["resource"]
    return refusal(user or found["user"], found["verb"], resource if resource in _KINDS else resource.split("/")[0],
                   found["namespace"] or "") + "."


def plainly(error: ClusterError, user: str) -> str:
    """What a read the cluster refused says to the user: a 403 in plain words, anything else in the cluster's."""
    return forbidden_text(error, user) if isinstance(error, Forbidden) else error.message


@dataclass(frozen=True)
class Allowed:
    """For each action on Services in one namespace: "" when allowed, else why not."""

    create: str = ""
    patch: str = ""
    delete: str = ""
    logs: str = ""  # a revision's instances and logs: listing its pods and reading their logs

    @property
    def read_only(self) -> bool:
        return bool(self.create and self.patch and self.delete)


EVERYTHING = Allowed()


@dataclass
class Permissions:
    known: OrderedDict[tuple[str, str], tuple[Allowed, float]] = field(default_factory=OrderedDict)

    async def services(self, who: Principal, namespace: str) -> Allowed:
        key = (who.key, namespace)
        hit = self.known.get(key)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            self.known.move_to_end(key)
            return hit[0]
        allowed = await self._ask(who, namespace)
        self.known[key] = (allowed, now + TTL)
        while len(self.known) > CAPACITY:
            self.known.popitem(last=False)
        return allowed

    @staticmethod
    async def _ask(who: Principal, namespace: str) -> Allowed:
        async def reason(verb: str, resource: r.Resource = r.SERVICE, subresource: str = "") -> str:
            try:
                allowed, _ = await who.cluster.can_i(verb, resource, namespace, subresource=subresource)
            except Unreachable:
                raise
            except ClusterError:
                return ""  # the cluster would not say (an old cluster, no self-reviews): its RBAC decides the call
            named = f"{resource.plural}/{subresource}" if subresource else resource.plural
            return "" if allowed else refusal(who.name, verb, named, namespace)

        create, patch, delete, pods, logs = await asyncio.gather(
            reason("create"), reason("patch"), reason("delete"), reason("list", r.POD), reason("get", r.POD, "log"))
        return Allowed(create, patch, delete, pods or logs)
