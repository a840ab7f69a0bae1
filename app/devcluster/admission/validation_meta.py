"""Metadata rules: names, labels, Knative annotations, creator/lastModifier, BYO revision names.

Sources: knative/pkg `apis/metadata_validation.go`; knative/serving
`pkg/apis/serving/metadata_validation.go`, `pkg/apis/serving/v1/revision_validation.go`,
`route_validation.go`, `configuration_validation.go`. Each function returns errors relative to
the value it checks; the caller prefixes the path.
"""

from __future__ import annotations

from .defaults import CREATOR, LAST_MODIFIER
from .diff import TEMPLATE_ROOT, normalized, short_diff
from .fielderror import (
    CURRENT_FIELD,
    FieldError,
    disallowed_fields,
    generic,
    go_quote,
    invalid_key_name,
    invalid_value,
    missing_field,
    out_of_bounds,
)
from .goparse import SECOND, is_quantity, parse_duration, parse_float
from .names import dns1035_label, dns1035_label_prefix

AUTOSCALING_GROUP = "autoscaling.knative.dev"
ROLLOUT_DURATION = ("serving.knative.dev/rollout-duration", "serving.knative.dev/rolloutDuration")
PROGRESS_DEADLINE = ("serving.knative.dev/progress-deadline", "serving.knative.dev/progressDeadline")
NETWORKING_PREFIX = "networking.knative.dev/"
INGRESS_CLASS_KEYS = ("networking.knative.dev/ingress.class", "networking.knative.dev/ingress-class")
QUEUE_ANNOTATION_PREFIX = "queue.sidecar.serving.knative.dev/"
QUEUE_RESOURCE_PERCENTAGE = f"{QUEUE_ANNOTATION_PREFIX}resourcePercentage"
QUEUE_RESOURCE_KEYS = tuple(
    f"{QUEUE_ANNOTATION_PREFIX}{resource}-resource-{kind}"
    for resource in ("cpu", "memory", "ephemeral-storage")
    for kind in ("request", "limit")
)


def first_key(annotations: dict, keys: tuple[str, ...]) -> tuple[str, str | None]:
    """knative.dev/pkg kmap.KeyPriority.Get: the first alias present, and its value."""
    for key in keys:
        if key in annotations:
            return key, annotations[key]
    return keys[0], None


def object_metadata(meta: dict) -> FieldError:
    """apis.ValidateObjectMetadata: a DNS-1035 name or generateName, one of them required."""
    name = meta.get("name") or ""
    generate_name = meta.get("generateName") or ""
    if generate_name and (msgs := dns1035_label_prefix(generate_name)):
        return generic(f"not a DNS 1035 label prefix: {_go_list(msgs)}", "generateName")
    if name and (msgs := dns1035_label(name)):
        return generic(f"not a DNS 1035 label: {_go_list(msgs)}", "name")
    if not name and not generate_name:
        return generic("name or generateName is required", "name")
    return FieldError()


def _go_list(messages: list[str]) -> str:
    return "[" + " ".join(messages) + "]"


def no_autoscaling_annotations(annotations: dict) -> FieldError:
    errs = FieldError()
    for key in annotations:
        if key.startswith(AUTOSCALING_GROUP):
            errs = errs.also(
                invalid_key_name(
                    key,
                    CURRENT_FIELD,
                    'autoscaling annotations must be put under "spec.template.metadata.annotations" to work',
                )
            )
    return errs


def rollout_duration(annotations: dict) -> FieldError:
    return _whole_seconds(annotations, ROLLOUT_DURATION, "rollout-duration", zero_ok=True)


def _whole_seconds(annotations: dict, keys: tuple[str, ...], label: str, zero_ok: bool) -> FieldError:
    """A duration annotation that must parse, be whole seconds and be positive (or zero, where allowed)."""
    key, value = first_key(annotations, keys)
    if not value:
        return FieldError()
    try:
        duration = parse_duration(value)
    except ValueError:
        return invalid_value(value, key)
    if duration % SECOND:
        return generic(f"{label}={value} is not at second precision", key)
    if duration < 0 or (duration == 0 and not zero_ok):
        return generic(f"{label}={value} must be positive", key)
    return FieldError()


