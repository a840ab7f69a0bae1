"""What a namespace's LimitRanges say of a revision template as typed, before it is sent: a CPU or memory request or
limit outside a Container item's min and max would have Kubernetes refuse every instance of the revision (the
LimitRanger admission plugin, kubernetes plugin/pkg/admission/limitranger: min and max per Container). A request not
typed takes the limit's value, as kube-apiserver defaults it (pkg/apis/core/v1/defaults.go SetDefaults_Pod); a value
not typed at all takes the LimitRange's default, which its own validation keeps within min and max."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from app.knative.models import Template
from app.knative.quantity import quantity_or_none

_WORDS = {"cpu": "CPU", "memory": "memory"}


def _items(limit_ranges: Iterable[Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for limit_range in limit_ranges:
        if not isinstance(limit_range, dict):
            continue
        metadata = limit_range.get("metadata")
        name = str(metadata.get("name") or "") if isinstance(metadata, dict) else ""
        spec = limit_range.get("spec")
        limits = spec.get("limits") if isinstance(spec, dict) else None
        for item in limits if isinstance(limits, list) else []:
            if isinstance(item, dict) and item.get("type") == "Container":
                found.append((name, item))
    return found


def limit_range_warnings(template: Template, limit_ranges: Sequence[Any]) -> list[str]:
    """One sentence per value of the template a LimitRange of the namespace refuses; [] when none does."""
    warnings: list[str] = []
    typed = {"cpu": (template.cpu_request, template.cpu_limit), "memory": (template.memory_request,
                                                                            template.memory_limit)}
    for name, item in _items(limit_ranges):
        for resource, (request_text, limit_text) in typed.items():
            limit_text = limit_text.strip()
            request_text = request_text.strip() or limit_text
            request, limit = quantity_or_none(request_text), quantity_or_none(limit_text)
            for bound, words in (("max", "at most"), ("min", "at least")):
                amounts = item.get(bound)
                enforced_text = str(amounts.get(resource)) if isinstance(amounts, dict) and resource in amounts \
                    else ""
                enforced = quantity_or_none(enforced_text.strip())
                if enforced is None:
                    continue
                for kind, value, text in (("limit", limit, limit_text), ("request", request, request_text)):
                    if value is None or (value <= enforced if bound == "max" else value >= enforced):
                        continue
                    warnings.append(f"The namespace's LimitRange {name} allows a container a {_WORDS[resource]} "
                                    f"{kind} of {words} {enforced_text}, and this one's is {text}: Kubernetes would "
                                    "refuse every instance of the new revision.")
                    break
    return list(dict.fromkeys(warnings))
