"""One Settings dataclass, from environment variables and command-line flags (flags win)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

ENV_PREFIX = "KNATIVE_CONSOLE_"


@dataclass(frozen=True)
class Settings:
    kubeconfig: str | None = None  # None: KUBECONFIG, then ~/.kube/config, then the in-cluster service account
    context: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    gateway: str = ""  # the ingress gateway's address, when it cannot (or should not) be discovered
    namespace: str = ""  # the namespace `/` opens; "" means the kubeconfig context's
    request_timeout: float = 10.0  # seconds, for every call to the cluster
    # Live pages (server-sent events fed by watches): open streams allowed in this process and per user, and
    # the seconds between heartbeats on a quiet stream (they also find the tabs that went away).
    live_max_streams: int = 1000
    live_max_streams_per_user: int = 100
    live_heartbeat: float = 15.0
    page_size: int = 50  # Services per page of the list
    # A namespace's list is read from a watch-fed cache of its Services, one per user and namespace while they look
    # at it (app.web.informer). A new cache starts only while all of them hold fewer Services than this; 0 turns
    # them off (every list page lists).
    list_cache_services: int = 20_000
    dev_cluster: bool = False  # the embedded dev cluster: its gateway's answers are simulated
    # Host names the console answers to (DNS-rebinding protection), comma-separated; "" means the bound
    # address, localhost, 127.0.0.1 and [::1]; "*" answers any Host (unsafe).
    allowed_hosts: str = ""
    log_format: str = "text"  # or "json": one JSON object a line, for a log platform
    # How users are known: "kubeconfig" (everyone acts as the console's own credentials), "token" (a sign-in page
    # takes each user's bearer token) or "proxy" (an authenticating proxy sends each request's token).
    auth: str = "kubeconfig"
    insecure_allow_unauthenticated: bool = False  # kubeconfig mode on a non-loopback address
    session_idle: float = 1800.0  # seconds a signed-in session lasts without a request (token mode)
    sign_out_url: str = ""  # proxy mode: where Sign out goes (oauth2-proxy's /oauth2/sign_out); "" shows none
    # Signs CSRF tokens and encrypts sessions. Set the same value on every replica behind a load balancer.
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = env.get(ENV_PREFIX + item.name.upper())
            if raw is None:
                continue
            if item.type in ("int", int):
                values[item.name] = int(raw)
            elif item.type in ("float", float):
                values[item.name] = float(raw)
            elif item.type in ("bool", bool):
                values[item.name] = raw.lower() in ("1", "true", "yes", "on")
            else:
                values[item.name] = raw
        settings = cls(**values)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def hosts(self) -> frozenset[str]:
        """The Host names (lower case, without port) the console answers to; empty means any."""
        listed = [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]
        if "*" in listed:
            return frozenset()
        bound = f"[{self.host}]" if ":" in self.host else self.host
        return frozenset(listed or [bound.lower(), "localhost", "127.0.0.1", "[::1]"])
