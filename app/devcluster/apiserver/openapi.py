"""The OpenAPI documents kubectl reads: `/openapi/v3` for field validation and `kubectl explain`, and a
minimal `/openapi/v2` (kubectl 1.27/1.28 refuse to apply without one), built from the served kinds' schemas."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.devcluster.apiserver.schema_core import COMPONENT_PREFIX, META_DEFINITIONS, Kind, Schema, list_schema

_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
_STRATEGIC_MERGE = "application/strategic-merge-patch+json"


class OpenApi:
    """The v3 documents, one per group-version of the served kinds, each encoded once."""

    def __init__(self, kinds: tuple[Kind, ...]) -> None:
        grouped: dict[str, list[Kind]] = {}
        for kind in kinds:
            path = f"apis/{kind.group}/{kind.version}" if kind.group else f"api/{kind.version}"
            grouped.setdefault(path, []).append(kind)
        self._json = {
            path: json.dumps(_document(tuple(members)), sort_keys=True, separators=(",", ":")).encode()
            for path, members in grouped.items()
        }

    def v3_root(self, base: str = "") -> dict[str, Any]:
        """The `/openapi/v3` discovery map; each URL carries its document's content hash."""
        return {
            "paths": {
                path: {"serverRelativeURL": f"{base}/openapi/v3/{path}?hash={self.v3_hash(path)}"}
                for path in sorted(self._json)
            }
        }

    def v3_document(self, path: str) -> dict[str, Any] | None:
        """The group-version document for e.g. `api/v1`; None for a group-version nobody serves."""
        data = self.v3_json(path)
        return None if data is None else json.loads(data)  # a fresh copy: callers may change it freely

    def v3_json(self, path: str) -> bytes | None:
        """The document as the exact bytes `v3_hash` is computed over."""
        return self._json.get(path.strip("/"))

    def v3_hash(self, path: str) -> str:
        """Upper-case hex SHA-512 of the document's JSON, as kube-openapi's handler3 computes its ETag."""
        data = self.v3_json(path)
        if data is None:
            raise KeyError(f"no OpenAPI v3 document for {path!r}")
        return hashlib.sha512(data).hexdigest().upper()


def _document(kinds: tuple[Kind, ...]) -> dict[str, Any]:
    schemas: dict[str, Schema] = dict(META_DEFINITIONS)
    paths: dict[str, Any] = {}
    for kind in kinds:
        schemas[kind.definition] = {**kind.schema, "x-kubernetes-group-version-kind": [kind.gvk]}
        schemas[kind.definition + "List"] = {
            **list_schema(kind),
            "x-kubernetes-group-version-kind": [{**kind.gvk, "kind": kind.kind + "List"}],
        }
        paths.update(_paths(kind))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": kind}}


def _in_path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "description": description, "required": True, "schema": {"type": "string"}}


_PRETTY = _query("pretty", "Indent the JSON response.")
_WRITE = [
    _query("dryRun", "All: validate and default the request, but persist nothing."),
    _query("fieldManager", "Name of the actor making the change, recorded in managedFields."),
    _query("fieldValidation", "Ignore, Warn (default) or Strict: what to do about unknown or duplicate fields."),
]
_LIST = [
    _query("allowWatchBookmarks", "Ask for BOOKMARK events in a watch.", "boolean"),
    _query("continue", "Token from the previous page."),
    _query("fieldSelector", "Only objects whose fields match, e.g. metadata.name=x."),
    _query("labelSelector", "Only objects whose labels match."),
    _query("limit", "Most objects to return in one page.", "integer"),
    _query("resourceVersion", "List or watch from this version."),
    _query("resourceVersionMatch", "Exact or NotOlderThan: how resourceVersion applies to a list."),
    _query("timeoutSeconds", "End the list or watch after this many seconds.", "integer"),
    _query("watch", "Stream changes instead of returning a list.", "boolean"),
]
_DELETE = [
    _WRITE[0],
    _query("gracePeriodSeconds", "Seconds before the object is deleted.", "integer"),
    _query("propagationPolicy", "Orphan, Background or Foreground: what happens to dependents."),
]
_ACTIONS: dict[str, tuple[str, list[dict[str, Any]], tuple[str, ...]]] = {
    "list": ("list or watch {kind} objects", _LIST, ("200",)),
    "post": ("create a {kind}", _WRITE, ("200", "201", "202")),
    "deletecollection": ("delete a collection of {kind} objects", [*_LIST, *_DELETE], ("200",)),
    "get": ("read the specified {kind}", [], ("200",)),
    "put": ("replace the specified {kind}", _WRITE, ("200", "201")),
    "patch": (
        "partially update the specified {kind}",
        [*_WRITE, _query("force", "Take over conflicting fields in an apply request.", "boolean")],
        ("200", "201"),
    ),
    "delete": ("delete a {kind}", _DELETE, ("200", "202")),
}
_PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
_STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"


