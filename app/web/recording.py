"""The console's record of each change it makes: who makes it, the history entry written in the same PATCH as the
change (app.knative.history), and the Event on the Service, written once the answer has been sent."""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import ClusterError
from app.knative import history
from app.knative.basis import Basis
from app.knative.history import Entry
from app.knative.models import TrafficTarget
from app.web.context import acting, cluster, now

log = logging.getLogger("knative_console.web")
INSTANCE = socket.gethostname()  # the Events' reportingInstance: which replica wrote them


@dataclass
class Change:
    """One change on its way: its history entry is made again from whatever each write attempt starts from."""

    action: str
    by: str
    after: tuple[TrafficTarget, ...]
    ident: str
    at: str
    template_changes: bool = False
    revision: str = ""
    restored: str = ""
    entry: Entry | None = None  # as last written

    def history_for(self, base: Basis) -> str:
        """The history annotation's new value for a write that starts from `base`."""
        self.entry = history.make_entry(self.ident, self.at, self.by, self.action, base.generation,
                                        base.spec_traffic(), self.after, self.template_changes, self.revision,
                                        self.restored)
        return history.record(base.history, self.entry)


async def actor(request: Request) -> str:
    """Who makes this request's change, by the name the cluster knows them by (app.web.auth): the signed-in user,
    or in kubeconfig mode the console's own user, once the cluster has said who that is."""
    who = acting(request)
    if who.via == "kubeconfig":
        return await request.app.state.own_identity.confirmed()  # type: ignore[no-any-return]
    return who.name


async def change(request: Request, action: str, after: Sequence[TrafficTarget], *, template_changes: bool = False,
                 revision: str = "", restored: str = "") -> Change:
    """A change made by this request's user, as the history and the Events give it."""
    return Change(action, await actor(request), tuple(after), secrets.token_hex(8), now(), template_changes,
                  revision, restored)


def with_event(request: Request, response: Response, service: dict[str, Any], made: Change, what: str = "") -> Response:
    """`response`, with the Event recording `made` written after it has been sent (a failure is logged: the change
    itself is made and in the history)."""
    if made.entry is not None:
        client = cluster(request)
        name = str((service.get("metadata") or {}).get("name") or "")
        message = history.event_message(made.entry, name, what)
        response.background = BackgroundTask(write_event, client, service, made.entry, message)
    return response


async def write_event(client: Cluster, service: dict[str, Any], entry: Entry, message: str) -> None:
    namespace = str((service.get("metadata") or {}).get("namespace") or "")
    try:
        await client.create(r.EVENT, history.event(service, entry, message, INSTANCE), namespace)
    except ClusterError as error:
        log.warning("could not record the Event %s on %s/%s: %s", history.ACTIONS[entry.action].reason, namespace,
                    (service.get("metadata") or {}).get("name"), error.message)
