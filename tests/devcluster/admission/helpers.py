"""Helpers for the admission tables: defaulting alone, and the webhook's text for a denied object."""

from __future__ import annotations

from app.devcluster.admission import AdmissionDenied, default, validate
from app.devcluster.admission.validation_annotations import UNTOUCHED


def defaulted(kind, obj, operation="CREATE", old=None):  # noqa: ANN001, ANN201
    default(kind, operation, obj, old, "alice")
    return obj


def denial(kind, obj, autoscaling=UNTOUCHED):  # noqa: ANN001, ANN201
    """The text after "validation failed: " for a new object, or "" when it is admitted (against an untouched
    config-autoscaler, or the `autoscaling` given)."""
    default(kind, "CREATE", obj, None, "alice")
    try:
        validate(kind, "CREATE", obj, None, autoscaling)
    except AdmissionDenied as denied:
        return denied.text
    return ""
