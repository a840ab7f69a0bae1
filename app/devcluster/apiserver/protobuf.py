"""Decoding the one protobuf body kubectl sends here: `kubectl create namespace NAME`.

The body is the `k8s\\x00` magic followed by a `runtime.Unknown` whose `raw` field holds a
`v1.Namespace`. Only the fields a namespace can carry at creation are read.
"""

from __future__ import annotations

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


def _map_entry(value: int | bytes) -> tuple[str, str]:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a map entry")
    entry = dict(fields(value))
    return _text(entry.get(1, b"")), _text(entry.get(2, b""))


def decode_namespace(body: bytes) -> dict[str, Any]:
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    unknown = fields(body[len(MAGIC):])
    raw = next((v for n, v in unknown if n == 2), b"")
    type_meta = next((v for n, v in unknown if n == 1), b"")
    api_version, kind = "v1", "Namespace"
    if isinstance(type_meta, bytes):
        tm = dict(fields(type_meta))
        api_version, kind = _text(tm.get(1, b"v1")) or "v1", _text(tm.get(2, b"Namespace")) or "Namespace"
    if not isinstance(raw, bytes):
        raise ProtobufError("missing object")
    metadata: dict[str, Any] = {}
    spec: dict[str, Any] = {}
    for number, value in fields(raw):
        if number == 1 and isinstance(value, bytes):
            for mnum, mval in fields(value):
                if mnum == 1:
                    metadata["name"] = _text(mval)
                elif mnum == 2:
                    metadata["generateName"] = _text(mval)
                elif mnum == 11:
                    key, val = _map_entry(mval)
                    metadata.setdefault("labels", {})[key] = val
                elif mnum == 12:
                    key, val = _map_entry(mval)
                    metadata.setdefault("annotations", {})[key] = val
        elif number == 2 and isinstance(value, bytes):
            finalizers = [_text(v) for n, v in fields(value) if n == 1]
            if finalizers:
                spec["finalizers"] = finalizers
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    if spec:
        obj["spec"] = spec
    return obj
