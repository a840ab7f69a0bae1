"""A revision's readiness probe in words, and what to check when it does not pass.

Knative's defaulting gives a container with no readiness probe `tcpSocket: {port: 0}` (knative/serving
revision_defaults.go), and a probe's port 0 (or none) means the container's own port, 8080 unless it names another
(deploy.go rewrites it to the user port; queue-proxy then runs tcpSocket, httpGet and grpc probes against the container
itself, the kubelet only probing queue-proxy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.knative.instances import serving_container

DEFAULT_PORT = 8080


@dataclass(frozen=True)
class ReadinessProbe:
    words: str  # "a TCP connection to port 8080", "an HTTP GET of /healthz on port 8080, every 5s"
    check: str  # what to check, starting "check that the app …"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _user_port(container: dict[str, Any]) -> int:
    ports = [p for p in _list(container.get("ports")) if isinstance(p, dict)]
    port = ports[0].get("containerPort") if ports else None
    return port if isinstance(port, int) and not isinstance(port, bool) and port > 0 else DEFAULT_PORT


def _port(handler: dict[str, Any], user_port: int) -> int:
    port = handler.get("port")
    return port if isinstance(port, int) and not isinstance(port, bool) and port > 0 else user_port


def _seconds(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def readiness_probe(spec: dict[str, Any]) -> ReadinessProbe:
    """The serving container's readiness probe, from a revision's spec (Knative's default when it has none)."""
    container = serving_container(spec)
    user_port = _user_port(container)
    probe = _dict(container.get("readinessProbe"))
    period = _seconds(probe.get("periodSeconds"))
    every = f", every {period}s" if period else ""
    if isinstance(probe.get("httpGet"), dict):
        http = probe["httpGet"]
        path = http.get("path") if isinstance(http.get("path"), str) and http.get("path") else "/"
        port = _port(http, user_port)
        scheme = "HTTPS" if http.get("scheme") == "HTTPS" else "HTTP"
        return ReadinessProbe(f"an {scheme} GET of {path} on port {port}{every}",
                              f"check that the app answers {path} on port {port} with a status from 200 to 399")
    if isinstance(probe.get("grpc"), dict):
        port = _port(probe["grpc"], user_port)
        return ReadinessProbe(f"a gRPC health check on port {port}{every}",
                              f"check that the app serves the gRPC health service on port {port}")
    if isinstance(probe.get("exec"), dict):
        command = " ".join(str(part) for part in _list(probe["exec"].get("command")) if isinstance(part, str | int))
        return ReadinessProbe(f"the command {command or '(none)'}{every}",
                              f"check that the command {command or '(none)'} succeeds in the container")
    port = _port(_dict(probe.get("tcpSocket")), user_port)
    told = " (the PORT environment variable Knative sets)" if port == user_port else ""
    return ReadinessProbe(f"a TCP connection to port {port}{every}", f"check that the app listens on port {port}{told}")
