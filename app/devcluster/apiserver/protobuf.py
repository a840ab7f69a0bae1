"""Decoding the protobuf bodies kubectl's typed commands send here: `kubectl create namespace|serviceaccount|
secret|configmap|role|rolebinding|clusterrole|clusterrolebinding|deployment|quota`, `kubectl create token`, `kubectl
auth can-i` and `kubectl auth whoami`.

The body is the `k8s\\x00` magic followed by a `runtime.Unknown` whose `raw` field holds the object. Only the
fields these objects carry when they are sent are read (field numbers from k8s.io/api's generated.proto).
"""

from __future__ import annotations

import base64
from typing import Any

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited fields."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field")
            out.append((number, data[pos : pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a string")
    return value.decode("utf-8")


# A message's fields: number → (JSON name, kind). Kinds: "string", "strings" (repeated), "int", "bool", "map"
# (string to string), "bytes_map" (string to bytes, base64 in JSON), "quantity_map" (string to a resource.Quantity,
# whose field 1 is its text), a nested message, or ("list", message).
Message = dict[int, tuple[str, Any]]
_OBJECT_META: Message = {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
                         11: ("labels", "map"), 12: ("annotations", "map"), 14: ("finalizers", "strings")}
_RESOURCE_ATTRIBUTES: Message = {1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"),
                                 4: ("version", "string"), 5: ("resource", "string"), 6: ("subresource", "string"),
                                 7: ("name", "string")}
_NON_RESOURCE_ATTRIBUTES: Message = {1: ("path", "string"), 2: ("verb", "string")}
_ACCESS_SPEC: Message = {1: ("resourceAttributes", _RESOURCE_ATTRIBUTES),
                         2: ("nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES)}
_SUBJECT_ACCESS_SPEC: Message = {**_ACCESS_SPEC, 3: ("user", "string"), 4: ("groups", "strings"),
                                 6: ("uid", "string")}
_POLICY_RULE: Message = {1: ("verbs", "strings"), 2: ("apiGroups", "strings"), 3: ("resources", "strings"),
                         4: ("resourceNames", "strings"), 5: ("nonResourceURLs", "strings")}
_LABEL_SELECTOR: Message = {1: ("matchLabels", "map"), 2: ("matchExpressions", ("list", {
    1: ("key", "string"), 2: ("operator", "string"), 3: ("values", "strings")}))}
_BINDING: Message = {1: ("metadata", _OBJECT_META),
                     2: ("subjects", ("list", {1: ("kind", "string"), 2: ("apiGroup", "string"),
                                               3: ("name", "string"), 4: ("namespace", "string")})),
                     3: ("roleRef", {1: ("apiGroup", "string"), 2: ("kind", "string"), 3: ("name", "string")})}
_REFERENCE: Message = {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string")}
# What `kubectl create deployment NAME --image=… [--replicas] [--port] [-- COMMAND ARGS…]` sends (k8s.io/api apps/v1
# and core/v1 generated.proto).
_CONTAINER: Message = {1: ("name", "string"), 2: ("image", "string"), 3: ("command", "strings"), 4: ("args", "strings"),
                       5: ("workingDir", "string"),
                       6: ("ports", ("list", {1: ("name", "string"), 3: ("containerPort", "int"),
                                              4: ("protocol", "string")})),
                       7: ("env", ("list", {1: ("name", "string"), 2: ("value", "string")})),
                       8: ("resources", {})}  # always sent, and empty: the command sets no requests or limits
_POD_TEMPLATE: Message = {1: ("metadata", _OBJECT_META), 2: ("spec", {2: ("containers", ("list", _CONTAINER))})}
_DEPLOYMENT_SPEC: Message = {1: ("replicas", "int"), 2: ("selector", _LABEL_SELECTOR), 3: ("template", _POD_TEMPLATE),
                             4: ("strategy", {1: ("type", "string")})}
# What `kubectl create quota NAME --hard=… [--scopes=…]` sends (core/v1 ResourceQuota and ResourceQuotaSpec).
_QUOTA_SPEC: Message = {1: ("hard", "quantity_map"), 2: ("scopes", "strings"),
                        3: ("scopeSelector", {1: ("matchExpressions", ("list", {
                            1: ("scopeName", "string"), 2: ("operator", "string"), 3: ("values", "strings")}))})}
MESSAGES: dict[str, Message] = {
    "Namespace": {1: ("metadata", _OBJECT_META), 2: ("spec", {1: ("finalizers", "strings")})},
    "ServiceAccount": {1: ("metadata", _OBJECT_META), 2: ("secrets", ("list", _REFERENCE)),
                       3: ("imagePullSecrets", ("list", {1: ("name", "string")})),
                       4: ("automountServiceAccountToken", "bool")},
    "Secret": {1: ("metadata", _OBJECT_META), 2: ("data", "bytes_map"), 3: ("type", "string"),
               4: ("stringData", "map"), 5: ("immutable", "bool")},
    "ConfigMap": {1: ("metadata", _OBJECT_META), 2: ("data", "map"), 3: ("binaryData", "bytes_map"),
                  4: ("immutable", "bool")},
    "Role": {1: ("metadata", _OBJECT_META), 2: ("rules", ("list", _POLICY_RULE))},
    "ClusterRole": {1: ("metadata", _OBJECT_META), 2: ("rules", ("list", _POLICY_RULE)),
                    3: ("aggregationRule", {1: ("clusterRoleSelectors", ("list", _LABEL_SELECTOR))})},
    "RoleBinding": _BINDING,
    "ClusterRoleBinding": _BINDING,
    "Deployment": {1: ("metadata", _OBJECT_META), 2: ("spec", _DEPLOYMENT_SPEC)},
    "ResourceQuota": {1: ("metadata", _OBJECT_META), 2: ("spec", _QUOTA_SPEC)},
    "TokenRequest": {1: ("metadata", _OBJECT_META), 2: ("spec", {
        1: ("audiences", "strings"), 4: ("expirationSeconds", "int"),
        3: ("boundObjectRef", {1: ("kind", "string"), 2: ("apiVersion", "string"), 3: ("name", "string"),
                               4: ("uid", "string")}),
    })},
    "SelfSubjectAccessReview": {1: ("metadata", _OBJECT_META), 2: ("spec", _ACCESS_SPEC)},
    "SelfSubjectRulesReview": {1: ("metadata", _OBJECT_META), 2: ("spec", {1: ("namespace", "string")})},
    "SelfSubjectReview": {1: ("metadata", _OBJECT_META)},
    "SubjectAccessReview": {1: ("metadata", _OBJECT_META), 2: ("spec", _SUBJECT_ACCESS_SPEC)},
    "LocalSubjectAccessReview": {1: ("metadata", _OBJECT_META), 2: ("spec", _SUBJECT_ACCESS_SPEC)},
    "TokenReview": {1: ("metadata", _OBJECT_META), 2: ("spec", {1: ("token", "string"), 2: ("audiences", "strings")})},
}


def _entry(value: int | bytes) -> tuple[str, bytes]:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a map entry")
    entry = dict(fields(value))
    key, item = entry.get(1, b""), entry.get(2, b"")
    if not isinstance(key, bytes) or not isinstance(item, bytes):
        raise ProtobufError("expected a map entry")
    return key.decode("utf-8"), item


def _message(data: bytes, message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in fields(data):
        if number not in message:
            continue
        name, kind = message[number]
        if kind == "string":
            text = _text(value)
            if text:  # Go's JSON leaves an empty string out (omitempty), and so does the object here
                out[name] = text
        elif kind == "strings":
            out.setdefault(name, []).append(_text(value))
        elif kind in ("int", "bool"):
            if not isinstance(value, int):
                raise ProtobufError(f"expected a varint for {name}")
            out[name] = bool(value) if kind == "bool" else value
        elif kind in ("map", "bytes_map"):
            key, item = _entry(value)
            out.setdefault(name, {})[key] = item.decode("utf-8") if kind == "map" else \
                base64.b64encode(item).decode()
        elif kind == "quantity_map":
            key, item = _entry(value)
            out.setdefault(name, {})[key] = _text(dict(fields(item)).get(1, b""))
        elif not isinstance(value, bytes):
            raise ProtobufError(f"expected a message for {name}")
        elif isinstance(kind, tuple):
            out.setdefault(name, []).append(_message(value, kind[1]))
        else:
            out[name] = _message(value, kind)
    return out


def decode_object(body: bytes, kind: str) -> dict[str, Any]:
    """A protobuf-encoded object of one of MESSAGES' kinds, as the JSON it stands for."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    unknown = fields(body[len(MAGIC):])
    raw = next((v for n, v in unknown if n == 2), b"")
    type_meta = next((v for n, v in unknown if n == 1), b"")
    if not isinstance(raw, bytes) or not isinstance(type_meta, bytes):
        raise ProtobufError("missing object")
    meta = dict(fields(type_meta))
    obj = _message(raw, MESSAGES[kind])
    return {"apiVersion": _text(meta.get(1, b"")), "kind": _text(meta.get(2, b"")) or kind, **obj}
