"""The console's one door to Kubernetes: a few verbs over declared resources, through kubernetes_asyncio.

Every call has a timeout, names its content type (the generated client would otherwise send a
dict patch as json-patch), and turns failures into `app.cluster.errors` types.

One Cluster acts with the kubeconfig's (or the pod's) credentials; `as_user(token)` gives a Cluster that acts
with a user's bearer token instead, over a connection that carries no credentials of the console's own (no
client certificate, no token), so the cluster sees only that user.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime
import json
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from app import metrics
from app.cluster import errors
from app.cluster.errors import ClusterError, Expired, KnativeNotInstalled, Unauthorized, Unreachable, from_status
from app.cluster.outage import OutageLog
from app.cluster.resources import POD, SELF_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_REVIEW, Resource

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
FIELD_MANAGER = "knative-console"
IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# What makes aiohttp's trust_env matter: a proxy variable (urllib.request.getproxies reads any `*_proxy`;
# `no_proxy` alone only takes exceptions out of nothing), or NETRC naming a credentials file.
WATCH_SECONDS = 300  # the server ends each watch after this long; the caller resumes from its resourceVersion
READ_BUFFER = 2**21  # kubernetes_asyncio's: a watch event with a large object fits in one read

log = logging.getLogger("knative_console.cluster")

Event = tuple[str, dict[str, Any]]  # ("ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK", the object)


class KubeconfigError(Exception):
    """The kubeconfig (or in-cluster configuration) could not be loaded; the message says which and why."""


@dataclass(frozen=True)
class Identity:
    """Who the cluster says a set of credentials is (a SelfSubjectReview's userInfo)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""


def current_context(files: str) -> str | None:
    """The current-context of several kubeconfig files as kubectl reads them: the first file that sets one wins
    (kubernetes_asyncio's merger lets the last one win)."""
    for path in files.split(os.pathsep):
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(loaded, dict) and loaded.get("current-context"):
            return str(loaded["current-context"])
    return None


class ExecCredentials:
    """A kubeconfig user's exec credential plugin, run again when the token it gave expires (client-go's exec
    authenticator does the same; kubernetes_asyncio by itself runs the plugin once, so EKS, GKE or kubelogin
    tokens would end in 401s) and when the cluster answers 401."""

    def __init__(self, loader: Any, configuration: client.Configuration) -> None:
        self.loader = loader
        self.configuration = configuration
        self.lock = asyncio.Lock()

    @property
    def expiry(self) -> datetime.datetime | None:
        return getattr(self.loader, "exec_plugin_expiry", None)

    def expired(self) -> bool:
        expiry = self.expiry
        return expiry is not None and datetime.datetime.now(datetime.UTC) >= expiry

    async def refresh(self, force: bool = False) -> None:
        async with self.lock:
            if not force and not self.expired():
                return
            if hasattr(self.loader, "exec_plugin_expiry"):
                del self.loader.exec_plugin_expiry  # makes the loader run the plugin again
            await self.loader.load_from_exec_plugin()
            self.configuration.api_key["BearerToken"] = self.loader.token

    async def hook(self, _: client.Configuration) -> None:
        """Configuration.refresh_api_key_hook: asked before every request's credentials are read."""
        if self.expired():
            await self.refresh()


def _locate(kubeconfig: str | None, context: str | None) -> tuple[str, str]:
    """(existing kubeconfig files joined by os.pathsep, or "" for in-cluster; the in-cluster namespace)."""
    path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    existing = [p for p in path.split(os.pathsep) if p and Path(p).exists()]
    if existing:
        return os.pathsep.join(existing), ""
    if kubeconfig or context:
        raise KubeconfigError(f"kubeconfig {path} does not exist")
    namespace = IN_CLUSTER_NAMESPACE.read_text().strip() if IN_CLUSTER_NAMESPACE.exists() else ""
    return "", namespace


def service_account(token: str) -> str:
    """The user a ServiceAccount token names (its `sub` claim), read without verifying it: for logs only."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["sub"])
    except (IndexError, ValueError, KeyError, TypeError):
        return "in-cluster service account"


def _in_cluster_user() -> str:
    return service_account(IN_CLUSTER_TOKEN.read_text()) if IN_CLUSTER_TOKEN.exists() else ""


def _verb(method: str, path: str, query: list[tuple[str, Any]], resource: Resource) -> str:
    if method != "GET":
        return _VERBS.get(method, method.lower())
    if any(key == "watch" for key, _ in query):
        return "watch"
    return "list" if path.endswith(f"/{resource.plural}") else "get"


def proxy_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment names a proxy (or a .netrc): only then must every call consult it."""
    environ = os.environ if environ is None else environ
    return any((key.lower().endswith("_proxy") and key.lower() != "no_proxy" or key.lower() == "netrc") and value
               for key, value in environ.items())


def _without_env_lookups(api: client.ApiClient) -> None:
    """kubernetes_asyncio opens its session with trust_env=True, which looks up .netrc in a thread on every call
    (0.74 ms instead of 0.31 ms for a GET). Without proxy variables there is nothing to find: a session without it."""
    rest = api.rest_client
    old = rest.pool_manager
    rest.pool_manager = aiohttp.ClientSession(connector=old.connector, trust_env=False, read_bufsize=READ_BUFFER)
    old.detach()


def decode(payload: bytes) -> Any:
    """An answer's JSON, decoded with orjson (twice as fast as json on a page of Services). What orjson refuses and
    json reads (lone surrogates, NaN: a cluster in Python may send them) is read by json; integers past 64 bits
    come back as floats, as a real API server has already made them (sigs.k8s.io/json decodes them so)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


def _metric_resource(resource: Resource) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural  # as kubectl names it


class Cluster:
    def __init__(self, api: client.ApiClient, namespace: str, timeout: float, user: str = "",
                 bearer: str = "", exec_credentials: ExecCredentials | None = None,
                 outages: OutageLog | None = None) -> None:
        self.api = api
        self.namespace = namespace
        self.timeout = timeout
        self.user = user  # who the cluster sees, for logs: the kubeconfig's user, the pod's service account, a user
        self.bearer = bearer  # a user's token: sent instead of any credentials of the console's own
        self.exec_credentials = exec_credentials
        self._anonymous: client.ApiClient | None = None  # credential-less, for users' tokens; made when first needed
        self.outages = outages or OutageLog(log)  # one server: shared with the Clusters made for users

    def _unreachable(self, error: BaseException | str, seconds: float | None = None) -> Unreachable:
        """Unreachable, in a user's words; the library's own account of it goes to the log, for the operator (once
        an outage, then a reminder while it lasts: app.cluster.outage)."""
        if isinstance(error, str):
            cause, detail = errors.NOT_KUBERNETES, error
        else:
            cause, detail = errors.cause_of(error), errors.detail_of(error)
        self.outages.failed(self.server, cause, detail)
        return Unreachable(self.server, cause, detail, seconds)

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    def as_user(self, token: str, user: str = "") -> Cluster:
        """The same cluster, acting with a user's bearer token (and no credentials of the console's own)."""
        if self._anonymous is None:
            configuration = copy.deepcopy(self.api.configuration)
            configuration.api_key, configuration.api_key_prefix = {}, {}
            configuration.cert_file = configuration.key_file = None
            configuration.username = configuration.password = None
            configuration.refresh_api_key_hook = None
            self._anonymous = client.ApiClient(configuration)
            self._anonymous.user_agent = str(self.api.user_agent)
            if not proxy_configured():
                _without_env_lookups(self._anonymous)
        return Cluster(self._anonymous, self.namespace, self.timeout, user, bearer=token, outages=self.outages)

    def _auth(self, headers: dict[str, str]) -> list[str]:
        """The auth settings for a call (and its Authorization header when it acts for a user)."""
        if self.bearer:
            headers["Authorization"] = f"Bearer {self.bearer}"
            return []
        return ["BearerToken"]

    @classmethod
    async def connect(
        cls, kubeconfig: str | None = None, context: str | None = None, request_timeout: float = 10.0
    ) -> Cluster:
        """From a kubeconfig (the flag, then KUBECONFIG, then ~/.kube/config), else the pod's service account."""
        files, namespace_file = _locate(kubeconfig, context)
        exec_credentials = None
        try:
            if files:
                context = context or current_context(files)
                configuration = client.Configuration()
                loader = await config.load_kube_config(config_file=files, context=context,
                                                       client_configuration=configuration, persist_config=False)
                if "exec" in (loader._user or {}):  # noqa: SLF001 - the loader keeps what the plugin needs
                    exec_credentials = ExecCredentials(loader, configuration)
                    configuration.refresh_api_key_hook = exec_credentials.hook
                api = client.ApiClient(configuration)
                contexts, _ = config.list_kube_config_contexts(config_file=files)
                chosen = next((c for c in contexts if c["name"] == context), None)
                namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
                user = str(((chosen or {}).get("context") or {}).get("user") or "")
            else:
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                api = client.ApiClient(configuration)
                namespace = namespace_file or "default"
                user = _in_cluster_user()
        except (config.ConfigException, OSError, ValueError, KeyError, TypeError, AttributeError,
                yaml.YAMLError) as error:  # a file that is not a kubeconfig fails in any of these
            where = files or "the in-cluster service account"
            said = " ".join(str(error).split())  # one line: YAML's errors point at the place over several
            raise KubeconfigError(f"could not load the cluster configuration from {where}: {said}") from None
        api.user_agent = "knative-console/0.1"
        if not proxy_configured():
            _without_env_lookups(api)
        return cls(api, namespace, request_timeout, user, exec_credentials=exec_credentials)

    async def close(self) -> None:
        """Close this cluster's connections (a user's Cluster shares its parent's: closing it does nothing)."""
        if self.bearer:
            return
        await self.api.close()
        if self._anonymous is not None:
            await self._anonymous.close()

    async def _call(
        self, resource: Resource, method: str, path: str, query: list[tuple[str, Any]] | None = None,
        body: Any = None, content_type: str = "application/json", verb: str = "",
        request_timeout: float | None = None,
    ) -> dict[str, Any]:
        """One API call, timed and counted by verb, resource and outcome (`ok` or our error's type)."""
        with metrics.kubernetes_call(verb or _verb(method, path, query or [], resource), _metric_resource(resource)):
            try:
                return await self._send(resource, method, path, query, body, content_type,
                                        request_timeout or self.timeout)
            except Unauthorized:
                if self.exec_credentials is None:
                    raise
                # The plugin's token was revoked or expired early: as client-go does, get a new one and try again.
                await self.exec_credentials.refresh(force=True)
                return await self._send(resource, method, path, query, body, content_type,
                                        request_timeout or self.timeout)

    async def _send(
        self, resource: Resource, method: str, path: str, query: list[tuple[str, Any]] | None,
        body: Any, content_type: str, request_timeout: float,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        auth = self._auth(headers)
        try:
            # The answer is read and decoded here: the generated client's deserialize adds nothing to a dict.
            response = await self.api.call_api(
                path, method, query_params=query or [], header_params=headers, body=body,
                auth_settings=auth, _preload_content=False, _request_timeout=request_timeout,
            )
            try:
                payload = await response.read()
            finally:
                response.release()
        except ApiException as error:  # raised before any answer (a request it cannot build)
            raise from_status(error.status, error.body, error.reason or "") from None
        except config.ConfigException as error:  # the kubeconfig's credential plugin failed when run again
            raise Unauthorized(401, "Unauthorized", f"The kubeconfig's credential plugin failed: {error}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise self._unreachable(error, request_timeout) from None
        self.outages.answered(self.server)
        if response.status >= 400:
            raise self._failure(resource, response.status, payload, response.reason or "")
        try:
            answer: dict[str, Any] = decode(payload) if payload else {}
        except ValueError:
            raise ClusterError(response.status, "BadResponse",
                               f"{self.server} answered with something that is not JSON") from None
        return answer

    def _failure(self, resource: Resource, status: int, body: bytes, reason: str) -> ClusterError:
        failure = from_status(status, body, reason, self.server)
        if resource.knative and failure.code == 404 and not failure.details.get("name"):
            return KnativeNotInstalled(
                404, "NotFound",
                f"Knative Serving is not installed in this cluster: {self.server} does not serve "
                f"{resource.plural}.{resource.group}/{resource.version}.",
            )
        return failure

    @asynccontextmanager
    async def watch(
        self, resource: Resource, namespace: str | None = None, resource_version: str = "",
        timeout_seconds: int = WATCH_SECONDS,
    ) -> AsyncIterator[AsyncIterator[Event]]:
        """A watch of a collection from `resource_version`, open once this is entered: its events, bookmarks
        included, until the server ends it. A 410 (the version is too old), at the start or as an ERROR event,
        raises Expired; a broken connection raises Unreachable."""
        query: list[tuple[str, Any]] = [("watch", "true"), ("allowWatchBookmarks", "true"),
                                        ("timeoutSeconds", timeout_seconds)]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        # No total: it is a long answer. A silent connection is dead once the server's own timeout has passed.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=timeout_seconds + self.timeout)
        with metrics.kubernetes_call("watch", _metric_resource(resource)):
            response = await self._open(resource, resource.path(namespace), query, "application/json", timeout)
        try:
            yield self._events(response)
        finally:
            response.close()

    async def _events(self, response: aiohttp.ClientResponse) -> AsyncIterator[Event]:
        try:
            async for line in response.content:
                if not line.strip():
                    continue
                event = decode(line)
                kind, obj = str(event.get("type") or ""), event.get("object") or {}
                if kind == "ERROR":
                    failure = from_status(int(obj.get("code") or 500), json.dumps(obj))
                    raise Expired(failure.code, failure.reason, failure.message) if failure.code == 410 else failure
                yield kind, obj
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise self._unreachable(error) from None
        except ValueError:
            raise self._unreachable("the watch sent a line that is not JSON") from None

    async def serves(self, resource: Resource, request_timeout: float | None = None) -> bool:
        """Whether the API server's discovery lists `resource` in its group/version (raises when it cannot say)."""
        group_version = resource.path().rsplit("/", 1)[0]  # /apis/<group>/<version>, or /api/v1
        listed = await self._call(resource, "GET", group_version, verb="discover", request_timeout=request_timeout)
        return any(item.get("name") == resource.plural for item in listed.get("resources") or [])

    async def whoami(self) -> Identity:
        """Who the cluster sees these credentials as (SelfSubjectReview, authentication.k8s.io/v1)."""
        answer = await self._call(SELF_SUBJECT_REVIEW, "POST", SELF_SUBJECT_REVIEW.path(),
                                  body={"apiVersion": SELF_SUBJECT_REVIEW.api_version, "kind": "SelfSubjectReview"},
                                  verb="create")
        info = (answer.get("status") or {}).get("userInfo") or {}
        groups = info.get("groups")
        groups = groups if isinstance(groups, list) else []
        return Identity(str(info.get("username") or ""), tuple(str(g) for g in groups), str(info.get("uid") or ""))

    async def can_i(self, verb: str, resource: Resource, namespace: str = "", name: str = "",
                    subresource: str = "") -> tuple[bool, str]:
        """Whether these credentials may do `verb` on `resource` (SelfSubjectAccessReview), and the reason given."""
        attributes = {"verb": verb, "group": resource.group, "version": resource.version,
                      "resource": resource.plural}
        if namespace:
            attributes["namespace"] = namespace
        if name:
            attributes["name"] = name
        if subresource:
            attributes["subresource"] = subresource
        answer = await self._call(SELF_SUBJECT_ACCESS_REVIEW, "POST", SELF_SUBJECT_ACCESS_REVIEW.path(),
                                  body={"apiVersion": SELF_SUBJECT_ACCESS_REVIEW.api_version,
                                        "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attributes}},
                                  verb="create")
        status = answer.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        return await self._call(resource, "GET", resource.path(namespace, name))

    async def list(
        self, resource: Resource, namespace: str | None = None, label_selector: str = "", limit: int = 0,
        continue_token: str = "", field_selector: str = "",
    ) -> dict[str, Any]:
        """A list; with `limit`, one page of it, `metadata.continue` naming the next."""
        query: list[tuple[str, Any]] = [("labelSelector", label_selector)] if label_selector else []
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if limit:
            query.append(("limit", limit))
        if continue_token:
            query.append(("continue", continue_token))
        return await self._call(resource, "GET", resource.path(namespace), query)

    async def pages(
        self, resource: Resource, namespace: str | None = None, label_selector: str = "", *, limit: int,
    ) -> AsyncIterator[dict[str, Any]]:
        """A list `limit` items at a time, each page as the API answers it (the first carries the list's
        resourceVersion; each one's `metadata.continue` leads to the next), until the last. A reader may stop early."""
        token = ""
        while True:
            page = await self.list(resource, namespace, label_selector, limit=limit, continue_token=token)
            yield page
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return

    @asynccontextmanager
    async def log(
        self, pod: str, namespace: str, container: str, tail_lines: int | None = None, follow: bool = False,
        previous: bool = False, since_seconds: int | None = None, timestamps: bool = False,
    ) -> AsyncIterator[AsyncIterator[str]]:
        """A container's output (GET pods/{name}/log), line by line; with `follow`, each new line as it is written,
        until the container stops or the pod goes; with `since_seconds`, only the lines of that many last seconds;
        with `timestamps`, each line after the time the node took it and a space. Raises our error types as the
        other verbs do."""
        query: list[tuple[str, Any]] = [("container", container)]
        if since_seconds is not None:
            query.append(("sinceSeconds", since_seconds))
        if tail_lines is not None:
            query.append(("tailLines", tail_lines))
        if timestamps:
            query.append(("timestamps", "true"))
        if follow:
            query.append(("follow", "true"))
        if previous:
            query.append(("previous", "true"))
        path = POD.path(namespace, pod, "log")
        timeout = aiohttp.ClientTimeout(total=None if follow else self.timeout, sock_connect=self.timeout,
                                        sock_read=None if follow else self.timeout)
        with metrics.kubernetes_call("get", "pods/log"):
            response = await self._open(POD, path, query, "text/plain", timeout)
        try:
            yield self._lines(response)
        finally:
            response.close()

    async def _open(self, resource: Resource, path: str, query: Sequence[tuple[str, Any]], accept: str,
                    limits: aiohttp.ClientTimeout) -> aiohttp.ClientResponse:
        """A long answer's response (a watch, a followed log), not yet read; Unreachable or the API's refusal."""
        headers = {"Accept": accept}
        auth = self._auth(headers)
        try:
            response: aiohttp.ClientResponse = await self.api.call_api(
                path, "GET", query_params=query, header_params=headers,
                auth_settings=auth, _preload_content=False, _request_timeout=limits,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise self._unreachable(error) from None
        self.outages.answered(self.server)
        if response.status >= 400:
            try:
                body = await response.read()
            finally:
                response.release()
            raise self._failure(resource, response.status, body, response.reason or "")
        return response

    async def _lines(self, response: aiohttp.ClientResponse) -> AsyncIterator[str]:
        try:
            async for line in response.content:
                yield line.decode("utf-8", errors="replace").rstrip("\n")
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise self._unreachable(error) from None

    async def create(self, resource: Resource, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        query = [("fieldManager", FIELD_MANAGER)]
        return await self._call(resource, "POST", resource.path(namespace), query, body)

    async def patch(
        self, resource: Resource, name: str, body: Any, namespace: str | None = None, patch_type: str = "merge"
    ) -> dict[str, Any]:
        query = [("fieldManager", FIELD_MANAGER)]
        return await self._call(resource, "PATCH", resource.path(namespace, name), query, body, PATCH_TYPES[patch_type])

    async def delete(
        self, resource: Resource, name: str, namespace: str | None = None, resource_version: str = "",
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Delete, its children in the background; only that version of it with `resource_version`. `options`,
        when given, is the DeleteOptions body as it is sent."""
        if options is None:
            options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
            if resource_version:
                options["preconditions"] = {"resourceVersion": resource_version}
        return await self._call(resource, "DELETE", resource.path(namespace, name), body=options)


__all__ = ["Cluster", "ClusterError", "KubeconfigError"]
