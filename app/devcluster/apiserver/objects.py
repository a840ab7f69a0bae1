"""Object metadata rules the apiserver applies to every write: names, system fields, generation."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from app.devcluster.apiserver import rbac_objects
from app.devcluster.apiserver.errors import invalid
from app.devcluster.apiserver.resources import ResourceDef

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_GENERATED_PREFIX = 58


def now() -> str:
    """RFC 3339 in UTC with seconds precision, as metav1.Time marshals."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def generate_name(prefix: str) -> str:
    return prefix[:_MAX_GENERATED_PREFIX] + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))


def name_problems(resource: ResourceDef, name: str) -> list[str]:
    """The apiserver's own name check: DNS-1123 subdomain for most, labels for some built-ins."""
    if resource.group == "rbac.authorization.k8s.io":
        return rbac_objects.path_segment_problems(name)
    if resource.key in ("/namespaces",):
        limit, pattern, message = 63, _DNS1123_LABEL, LABEL_MESSAGE
    elif resource.key == "/services":
        limit, pattern, message = 63, _DNS1035_LABEL, DNS1035_MESSAGE
    else:
        limit, pattern, message = 253, _DNS1123_SUBDOMAIN, SUBDOMAIN_MESSAGE
    problems = []
    if len(name) > limit:
        problems.append(f"must be no more than {limit} characters")
    if not pattern.match(name):
        problems.append(message)
    return problems


def _map_problems(field: str, values: Any, check_values: bool) -> list[tuple[str, str, str]]:
    causes: list[tuple[str, str, str]] = []
    if values is None:
        return causes
    if not isinstance(values, dict):
        return [("FieldValueInvalid", field, f'Invalid value: "{values}": must be a map')]
    for key, value in values.items():
        prefix, _, name = key.rpartition("/")
        if (
            not name
            or len(name) > 63
            or not _QUALIFIED_NAME.match(name)
            or ("/" in key and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)))
        ):
            causes.append((
                "FieldValueInvalid", field,
                f"Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ))
        if not isinstance(value, str):
            causes.append(("FieldValueInvalid", f"{field}.{key}", "Invalid value: must be a string"))
        elif check_values and (len(value) > 63 or not _LABEL_VALUE.match(value)):
            causes.append((
                "FieldValueInvalid", field,
                f"Invalid value: \"{value}\": a valid label must be an empty string or consist of alphanumeric "
                "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ))
    return causes


def validate_metadata(resource: ResourceDef, obj: dict[str, Any], creating: bool) -> None:
    """422 Invalid for what ObjectMeta validation rejects."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or ""
    causes: list[tuple[str, str, str]] = []
    if not name:
        causes.append(("FieldValueRequired", "metadata.name", "Required value: name or generateName is required"))
    else:
        for problem in name_problems(resource, name):
            causes.append(("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {problem}'))
    causes += _map_problems("metadata.labels", metadata.get("labels"), check_values=True)
    causes += _map_problems("metadata.annotations", metadata.get("annotations"), check_values=False)
    finalizers = metadata.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        causes.append(("FieldValueInvalid", "metadata.finalizers", "Invalid value: must be a list of strings"))
    if causes:
        raise invalid(resource.kind, resource.group, name, causes)


def set_create_fields(resource: ResourceDef, obj: dict[str, Any], stamp: str) -> None:
    metadata = obj["metadata"]
    metadata["uid"] = str(uuid.uuid4())
    metadata["creationTimestamp"] = stamp
    for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        metadata.pop(key, None)
    if resource.has_generation:
        metadata["generation"] = 1
    else:
        metadata.pop("generation", None)


def restore_system_fields(resource: ResourceDef, obj: dict[str, Any], old: dict[str, Any]) -> None:
    metadata, old_meta = obj.setdefault("metadata", {}), old["metadata"]
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
        if key in old_meta:
            metadata[key] = old_meta[key]
        else:
            metadata.pop(key, None)


def spec_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Anything outside metadata (and status) differs: the rule that bumps generation."""
    keys = (set(old) | set(new)) - {"metadata", "status", "apiVersion", "kind"}
    return any(old.get(k) != new.get(k) for k in keys)
