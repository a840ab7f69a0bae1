"""The audit log (kube-apiserver's `--audit-log-path`, at level Metadata): one `audit.k8s.io/v1` Event a line for
each request once answered, with who asked, what for, the authorization decision and the response code. It is
how a cluster admin sees who changed what; the suite reads it to check that a role holds exactly what the
console's calls need."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from app.devcluster.apiserver.rbac import Attributes


def _micro(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.out: IO[str] = open(path, "a", buffering=1)  # noqa: SIM115 - open for the server's life; line buffered

    def record(self, attrs: Attributes, method: str, uri: str, code: int, received: datetime, source: str,
               user_agent: str, decision: str, reason: str, stage: str = "ResponseComplete") -> None:
        """One event; a watch also gets one at ResponseStarted, as kube-apiserver logs long-running requests."""
        user = attrs.user
        event: dict[str, Any] = {
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": str(uuid.uuid4()),
            "stage": stage, "requestURI": uri, "verb": attrs.verb,
            "user": {"username": user.name, **({"uid": user.uid} if user.uid else {}),
                     "groups": list(user.groups)},
            "sourceIPs": [source], "userAgent": user_agent,
        }
        if attrs.resource_request:
            ref = {"resource": attrs.resource, "namespace": attrs.namespace, "name": attrs.name,
                   "apiGroup": attrs.api_group, "apiVersion": attrs.api_version, "subresource": attrs.subresource}
            event["objectRef"] = {key: value for key, value in ref.items() if value}
        event["responseStatus"] = {"metadata": {}, "code": code}
        event["requestReceivedTimestamp"] = _micro(received)
        event["stageTimestamp"] = _micro(datetime.now(UTC))
        if decision:
            event["annotations"] = {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": reason}
        self.out.write(json.dumps(event, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self.out.close()
