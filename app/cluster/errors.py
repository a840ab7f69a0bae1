"""Cluster errors as our own types, built from the server's `Status` (or from the transport)."""

from __future__ import annotations

import errno
import json
import socket
import ssl
from typing import Any

import aiohttp


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


class NotFromApiServer(ClusterError):
    """An error answer without a Kubernetes Status (an HTML page, text, nothing): the API server answers every error
    of its API with a Status (apimachinery's `metav1.Status`), so something in front of it (a proxy, load balancer or
    tunnel) answered for it. `reason` is the HTTP reason phrase; the message says what to check."""


# Why the API server gave no (complete) answer, as the client found it (app.cluster.client sorts its exceptions into
# these), and what each means to a user: the one place transport failures are put in words. Pages, banners and live
# events say `Unreachable.message`, and add what to do there (retry, or wait: live updates resume by themselves).
REFUSED, NO_SUCH_HOST, NO_ROUTE, TIMEOUT, CUT_OFF, CERTIFICATE, TLS, NOT_KUBERNETES, FAILED = (
    "refused", "no-such-host", "no-route", "timeout", "cut-off", "certificate", "tls", "not-kubernetes", "failed")
CAUSES = {
    REFUSED: "nothing accepts connections at that address (the API server is not running, or the kubeconfig names "
             "the wrong address or port)",
    NO_SUCH_HOST: "its host name could not be found (check the address in the kubeconfig, and the network's DNS)",
    NO_ROUTE: "the network has no route to that address (check the address in the kubeconfig, and the network or "
              "VPN)",
    TIMEOUT: "it did not answer {within} (it may be overloaded, or the network may be dropping the connection)",
    CUT_OFF: "the connection broke off before its answer was complete (the API server stopped or restarted, or "
             "something between the console and it closed the connection)",
    CERTIFICATE: "its certificate could not be verified (check the certificate authority in the kubeconfig)",
    TLS: "a secure (TLS) connection could not be set up (check that the address in the kubeconfig starts with "
         "https:// only if the server speaks TLS there)",
    NOT_KUBERNETES: "what answered there is not a Kubernetes API server (check the address and port in the "
                    "kubeconfig)",
    FAILED: "the connection failed",
}
# The same, briefly and of any server: what a tally of the gateway's answers says ("No answer: 8 × …").
BRIEFLY = {
    REFUSED: "connection refused (nothing listens at that address)",
    NO_SUCH_HOST: "its host name could not be found",
    NO_ROUTE: "no network route to that address",
    TIMEOUT: "no answer in time",
    CUT_OFF: "the connection broke off before the answer was complete",
    CERTIFICATE: "its certificate could not be verified",
    TLS: "a secure (TLS) connection could not be set up",
    NOT_KUBERNETES: "what answered was not HTTP",
    FAILED: "the connection failed",
}
_NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}
_BROKEN = {errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE}  # a connection the other end (or the path) ended


def cause_of(error: BaseException) -> str:
    """Which of CAUSES a failure to get an answer is, from what aiohttp, asyncio, ssl or the OS raised."""
    if isinstance(error, TimeoutError):  # aiohttp's timeouts are TimeoutErrors; asyncio's has no text at all
        return TIMEOUT
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return CERTIFICATE
    if isinstance(error, aiohttp.ClientSSLError | ssl.SSLError):
        return TLS
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return NO_SUCH_HOST
    if isinstance(error, aiohttp.ClientConnectorError):
        os_error = error.os_error
        if isinstance(os_error, ConnectionRefusedError):
            return REFUSED
        if isinstance(os_error, socket.gaierror):
            return NO_SUCH_HOST
        return NO_ROUTE if os_error.errno in _NO_ROUTE else FAILED
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | ConnectionError) or \
            isinstance(error, OSError) and error.errno in _BROKEN:
        return CUT_OFF
    if isinstance(error, aiohttp.ClientResponseError):  # not HTTP (its "400" is aiohttp's parser's, not the server's)
        return NOT_KUBERNETES
    return FAILED


def detail_of(error: BaseException) -> str:
    """The library's own account of a failure, for the log (an asyncio TimeoutError has no text: its name then)."""
    return f"{type(error).__name__}: {error}".removesuffix(": ")


class Unreachable(ClusterError):
    """No (complete) answer from the API server: `cause` says why, in one of CAUSES' words; `detail` is the client
    library's own account (for the console's log, never for a page); `seconds` the time a TIMEOUT waited, if known."""

    def __init__(self, server: str, cause: str, detail: str = "", seconds: float | None = None) -> None:
        said = CAUSES.get(cause, CAUSES[FAILED])
        if cause == TIMEOUT:
            said = said.format(within=f"within {seconds:g} s" if seconds else "in time")
        super().__init__(503, "Unreachable", f"Cannot reach the Kubernetes API server at {server}: {said}")
        self.server = server
        self.cause = cause
        self.detail = detail


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


def _what(body: str | bytes | None) -> str:
    """What an answer that is not a Status carried, in a few words (never its text: a proxy's page is not ours)."""
    text = (body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body or "").strip()
    if not text:
        return "an empty answer"
    if text[:1] == "<" and "html" in text[:512].lower():
        return "an HTML page"
    return "an answer that is not a Kubernetes Status"


def not_from_api_server(code: int, phrase: str, body: str | bytes | None, server: str) -> str:
    answered = f"{server or 'The cluster address'} answered {code}{f' {phrase}' if phrase else ''}"
    return (f"{answered} with {_what(body)}, not with the Kubernetes API server's own answer (a Status): something "
            "in front of the API server (a proxy, load balancer or tunnel) answered for it. Check that the API server "
            "behind it is running and that it can reach it, or that the kubeconfig's address is the API server's.")


def from_status(code: int, body: str | bytes | None, fallback: str = "", server: str = "") -> ClusterError:
    """Our error for an HTTP error answer, from its Status body when it has one; without one, the answer came from
    something in front of the API server (`server`, the address the console called): said so, with what to check."""
    status: dict[str, Any] = {}
    if body:
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            status = decoded
    if server and not (status.get("kind") == "Status" or status.get("reason") or status.get("message")):
        answered = _BY_CODE.get(code, NotFromApiServer)
        return answered(code, fallback or "Unknown", not_from_api_server(code, fallback, body, server))
    reason = str(status.get("reason") or fallback or "Unknown")
    message = str(status.get("message") or fallback or f"the server answered {code}")
    details = status.get("details") if isinstance(status.get("details"), dict) else {}
    kind = _BY_REASON.get(reason)
    if kind is None:
        kind = _BY_CODE.get(code, ClusterError)
    return kind(code, reason, message, details)
