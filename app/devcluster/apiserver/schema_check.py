"""The apiserver's schema step in the write pipeline: type errors, then unknown fields by fieldValidation."""

from __future__ import annotations

from typing import Any

from app.devcluster.apiserver import errors
from app.devcluster.apiserver.resources import ResourceDef
from app.devcluster.apiserver.schema import TYPE_ERROR_REASON, Schemas


class SchemaCheck:
    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas

    def check(self, resource: ResourceDef, obj: dict[str, Any], field_validation: str) -> list[str]:
        kind = f"{resource.api_version}/{resource.kind}"
        name = (obj.get("metadata") or {}).get("name", "")
        problems = self.schemas.type_errors(kind, obj)
        if problems:
            if resource.custom:
                raise errors.invalid(
                    resource.kind, resource.group, name,
                    [(TYPE_ERROR_REASON, field, message) for field, message in problems],
                )
            field, message = problems[0]
            raise errors.bad_request(
                f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
                f"{field}: {message}"
            )
        unknown = self.schemas.unknown_fields(kind, obj)
        if unknown and field_validation == "Strict":
            listed = ", ".join(f'unknown field "{path}"' for path in unknown)
            raise errors.bad_request(
                f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
                f"strict decoding error: {listed}"
            )
        self.schemas.prune(kind, obj)
        if field_validation == "Ignore":
            return []
        return [f'unknown field "{path}"' for path in unknown]
