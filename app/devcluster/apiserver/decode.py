"""Turning a request body into an object of the addressed resource, as the apiserver's decoder does."""

from __future__ import annotations

import copy
import json
from typing import Any

from app.devcluster.apiserver import errors
from app.devcluster.apiserver.resources import ResourceDef

MAX_DEPTH = 100  # levels of nesting a body may have


def decoded(resource: ResourceDef, body: Any) -> dict[str, Any]:
    """A copy of the body as an object of this resource, or the 400 a real apiserver's decoder answers."""
    if not isinstance(body, dict):
        raise errors.bad_request(
            f"couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{'array' if isinstance(body, list) else 'string' if isinstance(body, str) else 'number'} into Go "
            'value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
            'Kind string "json:\\"kind,omitempty\\"" }'
        )
    obj = copy.deepcopy(body)
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if resource.custom:
        compact = json.dumps(body, separators=(",", ":"))
        if not kind:
            raise errors.bad_request(f"Object 'Kind' is missing in '{compact}'")
        if not api_version:
            raise errors.bad_request(f"Object 'apiVersion' is missing in '{compact}'")
    if api_version and api_version != resource.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version "
            f"({resource.api_version})"
        )
    if kind and kind != resource.kind:
        raise errors.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})"
        )
    obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
    metadata = obj.get("metadata")
    if metadata is None:
        obj["metadata"] = {}
    elif not isinstance(metadata, dict):
        raise errors.bad_request(
            f"{resource.kind} in version \"{resource.version}\" cannot be handled as a {resource.kind}: "
            "json: cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta"
        )
    check_metadata_types(resource, obj)
    return obj


_META_TYPES = {
    **dict.fromkeys(("name", "generateName", "namespace", "uid", "resourceVersion", "selfLink"), "string"),
    **dict.fromkeys(("generation", "deletionGracePeriodSeconds"), "int64"),
    **dict.fromkeys(("labels", "annotations"), "map[string]string"),
    "ownerReferences": "[]v1.OwnerReference",
    "finalizers": "[]string",
    "managedFields": "[]v1.ManagedFieldsEntry",
}


def check_metadata_types(resource: ResourceDef, obj: dict[str, Any]) -> None:
    """400 for an ObjectMeta field of the wrong JSON type, as the apiserver's decoder answers it.

    Built-in kinds decode straight into Go structs; a custom resource's metadata is decoded on its own
    (apiextensions-apiserver's objectmeta.Coerce), which names the whole metadata value first.
    """
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return
    for field, go_type in _META_TYPES.items():
        found = _json_kind(metadata.get(field), go_type)
        if found is None:
            continue
        where = f"ObjectMeta.{field}" if resource.custom else f"ObjectMeta.metadata.{field}"
        problem = f"json: cannot unmarshal {found} into Go struct field {where} of type {go_type}"
        if resource.custom:
            problem = f"metadata: Invalid value: {go_value(metadata)}: {problem}"
        raise errors.bad_request(
            f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: {problem}'
        )


def _json_kind(value: Any, go_type: str) -> str | None:
    """What Go's JSON decoder calls a value it cannot put into `go_type` (None when it can)."""
    if value is None:
        return None  # null leaves a Go field as it is
    if go_type == "string":
        return None if isinstance(value, str) else _kind(value)
    if go_type.startswith("[]"):
        return None if isinstance(value, list) else _kind(value)  # elements of the wrong type: validation's 422
    if go_type.startswith("map["):
        return None if isinstance(value, dict) else _kind(value)  # values of the wrong type: validation's 422
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return None
    return f"number {value}" if isinstance(value, (int, float)) and not isinstance(value, bool) else _kind(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def go_value(value: Any) -> str:
    """A decoded JSON value as Go's %#v prints it (maps with sorted keys)."""
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(str(k))}:{go_value(v)}" for k, v in sorted(value.items()))
        return f"map[string]interface {{}}{{{items}}}"
    if isinstance(value, list):
        return f"[]interface {{}}{{{', '.join(go_value(v) for v in value)}}}"
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def check_identity(
    resource: ResourceDef, namespace: str, name: str, new: dict[str, Any], patching: bool = False
) -> None:
    """The object's name and namespace agree with the URL's (a patch must keep the name it has)."""
    metadata = new.get("metadata")
    if not isinstance(metadata, dict):
        raise errors.bad_request("metadata must be an object")
    given = metadata.get("name")
    if (patching and given != name) or (not patching and given and given != name):
        raise errors.bad_request(f"the name of the object ({given}) does not match the name on the URL ({name})")
    metadata["name"] = name
    given_namespace = metadata.get("namespace")
    if resource.namespaced and given_namespace and given_namespace != namespace:
        raise errors.bad_request(
            f"the namespace of the object ({given_namespace}) does not match the namespace on the request "
            f"({namespace})"
        )


def deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON-like data nests more than `limit` objects or lists (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def too_deep() -> errors.ApiError:
    # Go's decoders allow 10,000 levels; the dev cluster stops at MAX_DEPTH, far beyond any real object.
    return errors.bad_request(
        f"the body of the request is nested more than {MAX_DEPTH} levels deep: no Kubernetes object is; "
        "send the object itself"
    )