def _paths(kind: Kind) -> dict[str, Any]:
    prefix = f"/apis/{kind.group_version}" if kind.group else "/api/v1"
    scope = [_in_path("namespace", "Namespace of the objects.")] if kind.namespaced else []
    collection = prefix + ("/namespaces/{namespace}" if kind.namespaced else "") + f"/{kind.plural}"
    item = collection + "/{name}"
    named = [_in_path("name", f"Name of the {kind.kind}."), *scope, _PRETTY]
    listed = kind.definition + "List"
    paths: dict[str, Any] = {
        collection: {
            "parameters": [*scope, _PRETTY],
            "get": _operation(kind, "list", reply=listed),
            "post": _operation(kind, "post"),
            "delete": _operation(kind, "deletecollection"),
        },
        item: {"parameters": named, **{verb: _operation(kind, verb) for verb in ("get", "put", "patch", "delete")}},
    }
    if kind.status_subresource:
        paths[item + "/status"] = {
            "parameters": named,
            **{verb: _operation(kind, verb, status=True) for verb in ("get", "put", "patch")},
        }
    if kind.namespaced:
        paths[f"{prefix}/{kind.plural}"] = {"parameters": [_PRETTY], "get": _operation(kind, "list", reply=listed)}
    return paths


def _operation(kind: Kind, action: str, *, reply: str = "", status: bool = False) -> dict[str, Any]:
    summary, parameters, codes = _ACTIONS[action]
    reply = reply or (_STATUS if action.startswith("delete") else kind.definition)
    operation: dict[str, Any] = {
        "description": summary.format(kind=kind.kind) + (" status" if status else ""),
        "parameters": parameters,
        "responses": {code: {"description": "OK", **_content(["application/json"], reply)} for code in codes},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": kind.gvk,
    }
    if action in ("post", "put"):
        operation["requestBody"] = {**_content(["application/json"], kind.definition), "required": True}
    elif action == "patch":
        # kubectl picks strategic merge patch only if it is listed here; custom resources never list it.
        patch_types = [*_PATCH_TYPES, *([_STRATEGIC_MERGE] if kind.strategic_merge else [])]
        operation["requestBody"] = {**_content(patch_types, _PATCH), "required": True}
    return operation


def _content(media_types: list[str], definition: str) -> dict[str, Any]:
    return {"content": {media: {"schema": {"$ref": COMPONENT_PREFIX + definition}} for media in media_types}}


# -- OpenAPI v2 ------------------------------------------------------------------------------


def openapi_v2_protobuf() -> bytes:
    """`openapi_v2.Document{swagger: "2.0", info: {title, version}}` as protobuf: enough for kubectl 1.27–1.33.

    It carries no definitions on purpose: kubectl then finds no GVK in it and relies on the
    v3 documents and server-side field validation.
    """
    info = _length_delimited(1, b"Kubernetes") + _length_delimited(2, b"v1.33.0")
    return _length_delimited(1, b"2.0") + _length_delimited(2, info)


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
