"""The console's one door to Kubernetes: a few verbs over declared resources, through kubernetes_asyncio.

Every call has a timeout, names its content type (the generated client would otherwise send a
dict patch as json-patch), and turns failures into `app.cluster.errors` types.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from app import metrics
from app.cluster.errors import ClusterError, KnativeNotInstalled, Unreachable, from_status
from app.cluster.resources import Resource

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
FIELD_MANAGER = "knative-console"
IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_RESPONSE_TYPES = {200: "object", 201: "object", 202: "object"}


class KubeconfigError(Exception):
    """The kubeconfig (or in-cluster configuration) could not be loaded; the message says which and why."""


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer within the timeout"
    text = str(error) or type(error).__name__
    return text.split(" [", 1)[0] if isinstance(error, aiohttp.ClientConnectorError) else text


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


def _metric_resource(resource: Resource) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural  # as kubectl names it


class Cluster:
    def __init__(self, api: client.ApiClient, namespace: str, timeout: float, user: str = "") -> None:
        self.api = api
        self.namespace = namespace
        self.timeout = timeout
        self.user = user  # who the cluster sees: the kubeconfig's user or the pod's service account, for logs

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    @classmethod
    async def connect(
        cls, kubeconfig: str | None = None, context: str | None = None, request_timeout: float = 10.0
    ) -> Cluster:
        """From a kubeconfig (the flag, then KUBECONFIG, then ~/.kube/config), else the pod's service account."""
        files, namespace_file = _locate(kubeconfig, context)
        try:
            if files:
                api = await config.new_client_from_config(config_file=files, context=context)
                contexts, current = config.list_kube_config_contexts(config_file=files)
                chosen = next((c for c in contexts if c["name"] == context), current) if context else current
                namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
                user = str(((chosen or {}).get("context") or {}).get("user") or "")
            else:
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                api = client.ApiClient(configuration)
                namespace = namespace_file or "default"
                user = _in_cluster_user()
        except (config.ConfigException, OSError, ValueError, KeyError) as error:
            where = files or "the in-cluster service account"
            raise KubeconfigError(f"could not load the cluster configuration from {where}: {error}") from None
        api.user_agent = "knative-console/0.1"
        return cls(api, namespace, request_timeout, user)

    async def close(self) -> None:
        await self.api.close()

    async def _call(
        self, resource: Resource, method: str, path: str, query: list[tuple[str, Any]] | None = None,
        body: Any = None, content_type: str = "application/json", verb: str = "",
        request_timeout: float | None = None,
    ) -> dict[str, Any]:
        """One API call, timed and counted by verb, resource and outcome (`ok` or our error's type)."""
        with metrics.kubernetes_call(verb or _verb(method, path, query or [], resource), _metric_resource(resource)):
            return await self._send(resource, method, path, query, body, content_type,
                                    request_timeout or self.timeout)

    async def _send(
        self, resource: Resource, method: str, path: str, query: list[tuple[str, Any]] | None,
        body: Any, content_type: str, request_timeout: float,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            answer: dict[str, Any] = await self.api.call_api(
                path, method, query_params=query or [], header_params=headers, body=body,
                response_types_map=_RESPONSE_TYPES, auth_settings=["BearerToken"],
                _return_http_data_only=True, _request_timeout=request_timeout,
            )
            return answer
        except ApiException as error:
            failure = from_status(error.status, error.body, error.reason or "")
            if resource.knative and failure.code == 404 and not failure.details.get("name"):
                raise KnativeNotInstalled(
                    404, "NotFound",
                    f"Knative Serving is not installed in this cluster: {self.server} does not serve "
                    f"{resource.plural}.{resource.group}/{resource.version}.",
                ) from None
            raise failure from None
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise Unreachable(self.server, _describe(error)) from None

    async def serves(self, resource: Resource, request_timeout: float | None = None) -> bool:
        """Whether the API server's discovery lists `resource` in its group/version (raises when it cannot say)."""
        group_version = resource.path().rsplit("/", 1)[0]  # /apis/<group>/<version>, or /api/v1
        listed = await self._call(resource, "GET", group_version, verb="discover", request_timeout=request_timeout)
        return any(item.get("name") == resource.plural for item in listed.get("resources") or [])

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        return await self._call(resource, "GET", resource.path(namespace, name))

    async def list(
        self, resource: Resource, namespace: str | None = None, label_selector: str = "", limit: int = 0,
        continue_token: str = "",
    ) -> dict[str, Any]:
        """A list; with `limit`, one page of it, `metadata.continue` naming the next."""
        query: list[tuple[str, Any]] = [("labelSelector", label_selector)] if label_selector else []
        if limit:
            query.append(("limit", limit))
        if continue_token:
            query.append(("continue", continue_token))
        return await self._call(resource, "GET", resource.path(namespace), query)

    async def create(self, resource: Resource, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        query = [("fieldManager", FIELD_MANAGER)]
        return await self._call(resource, "POST", resource.path(namespace), query, body)

    async def patch(
        self, resource: Resource, name: str, body: Any, namespace: str | None = None, patch_type: str = "merge"
    ) -> dict[str, Any]:
        query = [("fieldManager", FIELD_MANAGER)]
        return await self._call(resource, "PATCH", resource.path(namespace, name), query, body, PATCH_TYPES[patch_type])

    async def delete(
        self, resource: Resource, name: str, namespace: str | None = None, resource_version: str = ""
    ) -> dict[str, Any]:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if resource_version:
            options["preconditions"] = {"resourceVersion": resource_version}
        return await self._call(resource, "DELETE", resource.path(namespace, name), body=options)


__all__ = ["Cluster", "ClusterError", "KubeconfigError"]
