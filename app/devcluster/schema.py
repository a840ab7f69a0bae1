"""The served kinds' structural schemas at work: type checks, pruning, and the OpenAPI documents.

`type_errors`, `unknown_fields` and `prune` reproduce what kube-apiserver does with a CRD's
structural schema (apiextensions-apiserver `pruning`, kube-openapi `validate`), so the
devcluster answers like a real cluster before its Knative webhook sees an object. The same
schemas are published at `/openapi/v3` (kubectl's field-validation probe and `kubectl explain`)
and a minimal `/openapi/v2` (kubectl 1.27/1.28 refuse to apply without one).

A `kind` argument may be a bare Kind (`Service`; the object's apiVersion, if any, picks the
group, else Knative wins), `Kind.group`, `plural.group`, or `group/version/Kind` (`v1/Service`
for the core one). Kinds without a schema have nothing to check: the functions return nothing.

For core kinds a real apiserver decodes into Go structs: a wrong JSON type there is a 400
decode error rather than a 422, and unknown fields come back in document order, as here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.devcluster.schema_core import (
    COMPONENT_PREFIX,
    CORE_KINDS,
    META_DEFINITIONS,
    OBJECT_META_SCHEMA,
    Kind,
    Schema,
    list_schema,
)
from app.devcluster.schema_knative import KNATIVE_KINDS

KINDS: tuple[Kind, ...] = KNATIVE_KINDS + CORE_KINDS  # Knative first: a bare "Service" means a ksvc
PRESERVE = "x-kubernetes-preserve-unknown-fields"
# The cause reason of a schema type error (field.ErrorTypeTypeInvalid), for the 422's details.causes.
TYPE_ERROR_REASON = "FieldValueTypeInvalid"
_META_FIELDS = ("apiVersion", "kind", "metadata")


def type_errors(kind: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, message) for each value whose JSON type the schema rejects, in kube-apiserver's words.

    The message is what follows `<field>: ` in a 422 Invalid cause. Nulls in object fields are
    not errors (the apiserver drops them before validating); nulls in lists are. Metadata is
    left to the ObjectMeta decoder.
    """
    found = _find(kind, obj)
    errors: list[tuple[str, str]] = []
    if found is not None and isinstance(obj, dict):
        for key, value in obj.items():
            schema = found.schema["properties"].get(key)
            if key not in _META_FIELDS and schema is not None and value is not None:
                _check_types(value, schema, key, errors, crd=bool(found.group))
    return errors


def unknown_fields(kind: str, obj: dict[str, Any]) -> list[str]:
    """Paths of fields the schema does not know, as `strict decoding error: unknown field "<path>"` lists them."""
    found = _find(kind, obj)
    if found is None or not isinstance(obj, dict):
        return []
    return _prune_fields(found, obj, remove=False)


def prune(kind: str, obj: dict[str, Any]) -> None:
    """Remove unknown fields, and nulls where the schema does not allow them, as the apiserver's decoder does."""
    found = _find(kind, obj)
    if found is not None and isinstance(obj, dict):
        _prune_fields(found, obj, remove=True)
        _drop_nulls(obj, found.schema)


def _find(kind: str, obj: Any) -> Kind | None:
    group: str | None = None
    name = kind
    if "/" in kind:
        group_version, _, name = kind.rpartition("/")
        group = group_version.rpartition("/")[0]
    elif "." in kind:
        name, _, group = kind.partition(".")
    elif isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str):
        group = obj["apiVersion"].rpartition("/")[0]
    for candidate in KINDS:
        if name in (candidate.kind, candidate.plural) and group in (None, candidate.group):
            return candidate
    return None


_DEFINITIONS: dict[str, Schema] = {**META_DEFINITIONS, **{kind.definition: kind.schema for kind in KINDS}}


def _resolve(schema: Schema) -> Schema:
    while True:
        if "$ref" in schema:
            schema = _DEFINITIONS[schema["$ref"].removeprefix(COMPONENT_PREFIX)]
        elif len(schema.get("allOf", ())) == 1 and "$ref" in schema["allOf"][0]:
            schema = schema["allOf"][0]
        else:
            return schema


def _child(schema: Schema | None, key: str) -> Schema | None:
    if schema is None:
        return None
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ---------------------------------------------------------------- type checks (kube-openapi)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int in Python
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _expected_types(schema: Schema) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    return [schema["type"]] if "type" in schema else []


def _type_matches(actual: str, value: Any, expected: list[str]) -> bool:
    if actual in expected:
        return True
    # kube-openapi lets 3.0 pass as an integer and any integer pass as a number.
    if actual == "number" and "integer" in expected:
        return float(value).is_integer()
    return actual == "integer" and "number" in expected


