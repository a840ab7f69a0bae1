"""The HTTP face of the API server: routing paths to discovery, OpenAPI and the REST verbs.

Every path answers like a Kubernetes apiserver: unknown paths are 404 Status bodies, errors
are `kind: Status`, and nothing a client sends produces a framework error page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from app.devcluster.apiserver import discovery, errors, tables
from app.devcluster.apiserver.audit import AuditLog
from app.devcluster.apiserver.authn import Authenticator, impersonate
from app.devcluster.apiserver.errors import ApiError
from app.devcluster.apiserver.hosts import LOOPBACK_NAMES, hostname, refusal
from app.devcluster.apiserver.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from app.devcluster.apiserver.metrics import ApiMetrics, metric_verb
from app.devcluster.apiserver.openapi import OpenApi, openapi_v2_protobuf
from app.devcluster.apiserver.podlogs import ContainerLogs, LogOptions, container_of, run_for, stream, validate
from app.devcluster.apiserver.protobuf import ProtobufError, decode_object
from app.devcluster.apiserver.rbac import Attributes, Authorizer, forbidden
from app.devcluster.apiserver.requestinfo import request_info
from app.devcluster.apiserver.requests import (
    BODY_LIMIT,
    delete_options,
    go_bool,
    go_int,
    media_type,
    parse_body,
    quote_warning,
    read_body,
    read_object,
    table_request,
)
from app.devcluster.apiserver.resources import NAMESPACE, SERVICE_ACCOUNT, Registry, ResourceDef
from app.devcluster.apiserver.responses import json_response, list_response, status_response, text_response
from app.devcluster.apiserver.rest import Call, Rest
from app.devcluster.apiserver.reviews import Reviews
from app.devcluster.apiserver.selectors import FieldSelector, parse_field_selector, parse_label_selector
from app.devcluster.apiserver.serviceaccounts import ServiceAccounts
from app.devcluster.apiserver.store import key_of, split_key
from app.devcluster.apiserver.users import UserInfo, anonymous
from app.devcluster.apiserver.watch import Watches, WatchParams

log = logging.getLogger("devcluster.api")

_PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/apply-patch+yaml": "apply",
    "application/strategic-merge-patch+json": "strategic",
}
_HEALTH = ("/healthz", "/livez", "/readyz")
DELETE_BATCH = 50
HEADER_TIMEOUT = 32.0  # kube-apiserver's ReadHeaderTimeout


@dataclass
class ApiServer:
    registry: Registry
    rest: Rest
    watches: Watches
    openapi: OpenApi
    address: str  # host:port, for /api's serverAddressByClientCIDRs
    authenticator: Authenticator
    authorizer: Authorizer
    accounts: ServiceAccounts
    metrics: ApiMetrics
    allowed_hosts: frozenset[str] = frozenset(LOOPBACK_NAMES)  # names the server is reached by
    header_timeout: float = HEADER_TIMEOUT
    logs: ContainerLogs = field(default_factory=ContainerLogs)  # what the node's containers wrote
    audit: AuditLog | None = None

    def __post_init__(self) -> None:
        self.reviews = Reviews(self.authorizer, self.authenticator.user_for_token)

    def application(self) -> web.Application:
        # aiohttp's keep-alive timer starts with the connection and only a complete request stops it, so it is
        # also the time a client gets to send a request's headers: a slow or partial one (slowloris) is closed.
        app = web.Application(
            client_max_size=BODY_LIMIT * 4, middlewares=[self._check_host],
            handler_args={"max_field_size": 65536, "keepalive_timeout": self.header_timeout},
        )
        app.router.add_route("*", r"/{tail:[\s\S]*}", self.handle)  # any path, control characters included
        return app

    @web.middleware
    async def _check_host(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A Host that is not one of the server's own names gets 400 before anything else (DNS rebinding)."""
        host = request.headers.get("Host")
        if host is not None and hostname(host) not in self.allowed_hosts:
            return status_response(errors.bad_request(refusal(host, self.allowed_hosts)))
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return status_response(errors.path_not_found())  # what the router itself refuses, as a Status too

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one request, counted for /metrics by what it asked for and how it was answered."""
        started, received = time.perf_counter(), datetime.now(UTC)
        attrs = request_info(request.method, request.path, request.query, anonymous())
        labels = self.metrics.labels(attrs, metric_verb(attrs, request.method, self._patch_type(request)),
                                     "dryRun" in request.query)
        code = 500
        try:
            response = await self._serve(request, attrs, labels)
            code = response.status
            return response
        except web.HTTPException as error:
            code = error.status
            raise
        finally:
            self.metrics.observe(labels, code, time.perf_counter() - started)
            if self.audit is not None:
                decision, reason = request.get("decision", ("", ""))
                self.audit.record(request.get("attrs", attrs), request.method, request.path_qs, code, received,
                                  request.remote or "", request.headers.get("User-Agent", ""), decision, reason)

    async def _serve(self, request: web.Request, attrs: Attributes, labels: dict[str, Any]) -> web.StreamResponse:
        """Authenticate, impersonate and authorize, as kube-apiserver's filters do in that order, then route."""
        watching = labels["verb"] == "WATCH"
        try:
            user = self.authenticator.authenticate(request.headers)
            user = impersonate(request.headers, user, self.authorizer.authorize, request.path_qs)
            attrs = replace(attrs, user=user)
            request["attrs"] = attrs
            allowed, reason = self.authorizer.authorize(attrs)
            request["decision"] = ("allow" if allowed else "forbid", reason)
            if not allowed:
                raise forbidden(attrs, reason)
            request["user"] = user
            if watching:
                self.metrics.watches.labels(**labels).inc()
                if self.audit is not None:
                    self.audit.record(attrs, request.method, request.path_qs, 200, datetime.now(UTC),
                                      request.remote or "", request.headers.get("User-Agent", ""), "allow", reason,
                                      stage="ResponseStarted")
            try:
                return await self._route(request)
            finally:
                if watching:
                    self.metrics.watches.labels(**labels).dec()
        except ApiError as error:
            return status_response(error)
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug here must still answer like an apiserver
            log.exception("internal error serving %s %s", request.method, request.path)
            return status_response(errors.internal(type(exc).__name__))

    @staticmethod
    def _patch_type(request: web.Request) -> str:
        return _PATCH_TYPES.get(media_type(request.headers.get("Content-Type", "")), "") \
            if request.method == "PATCH" else ""

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.rstrip("/") in _HEALTH or path.startswith(tuple(f"{h}/" for h in _HEALTH)):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/metrics":
            return web.Response(body=self.metrics.exposition(), headers={"Content-Type": METRICS_CONTENT_TYPE})
        if path in ("/version", "/version/"):
            return json_response(discovery.VERSION)
        if path.startswith("/openapi/"):
            return self._openapi(request)
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in ("api", "apis"):
            raise errors.path_not_found()
        if len(parts) == 1:
            # /api and /apis answer in the aggregated form only when the client asks for it.
            core = parts[0] == "api"
            version = discovery.aggregated_version(request.headers.get("Accept", ""))
            if version:
                return json_response(discovery.aggregated(self.registry, core, version),
                                     discovery.aggregated_content_type(version))
            return json_response(discovery.api_versions(self.address) if core
                                 else discovery.api_group_list(self.registry))
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) == 2:
            body = discovery.api_group(self.registry, parts[1])
            if body is None:
                raise errors.path_not_found()
            return json_response(body)
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            body = discovery.resource_list(self.registry, group, version)
            if body is None:
                raise errors.path_not_found()
            return json_response(body)
        return await self._resource(request, group, version, rest)

    def _openapi(self, request: web.Request) -> web.Response:
        path = request.path
        if path == "/openapi/v2":
            return web.Response(
                body=openapi_v2_protobuf(),
                headers={"Content-Type": "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"},
            )
        if path in ("/openapi/v3", "/openapi/v3/"):
            return json_response(self.openapi.v3_root())
        if path.startswith("/openapi/v3/"):
            document_path = path[len("/openapi/v3/"):]
            document = self.openapi.v3_document(document_path)
            if document is None:
                raise errors.path_not_found()
            return json_response(document)
        raise errors.path_not_found()

    # -- resources --------------------------------------------------------------------------

    async def _resource(self, request: web.Request, group: str, version: str, rest: list[str]) -> web.StreamResponse:
        namespace = ""
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and rest[2] not in NAMESPACE.subresources
        ):
            namespace, rest = rest[1], rest[2:]
            resource = self.registry.lookup(group, version, rest[0])
            if resource is None or not resource.namespaced:
                raise errors.path_not_found()
        else:
            resource = self.registry.lookup(group, version, rest[0])
            if resource is None:
                raise errors.path_not_found()
        if len(rest) > 3:
            raise errors.path_not_found()
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if subresource and subresource not in resource.subresources:
            raise errors.path_not_found()
        if name and resource.namespaced and not namespace:
            raise errors.path_not_found()
        method = request.method
        if resource.virtual or subresource == "token":
            if method != "POST" or bool(name) != (subresource == "token"):
                raise errors.method_not_allowed(method)
            return await self._review(request, resource, namespace, name)
        call = self._call(request, resource, namespace, name, subresource)
        # A resource served read-only (the node) answers only the verbs it lists, as its REST storage does.
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method) if name else \
            {"POST": "create"}.get(method)
        if verb is not None and subresource != "finalize" and verb not in resource.verbs:
            raise errors.method_not_allowed(method)
        if not name:
            if method == "GET":
                return await self._list_or_watch(request, call)
            if method == "POST":
                return await self._create(request, call)
            if method == "DELETE" and "deletecollection" in resource.verbs:
                return await self._delete_collection(request, call)
            raise errors.method_not_allowed(method)
        if subresource == "finalize" and method != "PUT":
            raise errors.method_not_allowed(method)
        if subresource == "log":
            if method != "GET":
                raise errors.method_not_allowed(method)
            return await self._pod_log(request, call)
        if method == "GET":
            if go_bool(request.query.get("watch")):
                return await self._list_or_watch(request, call)
            stored = self.rest.store.body(resource.key, key_of(namespace, name))
            if stored is not None and not table_request(request)[0]:
                return text_response(stored)  # as committed, without decoding it
            return self._object_response(request, resource, self.rest.get(call))
        if method == "PUT":
            body = await read_object(request, resource)
            if subresource == "finalize":
                call.subresource = ""
            return self._object_response(request, resource, self.rest.update(call, body), call=call)
        if method == "PATCH":
            return await self._patch(request, call)
        if method == "DELETE" and not subresource:
            return await self._delete(request, call)
        raise errors.method_not_allowed(method)

    async def _pod_log(self, request: web.Request, call: Call) -> web.StreamResponse:
        """A container's output, as kube-apiserver proxies it from the pod's kubelet; `follow` streams it."""
        query = request.query
        options = LogOptions(
            follow=go_bool(query.get("follow")), timestamps=go_bool(query.get("timestamps")),
            tail_lines=go_int(query.get("tailLines"), "tailLines", signed=True),
            since_seconds=go_int(query.get("sinceSeconds"), "sinceSeconds", signed=True),
            limit_bytes=go_int(query.get("limitBytes"), "limitBytes", signed=True),
        )
        validate(options, call.name, bool(query.get("sinceTime")))
        pod = self.rest.get(call)
        container = container_of(pod, query.get("container", ""))
        if not (pod.get("spec") or {}).get("nodeName"):
            # Not scheduled yet: no kubelet to ask. LogLocation gives no location (pkg/registry/core/pod/strategy.go),
            # and the API server answers a null stream with 204 No Content (responsewriters.StreamObject).
            return web.Response(status=204)
        run = run_for(self.logs, pod, container, go_bool(query.get("previous")))
        response = web.StreamResponse(headers={"Content-Type": "text/plain", "Cache-Control": "no-cache, private"})
        await response.prepare(request)
        lines = stream(run, options, time.time())
        try:
            while (text := await _next_while_connected(request, lines)) is not None:
                await response.write(text.encode())
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away as the last lines were written: there is no one to answer
        finally:
            await lines.aclose()
        return response

    def _call(self, request: web.Request, resource: ResourceDef, namespace: str, name: str, sub: str) -> Call:
        query = request.query
        manager = query.get("fieldManager")
        if manager is None:
            manager = request.headers.get("User-Agent", "").split("/", 1)[0]
        if len(manager) > 128:
            raise errors.invalid(
                "PatchOptions" if request.method == "PATCH" else "CreateOptions", "meta.k8s.io", "",
                [("FieldValueTooLong", "fieldManager", "Too long: may not be longer than 128")],
            )
        dry_run = query.getall("dryRun", [])
        if any(d != "All" for d in dry_run):
            raise errors.invalid(
                "DeleteOptions" if request.method == "DELETE" else "CreateOptions", "meta.k8s.io", "",
                [("FieldValueNotSupported", "dryRun", f'Unsupported value: "{dry_run[0]}": supported values: "All"')],
            )
        validation = query.get("fieldValidation", "")
        if validation not in ("", "Ignore", "Warn", "Strict"):
            raise errors.bad_request(
                f'fieldValidation parameter unsupported: "{validation}". Must be one of: "Ignore", "Warn", "Strict"'
            )
        force = go_bool(query.get("force")) if "force" in query else None
        user: UserInfo = request["user"]
        return Call(
            resource=resource,
            namespace=namespace,
            name=name,
            subresource=sub,
            user=user.name,
            user_info=user,
            manager=manager,
            dry_run=bool(dry_run),
            field_validation=validation,
            force=force,
        )

    async def _list_or_watch(self, request: web.Request, call: Call) -> web.StreamResponse:
        query = request.query
        resource = call.resource
        labels = parse_label_selector(query.get("labelSelector"))
        fields = parse_field_selector(query.get("fieldSelector"), resource.field_labels)
        if call.name:
            selected = fields.value_of("metadata.name")
            if fields.terms and selected != call.name:
                raise errors.bad_request("fieldSelector metadata.name doesn't match requested name")
            fields = FieldSelector((*fields.terms, ("metadata.name", "=", call.name)))
        table, include = table_request(request)
        if go_bool(query.get("watch")):
            params = WatchParams(
                resource=resource,
                namespace=call.namespace,
                labels=labels,
                fields=fields,
                resource_version=query.get("resourceVersion", ""),
                timeout_seconds=go_int(query.get("timeoutSeconds"), "timeoutSeconds"),
                bookmarks=go_bool(query.get("allowWatchBookmarks")),
                table=table,
                include_object=include,
            )
            return await self.watches.serve(request, params)
        keys, metadata = self.rest.list(
            resource, call.namespace, labels, fields,
            limit=go_int(query.get("limit"), "limit") or 0,
            continue_token=query.get("continue", ""),
            rv_match=query.get("resourceVersionMatch", ""),
            rv=query.get("resourceVersion", ""),
        )
        store = self.rest.store
        if table:
            items = [obj for key in keys if (obj := store.load(resource.key, key)) is not None]
            return json_response(
                tables.table(resource, items, metadata["resourceVersion"], include,
                             metadata.get("continue", ""), metadata.get("remainingItemCount"))
            )
        return list_response(resource, [body for key in keys if (body := store.body(resource.key, key))], metadata)

    async def _review(self, request: web.Request, resource: ResourceDef, namespace: str, name: str) -> web.Response:
        """A review (SelfSubjectAccessReview, …) or a TokenRequest: answered with 201, nothing stored."""
        kind = "TokenRequest" if resource is SERVICE_ACCOUNT else resource.kind
        if media_type(request.headers.get("Content-Type", "")) == "application/vnd.kubernetes.protobuf":
            try:
                body: Any = decode_object(await read_body(request), kind)
            except (ProtobufError, UnicodeDecodeError) as exc:
                raise errors.bad_request(f"unable to decode protobuf body: {exc}") from None
        else:
            body = await read_object(request, resource)
        if resource is SERVICE_ACCOUNT:
            return json_response(self.accounts.token_request(namespace, name, body), status=201)
        return json_response(self.reviews.answer(resource, body, request["user"], namespace), status=201)

    async def _create(self, request: web.Request, call: Call) -> web.StreamResponse:
        body = await read_object(request, call.resource)
        obj = self.rest.create(call, body)
        return self._object_response(request, call.resource, obj, status=201, call=call)

    async def _patch(self, request: web.Request, call: Call) -> web.StreamResponse:
        media = media_type(request.headers.get("Content-Type", ""))
        patch_type = _PATCH_TYPES.get(media)
        accepted = errors.PATCH_TYPES
        if call.resource is NAMESPACE or not call.resource.custom:
            accepted = "application/json-patch+json, application/merge-patch+json, " \
                       "application/apply-patch+yaml, application/strategic-merge-patch+json"
        if patch_type is None or (patch_type == "strategic" and call.resource.custom):
            raise errors.unsupported_media_type(media, accepted)
        if patch_type == "apply" and not request.query.get("fieldManager"):
            raise errors.invalid(
                "PatchOptions", "meta.k8s.io", "",
                [("FieldValueRequired", "fieldManager", "Required value: is required for apply patch")],
            )
        if call.force is not None and patch_type != "apply":
            raise errors.invalid(
                "PatchOptions", "meta.k8s.io", "",
                [("FieldValueForbidden", "force", "Forbidden: may not be specified for non-apply patch")],
            )
        raw = await read_body(request)
        body = parse_body(raw, yaml_ok=patch_type == "apply")
        status, obj = self.rest.patch(call, patch_type, body)
        return self._object_response(request, call.resource, obj, status=status, call=call)

    async def _delete(self, request: web.Request, call: Call) -> web.StreamResponse:
        options = await delete_options(request)
        status, obj = self.rest.delete(call, options)
        if obj.get("kind") == "Status":
            return json_response(obj, status=status)
        return self._object_response(request, call.resource, obj, status=status)

    async def _delete_collection(self, request: web.Request, call: Call) -> web.StreamResponse:
        options = await delete_options(request)
        labels = parse_label_selector(request.query.get("labelSelector"))
        fields = parse_field_selector(request.query.get("fieldSelector"), call.resource.field_labels)
        store, deleted = self.rest.store, []
        for index, key in enumerate(self.rest.select(call.resource, call.namespace, labels, fields)):
            body = store.body(call.resource.key, key)
            if body is None:
                continue  # gone while this request yielded
            namespace, name = split_key(key)
            one = Call(call.resource, namespace, name, user=call.user, manager=call.manager, dry_run=call.dry_run,
                       user_info=call.user_info)
            try:
                self.rest.delete(one, options)
            except ApiError as error:
                if error.code != 404:
                    raise
            deleted.append(body)
            if index % DELETE_BATCH == DELETE_BATCH - 1:
                await asyncio.sleep(0)  # a large collection must not hold up every other request
        return list_response(call.resource, deleted, {"resourceVersion": str(store.rv)})

    def _object_response(
        self, request: web.Request, resource: ResourceDef, obj: dict[str, Any], status: int = 200,
        call: Call | None = None,
    ) -> web.Response:
        table, include = table_request(request)
        if table:
            response = json_response(tables.table(resource, [obj], obj["metadata"].get("resourceVersion", ""), include),
                                     status=status)
        else:
            response = text_response(self.rest.store.serialized(resource.key, obj), status=status)
        for warning in (call.warnings if call else []):
            response.headers.add("Warning", f'299 - "{quote_warning(warning)}"')
        return response


_GONE_CHECK = 1.0  # seconds between looks at a followed log's connection while no line comes


async def _next_while_connected(request: web.Request, lines: AsyncGenerator[str, None]) -> str | None:
    """The next line, or None once there are no more or the client has gone (aiohttp does not cancel a handler whose
    client left, and a follow with nothing to write would not notice it otherwise)."""
    waiting = asyncio.ensure_future(anext(lines, None))
    try:
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=_GONE_CHECK)
            if done:
                return waiting.result()
            if request.transport is None or request.transport.is_closing():
                return None
    finally:
        if not waiting.done():  # the generator runs in it: it must have stopped before the caller closes it
            waiting.cancel()
            await asyncio.wait({waiting})
