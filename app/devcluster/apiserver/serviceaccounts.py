"""Service accounts, as kube-controller-manager and the TokenRequest API handle them:

- every namespace gets a `default` ServiceAccount (serviceaccounts-controller);
- a Secret of type kubernetes.io/service-account-token naming an existing account gets its token, the account's
  uid and the namespace (tokens-controller); one naming no such account is deleted, as are an account's token
  Secrets when it goes;
- `POST …/serviceaccounts/<name>/token` (kubectl create token) answers a TokenRequest with a signed token that
  expires, bound to the account (and to a Secret, if asked).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
from datetime import UTC, datetime
from typing import Any

from app.devcluster.apiserver import errors
from app.devcluster.apiserver.resources import NAMESPACE, SECRET, SERVICE_ACCOUNT
from app.devcluster.apiserver.rest import Rest
from app.devcluster.apiserver.seed import ensure
from app.devcluster.apiserver.store import Event
from app.devcluster.apiserver.tasks import cancel
from app.devcluster.apiserver.tokens import (
    API_AUDIENCES,
    DEFAULT_EXPIRATION,
    MAX_EXPIRATION,
    MIN_EXPIRATION,
    SA_NAME_ANNOTATION,
    SA_UID_ANNOTATION,
    SERVICE_ACCOUNT_TOKEN,
    Bound,
    Lookup,
    Signer,
    issue,
    issue_legacy,
)

log = logging.getLogger("devcluster.serviceaccounts")
MANAGER = "kube-controller-manager"


class StoreLookup(Lookup):
    def __init__(self, rest: Rest) -> None:
        self.store = rest.store

    def account(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.get(SERVICE_ACCOUNT.key, namespace, name)

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.get(SECRET.key, namespace, name)


class ServiceAccounts:
    def __init__(self, rest: Rest, signer: Signer) -> None:
        self.rest = rest
        self.signer = signer
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        for namespace in self.rest.store.list(NAMESPACE.key):
            self._default_account(namespace)
        for secret in self.rest.store.list(SECRET.key):
            self._token_secret(secret)
        subscription = self.rest.store.subscribe([NAMESPACE.key, SECRET.key, SERVICE_ACCOUNT.key])
        self._task = asyncio.create_task(self._run(subscription.queue))

    async def stop(self) -> None:
        await cancel(self._task)

    async def _run(self, queue: asyncio.Queue[Event | None]) -> None:
        while (event := await queue.get()) is not None:
            try:
                self.handle(event)
            except errors.ApiError as error:  # raced with a user's write or delete: the next event settles it
                log.info("service account controller: %s", error.message)
            except Exception:
                log.exception("service account controller failed on %s %s", event.type, event.name)

    def handle(self, event: Event) -> None:
        if event.resource == NAMESPACE.key and event.type != "DELETED":
            self._default_account(event.obj)
        elif event.resource == SECRET.key and event.type != "DELETED":
            self._token_secret(event.obj)
        elif event.resource == SERVICE_ACCOUNT.key and event.type == "DELETED":
            for secret in self.rest.store.list(SECRET.key, event.namespace):
                if _names_account(secret, event.name):
                    self.rest.system_delete(SECRET, secret)

    def _default_account(self, namespace: dict[str, Any]) -> None:
        meta = namespace["metadata"]
        if meta.get("deletionTimestamp") or (namespace.get("status") or {}).get("phase") == "Terminating":
            return
        ensure(self.rest, SERVICE_ACCOUNT, {"apiVersion": "v1", "kind": "ServiceAccount",
                                            "metadata": {"name": "default", "namespace": meta["name"]}}, MANAGER)

    def _token_secret(self, secret: dict[str, Any]) -> None:
        meta = secret["metadata"]
        if secret.get("type") != SERVICE_ACCOUNT_TOKEN or meta.get("deletionTimestamp"):
            return
        annotations = meta.get("annotations") or {}
        account = self.rest.store.get(SERVICE_ACCOUNT.key, meta["namespace"], str(annotations.get(SA_NAME_ANNOTATION)))
        if account is None or annotations.get(SA_UID_ANNOTATION) not in (None, account["metadata"]["uid"]):
            self.rest.system_delete(SECRET, secret)
            return
        if (secret.get("data") or {}).get("token") and annotations.get(SA_UID_ANNOTATION):
            return
        new = copy.deepcopy(secret)
        new["metadata"].setdefault("annotations", {})[SA_UID_ANNOTATION] = account["metadata"]["uid"]
        token = issue_legacy(self.signer, account, meta["name"])
        new.setdefault("data", {}).update({"token": _b64(token), "namespace": _b64(meta["namespace"])})
        self.rest.system_write(SECRET, new, secret, MANAGER)

    # -- the TokenRequest API -------------------------------------------------------------------

    def token_request(self, namespace: str, name: str, body: Any) -> dict[str, Any]:
        """The answer to `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`."""
        if not isinstance(body, dict):
            raise errors.bad_request("TokenRequest in version \"v1\" cannot be handled as a TokenRequest: the body "
                                     "must be a JSON object")
        spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
        assert isinstance(spec, dict)
        audiences = spec.get("audiences") or list(API_AUDIENCES)
        expiration = spec.get("expirationSeconds", DEFAULT_EXPIRATION) or DEFAULT_EXPIRATION
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences) or \
                not isinstance(expiration, int) or isinstance(expiration, bool):
            raise errors.bad_request("TokenRequest in version \"v1\" cannot be handled as a TokenRequest: "
                                     "spec.audiences must be a list of strings and spec.expirationSeconds an integer")
        if expiration < MIN_EXPIRATION:
            raise _invalid("spec.expirationSeconds",
                           f"Invalid value: {expiration}: may not specify a duration less than 10 minutes")
        if expiration > MAX_EXPIRATION:
            raise _invalid("spec.expirationSeconds",
                           f"Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds")
        account = self.rest.store.get(SERVICE_ACCOUNT.key, namespace, name)
        if account is None:
            raise errors.not_found("serviceaccounts", "", name)
        bound_to, ref = None, spec.get("boundObjectRef")
        if isinstance(ref, dict):
            if ref.get("kind") != "Secret":
                # The dev cluster's own words: its pods are simulated and it has no nodes, so it binds tokens to
                # Secrets only.
                raise errors.bad_request(f"cannot bind token to object of type {ref.get('kind')}: "
                                         "only Secrets can be bound here (the dev cluster binds none to pods or nodes)")
            bound_to = self.rest.store.get(SECRET.key, namespace, str(ref.get("name") or ""))
            if bound_to is None:
                raise errors.not_found("secrets", "", str(ref.get("name") or ""))
            if ref.get("uid") and ref["uid"] != bound_to["metadata"]["uid"]:
                raise errors.conflict("secrets", "", str(ref.get("name")),
                                      f"the UID in the bound object reference ({ref['uid']}) does not match the UID "
                                      f"in record. The object might have been deleted and then recreated")
        token, expires = issue(self.signer, Bound(namespace, account, tuple(audiences), expiration, bound_to))
        answer_spec: dict[str, Any] = {"audiences": audiences, "expirationSeconds": expiration,
                                       "boundObjectRef": ref if isinstance(ref, dict) else None}
        return {
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": answer_spec,
            "status": {"token": token,
                       "expirationTimestamp": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
        }


def _names_account(secret: dict[str, Any], account: str) -> bool:
    annotations = secret["metadata"].get("annotations") or {}
    return secret.get("type") == SERVICE_ACCOUNT_TOKEN and annotations.get(SA_NAME_ANNOTATION) == account


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _invalid(field: str, message: str) -> errors.ApiError:
    # registry/core/serviceaccount/storage/token.go: NewInvalid(TokenRequest's group kind, "", errs)
    return errors.invalid("TokenRequest", "authentication.k8s.io", "", [("FieldValueInvalid", field, message)])
