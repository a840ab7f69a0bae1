"""Cluster errors as our own types, built from the server's `Status` (or from the transport)."""

from __future__ import annotations

import json
from typing import Any


class ClusterError(Exception):
    """An error the API server answered with a Status: code, reason and message as it sent them."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}


class NotFound(ClusterError):
    pass


class AlreadyExists(ClusterError):
    pass


class Conflict(ClusterError):
    """Someone else changed the object since the resourceVersion this write carried."""


class Invalid(ClusterError):
    """422 from the API server's own checks (schema, metadata)."""


class Rejected(ClusterError):
    """400, typically an admission webhook's denial (Knative's validation); the message says why."""


class Forbidden(ClusterError):
    pass


class Unauthorized(ClusterError):
    """401: the cluster does not accept these credentials (a token that expired, was revoked, or never was)."""


class Expired(ClusterError):
    """410: the resourceVersion a watch or a continued list asked for is older than the server keeps."""


class KnativeNotInstalled(ClusterError):
    """The serving.knative.dev API group is not served by this cluster."""


class Unreachable(ClusterError):
    """No answer from the API server: connection refused, DNS, TLS, or a timeout."""

    def __init__(self, server: str, why: str) -> None:
        super().__init__(503, "Unreachable", f"Cannot reach the Kubernetes API server at {server}: {why}")
        self.server = server
        self.why = why


_BY_REASON: dict[str, type[ClusterError]] = {
    "NotFound": NotFound,
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Invalid": Invalid,
    "BadRequest": Rejected,
    "Forbidden": Forbidden,
    "Unauthorized": Unauthorized,
    "Expired": Expired,
    "Gone": Expired,
}
_BY_CODE: dict[int, type[ClusterError]] = {404: NotFound, 409: Conflict, 410: Expired, 422: Invalid, 400: Rejected,
                                           403: Forbidden, 401: Unauthorized}


def from_status(code: int, body: str | bytes | None, fallback: str = "") -> ClusterError:
    """Our error for an HTTP error answer, from its Status body when it has one."""
    status: dict[str, Any] = {}
    if body:
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            status = decoded
    reason = str(status.get("reason") or fallback or "Unknown")
    message = str(status.get("message") or fallback or f"the server answered {code}")
    details = status.get("details") if isinstance(status.get("details"), dict) else {}
    kind = _BY_REASON.get(reason)
    if kind is None:
        kind = _BY_CODE.get(code, ClusterError)
    return kind(code, reason, message, details)
