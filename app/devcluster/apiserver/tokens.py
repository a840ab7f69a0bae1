"""Service account tokens: signed JWTs (ES256, a signing key kube-apiserver accepts as it does RSA), issued by the
TokenRequest API and for legacy token Secrets, and checked again on every request, as kube-apiserver's
serviceaccount authenticator does.

Claims as `pkg/serviceaccount/claims.go` writes them: bound tokens carry `iss`, `aud`, `exp`, `iat`, `nbf`, `jti`,
`sub` and `kubernetes.io: {namespace, serviceaccount: {name, uid}, secret?}`; legacy ones the flat
`kubernetes.io/serviceaccount/*` claims and no expiry. A token is valid only while what it names still exists
with the same uid (the service account, a bound Secret, the legacy Secret holding exactly this token).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from app.devcluster.apiserver.users import (
    CREDENTIAL_ID,
    Extra,
    UserInfo,
    service_account_groups,
    service_account_username,
)

ISSUER = "https://kubernetes.default.svc.cluster.local"  # kube-apiserver's --service-account-issuer, as kubeadm sets it
API_AUDIENCES = (ISSUER,)  # --api-audiences defaults to the issuer
LEGACY_ISSUER = "kubernetes/serviceaccount"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600  # "may not specify a duration less than 10 minutes"
MAX_EXPIRATION = 2**32
LEGACY_PREFIX = "kubernetes.io/serviceaccount/"
SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SA_UID_ANNOTATION = "kubernetes.io/service-account.uid"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """The service account signing key, made on first start and kept in the data directory."""

    def __init__(self, path: Path) -> None:
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{path} does not hold an EC private key")
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
        self.key = key
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = _b64(hashlib.sha256(public).digest())  # keyIDFromPublicKey

    def sign(self, claims: dict[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "ES256", "kid": self.kid}, separators=(",", ":")).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        r, s = decode_dss_signature(self.key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS: r and s, 32 bytes each, not DER
        return f"{header}.{payload}.{_b64(signature)}"

    def claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this key signed, or None (not a JWT, another key, a bad signature)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_unb64(parts[0]))
            signature = _unb64(parts[2])
            if not isinstance(header, dict) or header.get("alg") != "ES256" or len(signature) != 64:
                return None
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            self.key.public_key().verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, InvalidSignature, UnicodeDecodeError):
            return None
        return claims if isinstance(claims, dict) else None


@dataclass(frozen=True)
class Bound:
    """What a TokenRequest asked for, once checked."""

    namespace: str
    account: dict[str, Any]
    audiences: tuple[str, ...]
    expiration: int
    secret: dict[str, Any] | None = None  # the object the token is bound to (a Secret), if any


def issue(signer: Signer, bound: Bound, now: float | None = None) -> tuple[str, int]:
    """A bound token and when it expires (Unix seconds)."""
    issued = int(now if now is not None else time.time())
    meta = bound.account["metadata"]
    private: dict[str, Any] = {"namespace": bound.namespace,
                               "serviceaccount": {"name": meta["name"], "uid": meta["uid"]}}
    if bound.secret is not None:
        private["secret"] = {"name": bound.secret["metadata"]["name"], "uid": bound.secret["metadata"]["uid"]}
    expires = issued + bound.expiration
    claims = {
        "aud": list(bound.audiences), "exp": expires, "iat": issued, "iss": ISSUER, "jti": str(uuid.uuid4()),
        "kubernetes.io": private, "nbf": issued, "sub": service_account_username(bound.namespace, meta["name"]),
    }
    return signer.sign(claims), expires


def issue_legacy(signer: Signer, account: dict[str, Any], secret_name: str) -> str:
    meta = account["metadata"]
    namespace = meta["namespace"]
    return signer.sign({
        "iss": LEGACY_ISSUER,
        f"{LEGACY_PREFIX}namespace": namespace,
        f"{LEGACY_PREFIX}secret.name": secret_name,
        f"{LEGACY_PREFIX}service-account.name": meta["name"],
        f"{LEGACY_PREFIX}service-account.uid": meta["uid"],
        "sub": service_account_username(namespace, meta["name"]),
    })


class Lookup:
    """What a token's validity depends on: the service accounts and Secrets as stored now."""

    def account(self, namespace: str, name: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        raise NotImplementedError


def authenticate(signer: Signer, lookup: Lookup, token: str, now: float | None = None) -> UserInfo | None:
    """The service account a token this cluster issued stands for, or None when it is not (or no longer) valid."""
    claims = signer.claims(token)
    if claims is None:
        return None
    if claims.get("iss") == LEGACY_ISSUER:
        return _legacy(lookup, claims, token)
    if claims.get("iss") != ISSUER:
        return None
    now = now if now is not None else time.time()
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else audiences
    if not isinstance(audiences, list) or not set(audiences) & set(API_AUDIENCES):
        return None
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int) or not isinstance(nbf, int) or now >= exp or now < nbf:
        return None
    private = claims.get("kubernetes.io")
    if not isinstance(private, dict):
        return None
    namespace, ref = private.get("namespace"), private.get("serviceaccount") or {}
    if not isinstance(namespace, str) or not isinstance(ref, dict):
        return None
    account = lookup.account(namespace, str(ref.get("name") or ""))
    if account is None or account["metadata"]["uid"] != ref.get("uid"):
        return None
    secret = private.get("secret")
    if isinstance(secret, dict):
        stored = lookup.secret(namespace, str(secret.get("name") or ""))
        if stored is None or stored["metadata"]["uid"] != secret.get("uid"):
            return None
    extra = Extra()
    if isinstance(claims.get("jti"), str):
        extra.add(CREDENTIAL_ID, f"JTI={claims['jti']}")
    return UserInfo(service_account_username(namespace, account["metadata"]["name"]), account["metadata"]["uid"],
                    service_account_groups(namespace), extra.frozen())


def _legacy(lookup: Lookup, claims: dict[str, Any], token: str) -> UserInfo | None:
    namespace = claims.get(f"{LEGACY_PREFIX}namespace")
    secret_name = claims.get(f"{LEGACY_PREFIX}secret.name")
    name = claims.get(f"{LEGACY_PREFIX}service-account.name")
    uid = claims.get(f"{LEGACY_PREFIX}service-account.uid")
    if not all(isinstance(v, str) and v for v in (namespace, secret_name, name, uid)):
        return None
    secret = lookup.secret(str(namespace), str(secret_name))
    stored = ((secret or {}).get("data") or {}).get("token")
    try:
        if not isinstance(stored, str) or base64.b64decode(stored).decode() != token:
            return None
    except (ValueError, UnicodeDecodeError):
        return None
    account = lookup.account(str(namespace), str(name))
    if account is None or account["metadata"]["uid"] != uid:
        return None
    return UserInfo(service_account_username(str(namespace), str(name)), str(uid),
                    service_account_groups(str(namespace)))
