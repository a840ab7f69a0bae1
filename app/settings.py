"""One Settings dataclass, from environment variables and command-line flags (flags win)."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

ENV_PREFIX = "KNATIVE_CONSOLE_"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class SettingsError(ValueError):
    """An environment variable that cannot be read as its setting's type; the message names it."""


def _parse(kind: str, raw: str) -> Any:
    """A variable's text as its field's type (annotations are strings here: `from __future__ import annotations`);
    text as it is (a secret key's spaces are part of it)."""
    if kind in ("int", "float", "bool"):
        raw = raw.strip()
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind == "float":
        try:
            number = float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        return number
    if kind == "bool":
        if raw.lower() not in TRUE + FALSE:
            raise ValueError("must be true or false (1/0, yes/no, on/off)")
        return raw.lower() in TRUE
    return raw


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
        """Raises SettingsError naming the variable when one cannot be read as its type."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for item in fields(cls):
            name = ENV_PREFIX + item.name.upper()
            raw = env.get(name)
            if raw is None:
                continue
            try:
                values[item.name] = _parse(str(item.type), raw)
            except ValueError as error:
                raise SettingsError(f"{name} {error}, not {raw!r}") from None
        settings = cls(**values)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})

    def problems(self) -> list[str]:
        """What cannot work in these settings, each naming its variable (a flag's name where there is one)."""
        return [f"{label} {rule}, not {value!r}" for label, value, fine, rule in (
            ("--port (KNATIVE_CONSOLE_PORT)", self.port, 1 <= self.port <= 65535, "must be a port, 1–65535"),
            ("KNATIVE_CONSOLE_REQUEST_TIMEOUT", self.request_timeout, self.request_timeout > 0,
             "must be a number of seconds above 0"),
            ("KNATIVE_CONSOLE_LIVE_HEARTBEAT", self.live_heartbeat, self.live_heartbeat > 0,
             "must be a number of seconds above 0"),
            ("KNATIVE_CONSOLE_LIVE_MAX_STREAMS", self.live_max_streams, self.live_max_streams >= 1,
             "must be a whole number, 1 or more"),
            ("KNATIVE_CONSOLE_LIVE_MAX_STREAMS_PER_USER", self.live_max_streams_per_user,
             self.live_max_streams_per_user >= 1, "must be a whole number, 1 or more"),
            ("KNATIVE_CONSOLE_PAGE_SIZE", self.page_size, self.page_size >= 1, "must be a whole number, 1 or more"),
            ("KNATIVE_CONSOLE_LIST_CACHE_SERVICES", self.list_cache_services, self.list_cache_services >= 0,
             "must be a whole number, 0 (no caches) or more"),
            ("--session-idle (KNATIVE_CONSOLE_SESSION_IDLE)", self.session_idle, self.session_idle > 0,
             "must be a number of seconds above 0"),
        ) if not fine]

    @property
    def hosts(self) -> frozenset[str]:
        """The Host names (lower case, without port) the console answers to; empty means any."""
        listed = [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]
        if "*" in listed:
            return frozenset()
        bound = f"[{self.host}]" if ":" in self.host else self.host
        return frozenset(listed or [bound.lower(), "localhost", "127.0.0.1", "[::1]"])
