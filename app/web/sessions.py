"""The signed-in session of `--auth token`: the user's bearer token and who the cluster said they are, kept only in
the browser, in a cookie encrypted and signed with Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`).

The key is derived from KNATIVE_CONSOLE_SECRET_KEY, so every replica that shares it reads every session. A session
ends after `idle` seconds without a request (each request renews it), at Sign out, or when the cluster stops
accepting the token. A cookie that was changed, or sealed with another key, does not open.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE = "kc_session"
RENEW_AFTER = 60.0  # seconds: a session used again after this long gets a fresh cookie (and idle period)
MAX_COOKIE = 4000  # bytes of cookie value browsers keep for certain (RFC 6265 asks for at least 4096 per cookie)


@dataclass(frozen=True)
class Session:
    token: str
    user: str
    groups: tuple[str, ...]
    sealed_at: float  # when the cookie was last written

    @property
    def stale(self) -> bool:
        return time.time() - self.sealed_at > RENEW_AFTER


class Sessions:
    def __init__(self, secret: str, idle: float) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"knative-console session").derive(
            secret.encode())
        self.fernet = Fernet(base64.urlsafe_b64encode(key))
        self.idle = idle

    def seal(self, token: str, user: str, groups: tuple[str, ...]) -> str:
        payload: dict[str, Any] = {"t": token, "u": user, "g": list(groups)}
        return self.fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def ends(self, sealed_at: float) -> float:
        """When a session sealed at `sealed_at` stops opening (time.time()): Fernet takes whole seconds, and accepts
        a token through the last second of its ttl."""
        return int(sealed_at) + int(self.idle) + 1

    def open(self, cookie: str) -> Session | None:
        """The session in a cookie, or None when it is missing, idle too long, changed or sealed with another key."""
        if not cookie:
            return None
        try:
            data = cookie.encode("ascii")
            payload = json.loads(self.fernet.decrypt(data, ttl=int(self.idle)))
            sealed_at = float(self.fernet.extract_timestamp(data))
        except (InvalidToken, UnicodeError, ValueError):
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("t"), str) or \
                not isinstance(payload.get("u"), str) or not isinstance(payload.get("g"), list):
            return None
        return Session(payload["t"], payload["u"], tuple(str(g) for g in payload["g"]), sealed_at)


def cookie_header(value: str, secure: bool, max_age: int | None = None) -> str:
    """The Set-Cookie value: HttpOnly, SameSite=Lax (a link from elsewhere still opens the console signed in;
    every write also needs the CSRF token), Secure when served over HTTPS."""
    parts = [f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
