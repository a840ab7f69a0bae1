"""The HTTP face of the dev cluster: routing, content negotiation and Status errors.

Every path answers like a Kubernetes apiserver: unknown paths are 404 Status bodies, errors
are `kind: Status`, and nothing a client sends produces a framework error page.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from app.devcluster.apiserver import discovery, errors, tables
from app.devcluster.apiserver.errors import ApiError
from app.devcluster.apiserver.openapi import OpenApi, openapi_v2_protobuf
from app.devcluster.apiserver.protobuf import ProtobufError, decode_namespace
from app.devcluster.apiserver.resources import NAMESPACE, Registry, ResourceDef
from app.devcluster.apiserver.rest import Call, Rest, kind_list
from app.devcluster.apiserver.selectors import FieldSelector, parse_field_selector, parse_label_selector
from app.devcluster.apiserver.store import Store
from app.devcluster.apiserver.watch import Watches, WatchParams

log = logging.getLogger("devcluster.api")

BODY_LIMIT = 3 * 1024 * 1024
DEFAULT_USER = "devcluster-admin"
_PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/apply-patch+yaml": "apply",
    "application/strategic-merge-patch+json": "strategic",
}
_BODY_TYPES = "application/json, application/yaml, application/vnd.kubernetes.protobuf"
_HEALTH = ("/healthz", "/livez", "/readyz")


@dataclass
class ApiServer:
    registry: Registry
    rest: Rest
    watches: Watches
    openapi: OpenApi
    address: str  # host:port, for /api's serverAddressByClientCIDRs

    def application(self) -> web.Application:
        app = web.Application(client_max_size=BODY_LIMIT * 4, handler_args={"max_field_size": 65536})
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._route(request)
        except ApiError as error:
            return status_response(error)
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug here must still answer like an apiserver
            log.exception("internal error serving %s %s", request.method, request.path)
            return status_response(errors.internal(type(exc).__name__))

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.rstrip("/") in _HEALTH or path.startswith(tuple(f"{h}/" for h in _HEALTH)):
            return web.Response(text="ok", content_type="text/plain")
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
        call = self._call(request, resource, namespace, name, subresource)
        method = request.method
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
        if method == "GET":
            if _bool(request.query.get("watch")):
                return await self._list_or_watch(request, call)
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
        force = _bool(query.get("force")) if "force" in query else None
        return Call(
            resource=resource,
            namespace=namespace,
            name=name,
            subresource=sub,
            user=request.headers.get("Impersonate-User") or DEFAULT_USER,
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
        table, include = _table_request(request)
        if _bool(query.get("watch")):
            params = WatchParams(
                resource=resource,
                namespace=call.namespace,
                labels=labels,
                fields=fields,
                resource_version=query.get("resourceVersion", ""),
                timeout_seconds=_int(query.get("timeoutSeconds"), "timeoutSeconds"),
                bookmarks=_bool(query.get("allowWatchBookmarks")),
                table=table,
                include_object=include,
            )
            return await self.watches.serve(request, params)
        items, metadata = self.rest.list(
            resource, call.namespace, labels, fields,
            limit=_int(query.get("limit"), "limit") or 0,
            continue_token=query.get("continue", ""),
            rv_match=query.get("resourceVersionMatch", ""),
            rv=query.get("resourceVersion", ""),
        )
        if table:
            return json_response(
                tables.table(resource, items, metadata["resourceVersion"], include,
                             metadata.get("continue", ""), metadata.get("remainingItemCount"))
            )
        return list_response(resource, items, metadata, self.rest.store)

    async def _create(self, request: web.Request, call: Call) -> web.StreamResponse:
        body = await read_object(request, call.resource)
        obj = self.rest.create(call, body)
        return self._object_response(request, call.resource, obj, status=201, call=call)

    async def _patch(self, request: web.Request, call: Call) -> web.StreamResponse:
        media = _media_type(request.headers.get("Content-Type", ""))
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
        body = _parse(raw, yaml_ok=patch_type == "apply")
        status, obj = self.rest.patch(call, patch_type, body)
        return self._object_response(request, call.resource, obj, status=status, call=call)

    async def _delete(self, request: web.Request, call: Call) -> web.StreamResponse:
        options = await _delete_options(request)
        status, obj = self.rest.delete(call, options)
        if obj.get("kind") == "Status":
            return json_response(obj, status=status)
        return self._object_response(request, call.resource, obj, status=status)

    async def _delete_collection(self, request: web.Request, call: Call) -> web.StreamResponse:
        options = await _delete_options(request)
        labels = parse_label_selector(request.query.get("labelSelector"))
        fields = parse_field_selector(request.query.get("fieldSelector"), call.resource.field_labels)
        deleted = []
        for obj in list(self.rest.select(call.resource, call.namespace, labels, fields)):
            one = Call(call.resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"],
                       user=call.user, manager=call.manager, dry_run=call.dry_run)
            try:
                self.rest.delete(one, options)
            except ApiError as error:
                if error.code != 404:
                    raise
            deleted.append(obj)
        return list_response(call.resource, deleted, {"resourceVersion": str(self.rest.store.rv)}, self.rest.store)

    def _object_response(
        self, request: web.Request, resource: ResourceDef, obj: dict[str, Any], status: int = 200,
        call: Call | None = None,
    ) -> web.Response:
        table, include = _table_request(request)
        body = tables.table(resource, [obj], obj["metadata"].get("resourceVersion", ""), include) if table else obj
        response = json_response(body, status=status)
        for warning in (call.warnings if call else []):
            response.headers.add("Warning", f'299 - "{_quote(warning)}"')
        return response


# -- request and response helpers ------------------------------------------------------------


def status_response(error: ApiError) -> web.Response:
    response = json_response(error.status(), status=error.code)
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def json_response(body: Any, content_type: str = "application/json", status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(), status=status, headers={"Content-Type": content_type}
    )


def list_response(
    resource: ResourceDef, items: list[dict[str, Any]], metadata: dict[str, Any], store: Store
) -> web.Response:
    head = json.dumps(
        {"apiVersion": resource.api_version, "kind": kind_list(resource), "metadata": metadata},
        separators=(",", ":"),
    )[:-1]
    parts = [store.serialized(resource.key, item) for item in items]
    return web.Response(
        body=(head + ',"items":[' + ",".join(parts) + "]}").encode(),
        headers={"Content-Type": "application/json"},
    )


async def read_body(request: web.Request) -> bytes:
    length = request.content_length
    if length is not None and length > BODY_LIMIT:
        raise errors.too_large(BODY_LIMIT)
    data = bytearray()
    async for chunk in request.content.iter_chunked(65536):
        data += chunk
        if len(data) > BODY_LIMIT:
            raise errors.too_large(BODY_LIMIT)
    return bytes(data)


async def read_object(request: web.Request, resource: ResourceDef) -> Any:
    media = _media_type(request.headers.get("Content-Type", ""))
    raw = await read_body(request)
    if media == "application/vnd.kubernetes.protobuf":
        if resource is not NAMESPACE or request.method != "POST":
            raise errors.unsupported_media_type(media, "application/json, application/yaml")
        try:
            return decode_namespace(raw)
        except (ProtobufError, UnicodeDecodeError) as exc:
            raise errors.bad_request(f"unable to decode protobuf body: {exc}") from None
    if media not in ("", "application/json", "application/yaml", "*/*"):
        raise errors.unsupported_media_type(media, _BODY_TYPES)
    return _parse(raw, yaml_ok=media == "application/yaml")


def _parse(raw: bytes, yaml_ok: bool) -> Any:
    if not raw.strip():
        raise errors.bad_request("the body of the request is empty: send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.bad_request("the body of the request is not valid UTF-8") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        if not yaml_ok:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None


async def _delete_options(request: web.Request) -> dict[str, Any]:
    options: dict[str, Any] = {}
    raw = await read_body(request)
    if raw.strip():
        body = _parse(raw, yaml_ok=False)
        if not isinstance(body, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
        options.update(body)
    query = request.query
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if "orphanDependents" in query:
        options["orphanDependents"] = _bool(query["orphanDependents"])
    if "gracePeriodSeconds" in query:
        options["gracePeriodSeconds"] = _int(query["gracePeriodSeconds"], "gracePeriodSeconds")
    return options


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _table_request(request: web.Request) -> tuple[bool, str]:
    accept = request.headers.get("Accept", "")
    for media in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in media.split(";")[1:])}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            include = request.query.get("includeObject", "Metadata")
            if include not in ("None", "Metadata", "Object"):
                raise errors.bad_request(f'invalid includeObject "{include}"')
            return True, include
        if media.split(";")[0].strip() in ("application/json", "*/*") and "as=" not in media:
            return False, "Metadata"
    return False, "Metadata"


_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def _bool(value: str | None) -> bool:
    """Go's strconv.ParseBool: kubernetes_asyncio sends `True`, kubectl `true`."""
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None
    if number < 0:
        raise errors.bad_request(f"{name} must not be negative")
    return number


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