def owner_label(labels: dict, owner_refs: list, label: str, kind: str) -> FieldError:
    """A `serving.knative.dev/<kind>` label must name an owner of that kind."""
    if label not in labels:
        return FieldError()
    for ref in owner_refs:
        if isinstance(ref, dict) and ref.get("kind") == kind and ref.get("name") == labels[label]:
            return FieldError()
    return missing_field(label)


def creator_and_modifier(old_spec: object, new_spec: object, old_ann: dict, new_ann: dict) -> FieldError:
    """apis.ValidateCreatorAndModifier, relative to metadata.annotations."""
    errs = FieldError()
    if old_ann.get(CREATOR, "") != new_ann.get(CREATOR, ""):
        errs = errs.also(generic("annotation value is immutable", CREATOR))
    if normalized(old_spec) == normalized(new_spec) and old_ann.get(LAST_MODIFIER, "") != new_ann.get(
        LAST_MODIFIER, ""
    ):
        errs = errs.also(invalid_value(new_ann.get(LAST_MODIFIER, ""), LAST_MODIFIER))
    return errs


def revision_template_name(template_meta: dict, parent_meta: dict) -> FieldError:
    """ValidateRevisionName, relative to the template (section 1.4)."""
    name = template_meta.get("name") or ""
    generate_name = template_meta.get("generateName") or ""
    if generate_name and (msgs := dns1035_label_prefix(generate_name)):
        return invalid_value(f"not a DNS 1035 label prefix: {_go_list(msgs)}", "metadata.generateName")
    if not name:
        return FieldError()
    if msgs := dns1035_label(name):
        return invalid_value(f"not a DNS 1035 label: {_go_list(msgs)}", "metadata.name")
    parent_name = parent_meta.get("name") or ""
    if not parent_name and parent_meta.get("generateName"):
        return disallowed_fields("metadata.name")
    prefix = parent_name + "-"
    if not name.startswith(prefix):
        return invalid_value(f"{go_quote(name)} must have prefix {go_quote(prefix)}", "metadata.name")
    return FieldError()


def verify_name_change(new_template: dict, old_template: dict) -> FieldError:
    """A template change that keeps the same non-empty BYO name is refused, relative to the template."""
    name = (new_template.get("metadata") or {}).get("name") or ""
    if not name or name != ((old_template.get("metadata") or {}).get("name") or ""):
        return FieldError()
    diff = short_diff(old_template, new_template, TEMPLATE_ROOT)
    if not diff:
        return FieldError()
    return FieldError("Saw the following changes without a name change (-old +new)", ("metadata.name",), diff)


def template_annotations(annotations: dict) -> FieldError:
    """Template-only annotation rules, relative to metadata.annotations."""
    errs = FieldError()
    for key in annotations:
        if key.startswith(NETWORKING_PREFIX) and key not in INGRESS_CLASS_KEYS:
            errs = errs.also(invalid_key_name(key, CURRENT_FIELD))
    return errs.also(_progress_deadline(annotations), _queue_sidecar(annotations))


def _progress_deadline(annotations: dict) -> FieldError:
    return _whole_seconds(annotations, PROGRESS_DEADLINE, "progress-deadline", zero_ok=False)


def _queue_sidecar(annotations: dict) -> FieldError:
    if (value := annotations.get(QUEUE_RESOURCE_PERCENTAGE)) is not None:
        try:
            percentage = parse_float(value)
        except ValueError:
            return invalid_value(value, CURRENT_FIELD).via_key(QUEUE_RESOURCE_PERCENTAGE)
        if percentage < 0.1 or percentage > 100:
            return out_of_bounds(percentage, 0.1, 100.0, CURRENT_FIELD).via_key(QUEUE_RESOURCE_PERCENTAGE)
    for key in QUEUE_RESOURCE_KEYS:
        if (value := annotations.get(key)) is not None and not is_quantity(value):
            return invalid_value(value, CURRENT_FIELD).via_key(key)
    return FieldError()