def _check_types(value: Any, schema: Schema, path: str, out: list[tuple[str, str]], *, crd: bool) -> None:
    schema = _resolve(schema)
    expected = _expected_types(schema)
    actual = _json_type(value)
    if value is None:
        if crd and expected and not schema.get("nullable"):
            out.append((path, _type_message(path, expected, actual)))
        return
    if expected and not _type_matches(actual, value, expected):
        out.append((path, _type_message(path, expected, actual)))
        return
    if isinstance(value, dict):
        for key, item in value.items():
            child = _child(schema, key)
            if child is not None and item is not None:
                _check_types(item, child, _join(path, key), out, crd=crd)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check_types(item, schema["items"], f"{path}[{index}]", out, crd=crd)


def _type_message(path: str, expected: list[str], actual: str) -> str:
    # field.TypeInvalid around kube-openapi's InvalidType ("%s in %s must be of type %s: %q").
    return f'Invalid value: "{actual}": {path} in body must be of type {",".join(expected)}: "{actual}"'


# ---------------------------------------------------------------- pruning (apiextensions-apiserver)


def _prune_fields(kind: Kind, obj: dict[str, Any], *, remove: bool) -> list[str]:
    found: list[str] = []
    if not kind.group:
        # Built-in kinds: the strict JSON decoder reports fields in the order it meets them.
        _prune(obj, kind.schema, "", found, remove)
        return found
    # Custom resources: the body is pruned past its type meta and the paths sorted, then
    # ObjectMeta is decoded on its own and its unknown fields are added, sorted, after them.
    for key in list(obj):
        if key not in _META_FIELDS:
            _prune_entry(obj, key, _child(kind.schema, key), "", found, remove)
    metadata_found: list[str] = []
    if isinstance(obj.get("metadata"), dict):
        _prune(obj["metadata"], OBJECT_META_SCHEMA, "metadata", metadata_found, remove)
    return sorted(found) + sorted(metadata_found)


def _prune(value: Any, schema: Schema | None, path: str, found: list[str], remove: bool) -> None:
    if schema is not None:
        schema = _resolve(schema)
        if schema.get(PRESERVE):
            _prune_known(value, schema, path, found, remove)
            return
    if isinstance(value, dict):
        for key in list(value):
            _prune_entry(value, key, _child(schema, key), path, found, remove)
    elif isinstance(value, list):
        items = schema.get("items") if schema is not None else None
        for index, item in enumerate(value):
            _prune(item, items, f"{path}[{index}]", found, remove)


def _prune_entry(
    value: dict[str, Any], key: str, child: Schema | None, path: str, found: list[str], remove: bool
) -> None:
    if child is not None:
        _prune(value[key], child, _join(path, key), found, remove)
        return
    found.append(_join(path, key))
    if remove:
        del value[key]


def _prune_known(value: Any, schema: Schema, path: str, found: list[str], remove: bool) -> None:
    """Below x-kubernetes-preserve-unknown-fields only the declared fields are pruned."""
    if isinstance(value, dict):
        for key in list(value):
            child = _child(schema, key)
            if child is not None:
                _prune(value[key], child, _join(path, key), found, remove)
    elif isinstance(value, list) and "items" in schema:
        items = _resolve(schema["items"])
        for index, item in enumerate(value):
            _prune_known(item, items, f"{path}[{index}]", found, remove)


def _drop_nulls(value: Any, schema: Schema | None) -> None:
    schema = _resolve(schema) if schema is not None else None
    if isinstance(value, dict):
        for key in list(value):
            child = _child(schema, key)
            if value[key] is None and child is not None and not child.get("nullable"):
                del value[key]
            else:
                _drop_nulls(value[key], child)
    elif isinstance(value, list):
        items = schema.get("items") if schema is not None else None
        for item in value:
            _drop_nulls(item, items)


# ---------------------------------------------------------------- OpenAPI v3


_GROUP_VERSIONS: dict[str, tuple[Kind, ...]] = {"api/v1": CORE_KINDS, "apis/serving.knative.dev/v1": KNATIVE_KINDS}
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
_STRATEGIC_MERGE = "application/strategic-merge-patch+json"


def openapi_v3_root(base: str = "") -> dict[str, Any]:
    """The `/openapi/v3` discovery map; each URL carries its document's content hash."""
    return {
        "paths": {
            path: {"serverRelativeURL": f"{base}/openapi/v3/{path}?hash={openapi_v3_hash(path)}"}
            for path in sorted(_GROUP_VERSIONS)
        }
    }


def openapi_v3_document(path: str) -> dict[str, Any] | None:
    """The group-version document for `api/v1` or `apis/serving.knative.dev/v1`; None for any other."""
    data = openapi_v3_json(path)
    return None if data is None else json.loads(data)  # a fresh copy: callers may change it freely


def openapi_v3_json(path: str) -> bytes | None:
    """The document as the exact bytes `openapi_v3_hash` is computed over."""
    kinds = _GROUP_VERSIONS.get(path.strip("/"))
    if kinds is None:
        return None
    return json.dumps(_document(kinds), sort_keys=True, separators=(",", ":")).encode()


def openapi_v3_hash(path: str) -> str:
    """Upper-case hex SHA-512 of the document's JSON, as kube-openapi's handler3 computes its ETag."""
    data = openapi_v3_json(path)
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


# ---------------------------------------------------------------- OpenAPI v2


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
