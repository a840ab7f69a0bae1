"""The served kinds' structural schemas at work: type checks and pruning.

`type_errors`, `unknown_fields` and `prune` reproduce what kube-apiserver does with a CRD's
structural schema (apiextensions-apiserver `pruning`, kube-openapi `validate`), so the
devcluster answers like a real cluster before any admission webhook sees an object. The same
schemas are published by `openapi.py`.

A `kind` argument may be a bare Kind (`Service`; the object's apiVersion, if any, picks the
group, else the first kind registered with that name wins: custom resources come first), `Kind.group`,
`plural.group`, or `group/version/Kind` (`v1/Service` for the core one). Kinds without a schema
have nothing to check: the methods return nothing.

For core kinds a real apiserver decodes into Go structs: a wrong JSON type there is a 400
decode error rather than a 422, and unknown fields come back in document order, as here.
"""

from __future__ import annotations

from typing import Any

from app.devcluster.apiserver.schema_core import (
    COMPONENT_PREFIX,
    CORE_KINDS,
    META_DEFINITIONS,
    OBJECT_META_SCHEMA,
    Kind,
    Schema,
)

PRESERVE = "x-kubernetes-preserve-unknown-fields"
# The cause reason of a schema type error (field.ErrorTypeTypeInvalid), for the 422's details.causes.
TYPE_ERROR_REASON = "FieldValueTypeInvalid"
_META_FIELDS = ("apiVersion", "kind", "metadata")


