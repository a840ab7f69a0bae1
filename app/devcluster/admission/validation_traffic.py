"""Traffic rules V1-V11 (section 2.3), as knative/serving `pkg/apis/serving/v1/route_validation.go`.

`validate_traffic` returns errors relative to the route spec (`traffic[0].percent`); the
caller adds `spec`. Within a Service the route has a default configuration, so
`configurationName` is refused there and an entry may name neither target.
"""

from __future__ import annotations

from typing import Any

from .fielderror import (
    CURRENT_FIELD,
    FieldError,
    disallowed_fields,
    generic,
    go_quote,
    invalid_key_name,
    invalid_value,
    missing_one_of,
    multiple_one_of,
    out_of_bounds,
)
from .names import dns1035_label, qualified_name


def validate_traffic(traffic: list[Any], in_service: bool) -> FieldError:
    errs = FieldError()
    first_by_tag: dict[str, int] = {}
    total = 0
    for i, target in enumerate(traffic):
        if not isinstance(target, dict):
            continue
        errs = errs.also(_target(target, in_service).via_index(i))
        percent = target.get("percent")
        if isinstance(percent, int) and not isinstance(percent, bool):
            total += percent
        tag = target.get("tag") or ""
        if not tag:
            continue
        if msgs := dns1035_label(tag):
            label = "[" + " ".join(msgs) + "]"
            errs = errs.also(invalid_value(f"not a DNS 1035 label: {label}", CURRENT_FIELD).via_field_index("tag", i))
        if tag in first_by_tag:
            errs = errs.also(
                generic(f"Multiple definitions for {go_quote(tag)}", f"[{i}].tag", f"[{first_by_tag[tag]}].tag")
            )
        else:
            first_by_tag[tag] = i
    if total != 100:
        errs = errs.also(generic(f"Traffic targets sum to {total}, want 100", CURRENT_FIELD))
    return errs.via_field("traffic")


def _target(target: dict, in_service: bool) -> FieldError:
    revision = target.get("revisionName") or ""
    configuration = target.get("configurationName") or ""
    errs = FieldError()
    latest = target.get("latestRevision")
    if isinstance(latest, bool) and latest == bool(revision):
        # A pinned entry must not float, and a floating one must not pin.
        flag = "true" if latest else "false"
        errs = generic(f"may not set revisionName {go_quote(revision)} when latestRevision is {flag}", "latestRevision")
    if in_service and configuration:
        errs = errs.also(disallowed_fields("configurationName"))
    elif revision and configuration:
        errs = errs.also(multiple_one_of("revisionName", "configurationName"))
    elif revision:
        if msgs := qualified_name(revision):
            errs = errs.also(invalid_key_name(revision, "revisionName", *msgs))
    elif configuration:
        if msgs := qualified_name(configuration):
            errs = errs.also(invalid_key_name(configuration, "configurationName", *msgs))
    elif not in_service:
        errs = errs.also(missing_one_of("revisionName", "configurationName"))
    percent = target.get("percent")
    if isinstance(percent, int) and not isinstance(percent, bool) and not 0 <= percent <= 100:
        errs = errs.also(out_of_bounds(percent, 0, 100, "percent"))
    if target.get("url"):
        # Spec never takes a URL, and an untagged entry never has one; both report the same path.
        errs = errs.also(disallowed_fields("url"))
        if not target.get("tag"):
            errs = errs.also(disallowed_fields("url"))
    return errs
