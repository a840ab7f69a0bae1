"""Knative Serving admission (defaulting and validation) for the embedded dev cluster."""

from .admission import WEBHOOK, AdmissionDenied, default, validate

__all__ = ["WEBHOOK", "AdmissionDenied", "default", "validate"]
