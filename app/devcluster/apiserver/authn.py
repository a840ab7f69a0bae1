"""Authentication, as kube-apiserver's chain does it: a bearer token from the token file or a service account
token, else `system:anonymous`; then the Impersonate-* headers, each of them authorized (`impersonate` verb).

A request that presents a bearer token nobody knows is refused (401 `Unauthorized`); only a request with no
credentials at all is anonymous (group system:unauthenticated), as `union.NewFailOnError(…, anonymous)` decides.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.devcluster.apiserver.errors import ApiError
from app.devcluster.apiserver.rbac import Attributes, forbidden
from app.devcluster.apiserver.tokens import Lookup, Signer, authenticate
from app.devcluster.apiserver.users import (
    ALL_AUTHENTICATED,
    ALL_UNAUTHENTICATED,
    ANONYMOUS,
    Extra,
    UserInfo,
    anonymous,
    service_account_groups,
    service_account_username,
    split_service_account,
)

IMPERSONATE_USER = "Impersonate-User"
IMPERSONATE_UID = "Impersonate-Uid"
IMPERSONATE_GROUP = "Impersonate-Group"
IMPERSONATE_EXTRA = "Impersonate-Extra-"
AUTHENTICATION_GROUP = "authentication.k8s.io"


def unauthorized() -> ApiError:
    """apierrors.NewUnauthorized("Unauthorized"), as the authentication filter answers."""
    return ApiError(401, "Unauthorized", "Unauthorized")


class TokenFileError(Exception):
    pass


def read_token_file(path: Path) -> dict[str, UserInfo]:
    """`--token-auth-file`: CSV records `token,user,uid[,"group1,group2"]`, as tokenfile.NewCSV reads them."""
    try:
        text = path.read_text()
    except OSError as error:
        raise TokenFileError(f"token file '{path}': {error.strerror or error}") from None
    tokens: dict[str, UserInfo] = {}
    for record in csv.reader(io.StringIO(text)):
        if not record:
            continue  # encoding/csv skips empty lines
        if len(record) < 3:
            raise TokenFileError(f"token file '{path}' must have at least 3 columns (token, user name, user uid), "
                                 f"found {len(record)}")
        if record[0] == "":
            continue
        groups = tuple(record[3].split(",")) if len(record) >= 4 else ()
        tokens[record[0]] = UserInfo(record[1], record[2], groups)
    return tokens


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, "" when there is none (bearertoken.go)."""
    if not authorization:
        return ""
    parts = authorization.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer":
        return ""
    return parts[1]


@dataclass
class Authenticator:
    signer: Signer
    lookup: Lookup
    tokens: dict[str, UserInfo] = field(default_factory=dict)  # the token file's, the admin's among them

    def authenticate(self, headers: Mapping[str, str]) -> UserInfo:
        """The request's user (system:authenticated added), anonymous without credentials; 401 for a bad token."""
        token = bearer_token(headers.get("Authorization"))
        if not token:
            return anonymous()
        user = self.tokens.get(token) or authenticate(self.signer, self.lookup, token)
        if user is None:
            raise unauthorized()
        return user.authenticated()

    def user_for_token(self, token: str) -> UserInfo | None:
        """TokenReview's question: who this token is, or None."""
        user = self.tokens.get(token) or authenticate(self.signer, self.lookup, token)
        return user.authenticated() if user is not None else None


Authorize = Callable[[Attributes], tuple[bool, str]]


@dataclass(frozen=True)
class _Request:
    """One thing asked to be impersonated: what it is authorized as, and what it changes."""

    resource: str
    name: str
    namespace: str = ""
    group: str = ""
    subresource: str = ""


def impersonate(headers: Any, requester: UserInfo, authorize: Authorize, uri: str) -> UserInfo:
    """The user the Impersonate-* headers ask for, once `requester` may impersonate each part of it
    (filters/impersonation.go); `requester` itself when there are none. `headers` are aiohttp's (a
    CIMultiDictProxy: Impersonate-Group may repeat)."""
    user_name = headers.get(IMPERSONATE_USER, "")
    uid = headers.get(IMPERSONATE_UID, "")
    groups = list(headers.getall(IMPERSONATE_GROUP, []))
    extras = [(name[len(IMPERSONATE_EXTRA):].lower(), value) for name, value in headers.items()
              if name.lower().startswith(IMPERSONATE_EXTRA.lower())]
    if not (user_name or uid or groups or extras):
        return requester
    requests: list[_Request] = []
    service_account = split_service_account(user_name) if user_name else None
    if service_account is not None:
        requests.append(_Request("serviceaccounts", service_account[1], service_account[0]))
    elif user_name:
        requests.append(_Request("users", user_name))
    requests += [_Request("groups", group) for group in groups]
    requests += [_Request("userextras", value, group=AUTHENTICATION_GROUP, subresource=key) for key, value in extras]
    if uid:
        requests.append(_Request("uids", uid, group=AUTHENTICATION_GROUP))
    if not user_name:
        raise _internal(uri, f"requested {_describe(requests)} without impersonating a user")
    for wanted in requests:
        attributes = Attributes(requester, "impersonate", True, api_group=wanted.group, namespace=wanted.namespace,
                                resource=wanted.resource, subresource=wanted.subresource, name=wanted.name)
        allowed, reason = authorize(attributes)
        if not allowed:
            raise forbidden(attributes, reason)
    if service_account is not None:
        name = service_account_username(*service_account)
        if not groups:
            groups = list(service_account_groups(service_account[0]))
    else:
        name = user_name
    if name != ANONYMOUS:
        if ALL_AUTHENTICATED not in groups and ALL_UNAUTHENTICATED not in groups:
            groups.append(ALL_AUTHENTICATED)
    elif ALL_UNAUTHENTICATED not in groups:
        groups.append(ALL_UNAUTHENTICATED)
    extra = Extra()
    for key, value in extras:
        extra.add(key, value)
    return UserInfo(name, uid, tuple(groups), extra.frozen())


def _describe(requests: list[_Request]) -> str:
    """The requests as Go's %v prints the []v1.ObjectReference the filter builds (Kind Namespace Name … FieldPath)."""
    kinds = {"serviceaccounts": "ServiceAccount", "users": "User", "groups": "Group", "userextras": "UserExtra",
             "uids": "UID"}
    parts = []
    for r in requests:
        api_version = "authentication.k8s.io/v1" if r.group else ""
        parts.append(f"{{{kinds[r.resource]} {r.namespace} {r.name}  {api_version}  {r.subresource}}}")
    return "[" + " ".join(parts) + "]"


def _internal(uri: str, message: str) -> ApiError:
    """responsewriters.InternalError: a plain-text 500, which the filter answers for malformed impersonation."""
    text = f'Internal Server Error: "{uri}": {message}'
    return ApiError(500, "InternalError", text, plain=True)
