"""Knative Serving admission for the dev cluster: the defaulting and validating webhooks.

The API server calls `default` (the mutating webhook) and then `validate` (the validating
webhook) on every create or update of a Service, Configuration, Route or Revision, after its
own schema checks. A denial carries the exact text Knative's webhook sends, which the
apiserver returns as a 400 `BadRequest` Status (kubernetes-api.md section 3). Validation reads
the cluster's current config-autoscaler (max-scale-limit, allow-zero-initial-scale), as
Knative's webhook does through its config store.
"""

from __future__ import annotations

from typing import Any

from .defaults import default_object, owned_by_service
from .diff import REVISION_SPEC_ROOT, short_diff
from .fielderror import ERROR, WARNING, FieldError
from .validation_annotations import UNTOUCHED, ClusterAutoscaling, validate_autoscaling
from .validation_meta import (
    creator_and_modifier,
    no_autoscaling_annotations,
    object_metadata,
    owner_label,
    revision_template_name,
    rollout_duration,
    template_annotations,
    verify_name_change,
)
from .validation_pod import validate_revision_spec
from .validation_traffic import validate_traffic

WEBHOOK = "validation.webhook.serving.knative.dev"
KINDS = ("Service", "Configuration", "Route", "Revision")

SERVICE_LABEL = "serving.knative.dev/service"
CONFIGURATION_LABEL = "serving.knative.dev/configuration"


class AdmissionDenied(Exception):
    """The validating webhook refused the object; `message` is the apiserver's full text."""

    def __init__(self, text: str, warnings: list[str] | None = None) -> None:
        self.text = text
        self.message = f'admission webhook "{WEBHOOK}" denied the request: validation failed: {text}'
        self.warnings = warnings or []
        super().__init__(self.message)


def default(kind: str, operation: str, obj: dict, old: dict | None, user: str) -> None:
    """Fill in Knative's defaults in place, as the mutating webhook does before validation."""
    if kind in KINDS and operation in ("CREATE", "UPDATE"):
        default_object(kind, operation, obj, old, user)


def validate(
    kind: str, operation: str, obj: dict, old: dict | None, autoscaling: ClusterAutoscaling = UNTOUCHED
) -> list[str]:
    """Validate the defaulted object against config-autoscaler's `autoscaling`; raise AdmissionDenied, or return the
    warnings to send."""
    if kind not in KINDS or operation not in ("CREATE", "UPDATE"):
        return []
    result = _validate(kind, operation == "UPDATE" and old is not None, obj, old or {}, autoscaling)
    warnings = result.filter(WARNING)
    # The webhook sends all warnings of one object as a single, possibly multi-line, text.
    warning_texts = [warnings.error()] if warnings else []
    errors = result.filter(ERROR)
    if errors:
        raise AdmissionDenied(errors.error(), warning_texts)
    return warning_texts


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _autoscaling(annotations: dict, cluster: ClusterAutoscaling) -> FieldError:
    return validate_autoscaling(annotations, cluster.max_scale_limit, cluster.allow_zero_initial_scale)


def _validate(kind: str, updating: bool, obj: dict, old: dict, autoscaling: ClusterAutoscaling) -> FieldError:
    meta = _dict(obj.get("metadata"))
    annotations = _dict(meta.get("annotations"))
    spec = _dict(obj.get("spec"))
    if kind == "Revision":
        return _revision(updating, meta, spec, _dict(old.get("spec")), autoscaling)

    meta_errs = object_metadata(meta).also(no_autoscaling_annotations(annotations).via_field("annotations"))
    if kind in ("Configuration", "Route"):
        owners = meta.get("ownerReferences") or []
        service_label = owner_label(_dict(meta.get("labels")), owners, SERVICE_LABEL, "Service")
        meta_errs = meta_errs.also(service_label.via_field("labels"))
    if kind in ("Service", "Route"):
        meta_errs = meta_errs.also(rollout_duration(annotations).via_field("annotations"))
    errs = meta_errs.via_field("metadata")

    if kind in ("Service", "Configuration"):
        errs = errs.also(_template(_dict(spec.get("template")), meta, autoscaling).via_field("spec.template"))
    if kind in ("Service", "Route"):
        traffic: list[Any] = spec["traffic"] if isinstance(spec.get("traffic"), list) else []
        errs = errs.also(validate_traffic(traffic, in_service=kind == "Service").via_field("spec"))

    if updating:
        old_spec = _dict(old.get("spec"))
        if kind == "Service" or not owned_by_service(obj):
            old_annotations = _dict(_dict(old.get("metadata")).get("annotations"))
            user_info = creator_and_modifier(old_spec, spec, old_annotations, annotations)
            errs = errs.also(user_info.via_field("metadata.annotations"))
        if kind in ("Service", "Configuration"):
            name_change = verify_name_change(_dict(spec.get("template")), _dict(old_spec.get("template")))
            errs = errs.also(name_change.via_field("spec.template"))
    return errs


def _template(template: dict, parent_meta: dict, autoscaling: ClusterAutoscaling) -> FieldError:
    """RevisionTemplateSpec validation, relative to the template."""
    template_meta = _dict(template.get("metadata"))
    annotations = _dict(template_meta.get("annotations"))
    errs = validate_revision_spec(_dict(template.get("spec"))).via_field("spec")
    errs = errs.also(_autoscaling(annotations, autoscaling).via_field("metadata.annotations"))
    errs = errs.also(revision_template_name(template_meta, parent_meta))
    return errs.also(template_annotations(annotations).via_field("metadata.annotations"))


def _revision(updating: bool, meta: dict, spec: dict, old_spec: dict, autoscaling: ClusterAutoscaling) -> FieldError:
    annotations = _dict(meta.get("annotations"))
    owners = meta.get("ownerReferences") or []
    meta_errs = object_metadata(meta).also(_autoscaling(annotations, autoscaling).via_field("annotations"))
    configuration_label = owner_label(_dict(meta.get("labels")), owners, CONFIGURATION_LABEL, "Configuration")
    errs = meta_errs.also(configuration_label.via_field("labels")).via_field("metadata")
    if not updating:
        return errs.also(validate_revision_spec(spec).via_field("spec"))
    diff = short_diff(old_spec, spec, REVISION_SPEC_ROOT)
    if diff:
        # Knative answers an immutable-spec change with this error alone.
        return FieldError("Immutable fields changed (-old +new)", ("spec",), diff)
    return errs