class Schemas:
    """The schemas of the kinds the server knows: the core ones and whichever custom kinds are installed."""

    def __init__(self, kinds: tuple[Kind, ...] = CORE_KINDS) -> None:
        self.kinds = kinds
        self._definitions: dict[str, Schema] = {**META_DEFINITIONS, **{kind.definition: kind.schema for kind in kinds}}

    def type_errors(self, kind: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
        """(field, message) for each value whose JSON type the schema rejects, in kube-apiserver's words.

        The message is what follows `<field>: ` in a 422 Invalid cause. Nulls in object fields are
        not errors (the apiserver drops them before validating); nulls in lists are. Metadata is
        left to the ObjectMeta decoder.
        """
        found = self.find(kind, obj)
        errors: list[tuple[str, str]] = []
        if found is not None and isinstance(obj, dict):
            for key, value in obj.items():
                schema = found.schema["properties"].get(key)
                if key not in _META_FIELDS and schema is not None and value is not None:
                    self._check_types(value, schema, key, errors, crd=found.custom)
        return errors

    def unknown_fields(self, kind: str, obj: dict[str, Any]) -> list[str]:
        """Paths of fields the schema does not know, as `strict decoding error: unknown field "<path>"` lists them."""
        found = self.find(kind, obj)
        if found is None or not isinstance(obj, dict):
            return []
        return self._prune_fields(found, obj, remove=False)

    def prune(self, kind: str, obj: dict[str, Any]) -> None:
        """Remove unknown fields, and nulls where the schema does not allow them, as the apiserver's decoder does."""
        found = self.find(kind, obj)
        if found is not None and isinstance(obj, dict):
            self._prune_fields(found, obj, remove=True)
            self._drop_nulls(obj, found.schema)

    def find(self, kind: str, obj: Any = None) -> Kind | None:
        group: str | None = None
        name = kind
        if "/" in kind:
            group_version, _, name = kind.rpartition("/")
            group = group_version.rpartition("/")[0]
        elif "." in kind:
            name, _, group = kind.partition(".")
        elif isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str):
            group = obj["apiVersion"].rpartition("/")[0]
        for candidate in self.kinds:
            if name in (candidate.kind, candidate.plural) and group in (None, candidate.group):
                return candidate
        return None

    def _resolve(self, schema: Schema) -> Schema:
        while True:
            if "$ref" in schema:
                schema = self._definitions[schema["$ref"].removeprefix(COMPONENT_PREFIX)]
            elif len(schema.get("allOf", ())) == 1 and "$ref" in schema["allOf"][0]:
                schema = schema["allOf"][0]
            else:
                return schema

    # -- type checks (kube-openapi) -----------------------------------------------------------

    def _check_types(self, value: Any, schema: Schema, path: str, out: list[tuple[str, str]], *, crd: bool) -> None:
        schema = self._resolve(schema)
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
                    self._check_types(item, child, _join(path, key), out, crd=crd)
        elif isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                self._check_types(item, schema["items"], f"{path}[{index}]", out, crd=crd)

    # -- pruning (apiextensions-apiserver) ----------------------------------------------------

    def _prune_fields(self, kind: Kind, obj: dict[str, Any], *, remove: bool) -> list[str]:
        found: list[str] = []
        if not kind.custom:
            # Built-in kinds: the strict JSON decoder reports fields in the order it meets them.
            self._prune(obj, kind.schema, "", found, remove)
            return found
        # Custom resources: the body is pruned past its type meta and the paths sorted, then
        # ObjectMeta is decoded on its own and its unknown fields are added, sorted, after them.
        for key in list(obj):
            if key not in _META_FIELDS:
                self._prune_entry(obj, key, _child(kind.schema, key), "", found, remove)
        metadata_found: list[str] = []
        if isinstance(obj.get("metadata"), dict):
            self._prune(obj["metadata"], OBJECT_META_SCHEMA, "metadata", metadata_found, remove)
        return sorted(found) + sorted(metadata_found)

    def _prune(self, value: Any, schema: Schema | None, path: str, found: list[str], remove: bool) -> None:
        if schema is not None:
            schema = self._resolve(schema)
            if schema.get(PRESERVE):
                self._prune_known(value, schema, path, found, remove)
                return
        if isinstance(value, dict):
            for key in list(value):
                self._prune_entry(value, key, _child(schema, key), path, found, remove)
        elif isinstance(value, list):
            items = schema.get("items") if schema is not None else None
            for index, item in enumerate(value):
                self._prune(item, items, f"{path}[{index}]", found, remove)

    def _prune_entry(
        self, value: dict[str, Any], key: str, child: Schema | None, path: str, found: list[str], remove: bool
    ) -> None:
        if child is not None:
            self._prune(value[key], child, _join(path, key), found, remove)
            return
        found.append(_join(path, key))
        if remove:
            del value[key]

    def _prune_known(self, value: Any, schema: Schema, path: str, found: list[str], remove: bool) -> None:
        """Below x-kubernetes-preserve-unknown-fields only the declared fields are pruned."""
        if isinstance(value, dict):
            for key in list(value):
                child = _child(schema, key)
                if child is not None:
                    self._prune(value[key], child, _join(path, key), found, remove)
        elif isinstance(value, list) and "items" in schema:
            items = self._resolve(schema["items"])
            for index, item in enumerate(value):
                self._prune_known(item, items, f"{path}[{index}]", found, remove)

    def _drop_nulls(self, value: Any, schema: Schema | None) -> None:
        schema = self._resolve(schema) if schema is not None else None
        if isinstance(value, dict):
            for key in list(value):
                child = _child(schema, key)
                if value[key] is None and child is not None and not child.get("nullable"):
                    del value[key]
                else:
                    self._drop_nulls(value[key], child)
        elif isinstance(value, list):
            items = schema.get("items") if schema is not None else None
            for item in value:
                self._drop_nulls(item, items)


def _child(schema: Schema | None, key: str) -> Schema | None:
    if schema is None:
        return None
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


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


def _type_message(path: str, expected: list[str], actual: str) -> str:
    # field.TypeInvalid around kube-openapi's InvalidType ("%s in %s must be of type %s: %q").
    return f'Invalid value: "{actual}": {path} in body must be of type {",".join(expected)}: "{actual}"'
