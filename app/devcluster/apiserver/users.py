"""Who a request acts as: the user.Info of k8s.io/apiserver, and the well-known names and groups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ANONYMOUS = "system:anonymous"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
PRIVILEGED_GROUP = "system:masters"  # kube-apiserver's loopback and admin group: allowed everything
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
ADMIN = "devcluster-admin"  # the user of the kubeconfig the dev cluster writes
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()  # sorted (key, values) pairs: hashable

    @property
    def privileged(self) -> bool:
        return PRIVILEGED_GROUP in self.groups

    def authenticated(self) -> UserInfo:
        """With system:authenticated added, as the authenticator chain adds it to every user it knows."""
        if ALL_AUTHENTICATED in self.groups:
            return self
        return UserInfo(self.name, self.uid, (*self.groups, ALL_AUTHENTICATED), self.extra)

    def as_json(self) -> dict[str, Any]:
        """authentication/v1 UserInfo, as SelfSubjectReview and TokenReview return it."""
        body: dict[str, Any] = {"username": self.name}
        if self.uid:
            body["uid"] = self.uid
        if self.groups:
            body["groups"] = list(self.groups)
        if self.extra:
            body["extra"] = {key: list(values) for key, values in self.extra}
        return body


def anonymous() -> UserInfo:
    return UserInfo(ANONYMOUS, groups=(ALL_UNAUTHENTICATED,))


def service_account_username(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> tuple[str, ...]:
    return ALL_SERVICE_ACCOUNTS, f"{ALL_SERVICE_ACCOUNTS}:{namespace}"


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of `system:serviceaccount:<ns>:<name>`, or None for any other user name."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_PREFIX):].split(":")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


@dataclass
class Extra:
    """Builds the sorted, hashable extra of a UserInfo."""

    values: dict[str, list[str]] = field(default_factory=dict)

    def add(self, key: str, value: str) -> None:
        self.values.setdefault(key, []).append(value)

    def frozen(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple(sorted((key, tuple(values)) for key, values in self.values.items()))
