"""JSON merge patch (RFC 7386), JSON patch (RFC 6902), and the strategic merge patch of built-in types."""

from __future__ import annotations

import copy
from typing import Any

from app.devcluster.apiserver.errors import ApiError, bad_request, too_large

MAX_JSON_PATCH_OPERATIONS = 10000

_GO_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "bool", type(None): "null"}


def go_type(value: Any) -> str:
    return _GO_TYPES.get(type(value), "object")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, `null` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A merge patch that ignores strategic-merge directives (`$patch`, `$setElementOrder/...`).

    Namespaces are the only built-in type patched this way here; their lists are small and
    replaced whole, which is what kubectl's three-way patches for them amount to.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def not_an_object(value: Any) -> ApiError:
    struct = (
        'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
        'Kind string "json:\\"kind,omitempty\\"" }'
    )
    return ApiError(
        422,
        "Invalid",
        f"couldn't get version/kind; json parse error: json: cannot unmarshal {go_type(value)} "
        f"into Go value of type {struct}",
    )


class _PatchFailed(Exception):
    pass


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _split(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise _PatchFailed(f"invalid path: {path!r}")
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchFailed(f'add operation does not apply: doc is missing path: "{path}": missing value')
    return [_unescape(p) for p in path[1:].split("/")]


def _container(doc: Any, parts: list[str], op: str, path: str) -> Any:
    current = doc
    for part in parts:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise _PatchFailed(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return current


def _index(container: list[Any], token: str, op: str, path: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise _PatchFailed(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise _PatchFailed(f"Unable to access invalid index: {index}: invalid index referenced")
    return index


def _get(doc: Any, path: Any, op: str) -> Any:
    parts = _split(path)
    if not parts:
        return doc
    parent = _container(doc, parts[:-1], op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _PatchFailed(f"{op} operation does not apply: doc is missing key: {path}: missing value")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, op, path, allow_end=False)]
    raise _PatchFailed(f"{op} operation does not apply: doc is missing key: {path}: missing value")


def _remove(doc: Any, path: Any, op: str = "remove") -> Any:
    parts = _split(path)
    if not parts:
        raise _PatchFailed(f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")
    parent = _container(doc, parts[:-1], op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _PatchFailed(f"{op} operation does not apply: doc is missing key: {path}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, op, path, allow_end=False))
    raise _PatchFailed(f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")


def _add(doc: Any, path: Any, value: Any, op: str = "add") -> Any:
    parts = _split(path)
    if not parts:
        return copy.deepcopy(value)
    parent = _container(doc, parts[:-1], op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, op, path, allow_end=True), copy.deepcopy(value))
    else:
        raise _PatchFailed(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902, with the apiserver's errors: 400 for a malformed patch, 422 for one that fails."""
    if not isinstance(operations, list):
        raise bad_request(f"json: cannot unmarshal {go_type(operations)} into Go value of type jsonpatch.Patch")
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise too_large(MAX_JSON_PATCH_OPERATIONS)
    doc = copy.deepcopy(target)
    try:
        for operation in operations:
            if not isinstance(operation, dict):
                raise bad_request(
                    f"json: cannot unmarshal {go_type(operation)} into Go value of type jsonpatch.Operation"
                )
            op, path = operation.get("op"), operation.get("path")
            if op == "add":
                doc = _add(doc, path, operation.get("value"))
            elif op == "remove":
                _remove(doc, path)
            elif op == "replace":
                _get(doc, path, "replace")
                parts = _split(path)
                if parts:
                    _remove(doc, path, "replace")
                doc = _add(doc, path, operation.get("value"), "replace")
            elif op in ("move", "copy"):
                source = operation.get("from")
                value = copy.deepcopy(_get(doc, source, op))
                if op == "move":
                    _remove(doc, source, op)
                doc = _add(doc, path, value, op)
            elif op == "test":
                if _get(doc, path, "test") != operation.get("value"):
                    raise _PatchFailed(f"testing value {path} failed: test failed")
            else:
                raise _PatchFailed(f"Unexpected kind: {op}")
    except _PatchFailed as failure:
        raise ApiError(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
            {"causes": [{"reason": "UnexpectedServerResponse", "message": str(failure)}]},
        ) from None
    return doc
