"""What a namespace's LimitRanges say of a revision template as typed, before it is sent: a CPU or memory request or
limit outside a Container item's min and max would have Kubernetes refuse every instance of the revision (the
LimitRanger admission plugin, kubernetes plugin/pkg/admission/limitranger: min and max per Container). A request not
typed takes the limit's value, as kube-apiserver defaults it (pkg/apis/core/v1/defaults.go SetDefaults_Pod); a value
not typed at all takes the LimitRange's default, which its own validation keeps within min and max."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from app.knative.diagnosis import CONFIG_DEPLOYMENT, QUOTA_TERMS, and_words
from app.knative.instances import in_one_unit
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


# -- ResourceQuotas ---------------------------------------------------------------------------------------------------

# A ResourceQuota's compute resources that every container must state once the quota counts them (the pod evaluator's
# Constraints, kubernetes pkg/quota/v1/evaluator/core/pods.go): (resource, "requests" or "limits").
_STATED = {"cpu": ("cpu", "requests"), "requests.cpu": ("cpu", "requests"), "memory": ("memory", "requests"),
           "requests.memory": ("memory", "requests"), "limits.cpu": ("cpu", "limits"),
           "limits.memory": ("memory", "limits")}
COMPUTE = frozenset(_STATED)
_PODS = ("pods", "count/pods")
# config-deployment's keys for queue-proxy's resources, the legacy camelCase ones first and the newer ones after,
# which win (knative/serving pkg/deployment/config.go NewConfigFromMap); 25m of CPU requested when none is set.
_CAMEL = {"cpu": "CPU", "memory": "Memory", "ephemeral-storage": "EphemeralStorage"}
_QUEUE_KEYS = tuple(
    (key, resource, kind)
    for legacy in (True, False)
    for kind in ("requests", "limits")
    for resource in ("cpu", "memory", "ephemeral-storage")
    for key in [f"queueSidecar{_CAMEL[resource]}{'Request' if kind == 'requests' else 'Limit'}" if legacy else
                f"queue-sidecar-{resource}-{kind[:-1]}"]
)
QUEUE_CPU_REQUEST = "25m"  # deployment.QueueSidecarCPURequestDefault

Amounts = dict[str, dict[str, Decimal]]  # {"requests": {"cpu": …}, "limits": {…}}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def queue_proxy_amounts(data: Any) -> Amounts | None:
    """queue-proxy's requests and limits as config-deployment's data sets them (Knative's defaults where it sets none);
    None when a value is no quantity (Knative then keeps the settings it had, which the console cannot know)."""
    amounts: Amounts = {"requests": {"cpu": Decimal(QUEUE_CPU_REQUEST.removesuffix("m")) / 1000}, "limits": {}}
    for key, resource, kind in _QUEUE_KEYS:
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, str):
            parsed = quantity_or_none(value.strip())
            if parsed is None:
                return None
            amounts[kind][resource] = parsed
    return amounts


def _limit_range_defaults(limit_ranges: Iterable[Any]) -> Amounts:
    """What LimitRanger gives a container for what it lacks: each Container item's default limit (its max when it sets
    none) and default request (the default limit, else the min: SetDefaults_LimitRangeItem); the first LimitRange
    that gives a value wins, as LimitRanger sets only what is still missing."""
    given: Amounts = {"requests": {}, "limits": {}}
    for _, item in _items(limit_ranges):
        lists = {key: _dict(item.get(key)) for key in ("max", "min", "default", "defaultRequest")}
        for resource in ("cpu", "memory", "ephemeral-storage"):
            limit = next((q for q in (quantity_or_none(str(lists[k].get(resource, "")).strip())
                                      for k in ("default", "max")) if q is not None), None)
            request = next((q for q in (quantity_or_none(str(lists[k].get(resource, "")).strip())
                                        for k in ("defaultRequest",)) if q is not None), None)
            if request is None:
                request = limit if limit is not None else quantity_or_none(str(lists["min"].get(resource, "")).strip())
            if limit is not None:
                given["limits"].setdefault(resource, limit)
            if request is not None:
                given["requests"].setdefault(resource, request)
    return given


def _admitted(requests: dict[str, Decimal], limits: dict[str, Decimal], defaults: Amounts) -> Amounts:
    """A container's amounts as the quota sees them: a limit without a request makes the request (SetDefaults_Pod, at
    decoding), then LimitRanger's defaults for the rest."""
    requests = {**limits, **requests}
    return {"requests": {**defaults["requests"], **requests}, "limits": {**defaults["limits"], **limits}}


def _typed(template: Template) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    requests, limits = {}, {}
    for resource, request, limit in (("cpu", template.cpu_request, template.cpu_limit),
                                     ("memory", template.memory_request, template.memory_limit)):
        if (value := quantity_or_none(request.strip())) is not None:
            requests[resource] = value
        if (value := quantity_or_none(limit.strip())) is not None:
            limits[resource] = value
    return requests, limits


def _hard_and_used(quota: dict[str, Any]) -> tuple[str, dict[str, tuple[str, Decimal]], dict[str, Decimal] | None]:
    """Its name, what it allows ({resource: (as written, amount)}) and what is in use (None until its controller
    counted it)."""
    metadata, spec, status = (_dict(quota.get(k)) for k in ("metadata", "spec", "status"))
    hard_list = _dict(status.get("hard")) or _dict(spec.get("hard"))
    hard = {str(k): (str(v), q) for k, v in hard_list.items()
            if (q := quantity_or_none(str(v).strip())) is not None}
    used_list = status.get("used")
    used = {str(k): q for k, v in used_list.items() if (q := quantity_or_none(str(v).strip())) is not None} \
        if isinstance(used_list, dict) else None
    return str(metadata.get("name") or ""), hard, used


def counts_compute(quotas: Sequence[Any]) -> bool:
    """Whether a quota counts CPU or memory (then every container must state it, and queue-proxy's amounts matter)."""
    return any(key in COMPUTE for quota in quotas if isinstance(quota, dict)
               for key in _dict(_dict(quota.get("status")).get("hard")) or _dict(_dict(quota.get("spec")).get("hard")))


def quota_warnings(template: Template, quotas: Sequence[Any], limit_ranges: Sequence[Any],
                   queue: Amounts | None) -> list[str]:
    """What the namespace's ResourceQuotas would refuse of a new revision with `template`, before it is sent: a
    resource the quota counts that a container does not state, or instances that would exceed what is left. `queue`
    is queue-proxy's amounts (queue_proxy_amounts; None when not known: then only the revision's own container is
    counted, and an amount is "at least"). Quotas with scopes are left out (which pods they count is not checked)."""
    defaults = _limit_range_defaults(limit_ranges)
    own = _admitted(*_typed(template), defaults)
    sidecar = _admitted(queue["requests"], queue["limits"], defaults) if queue is not None else None
    scale = template.scaling.min_scale.strip()
    wanted = max(1, int(scale)) if scale.isascii() and scale.isdigit() else 1
    warnings: list[str] = []
    for quota in quotas:
        if not isinstance(quota, dict):
            continue
        spec = _dict(quota.get("spec"))
        if spec.get("scopes") or spec.get("scopeSelector"):
            continue
        name, hard, used = _hard_and_used(quota)
        missing, advice = _unstated(hard, own, sidecar)
        if missing:
            warnings.append(f"The namespace's ResourceQuota {name} counts {missing}: Kubernetes would refuse every "
                            f"instance of the new revision.{advice}")
        if used is not None:  # and what it would exceed once they all state them (found alone, it hid this)
            warnings += _beyond(name, hard, used, own, sidecar, wanted)
    return list(dict.fromkeys(warnings))


def _unstated(hard: dict[str, tuple[str, Decimal]], own: Amounts, sidecar: Amounts | None) -> tuple[str, str]:
    """("CPU limits, so every container must state them, and …", what to do when it is queue-proxy's): what of the
    quota's counted resources a container would not state (("", "") when all do)."""
    terms, mine, keys = [], False, []
    for counted in hard:
        if counted not in _STATED:
            continue
        resource, kind = _STATED[counted]
        lacks, theirs = resource not in own[kind], sidecar is not None and resource not in sidecar[kind]
        if lacks or theirs:
            terms.append(QUOTA_TERMS.get(counted, counted))
            mine = mine or lacks
            if theirs:
                keys.append(f"queue-sidecar-{resource}-{kind[:-1]}")
    if not terms:
        return "", ""
    counted_terms = f"{and_words(list(dict.fromkeys(terms)))}, so every container must state them"
    if not keys:
        return f"{counted_terms}, and this one does not", ""
    queue_keys = and_words(list(dict.fromkeys(keys)))
    where = f"{queue_keys} in {CONFIG_DEPLOYMENT}, where none is set"
    advice = (f" Ask a cluster admin to set {queue_keys} there, or for a LimitRange whose defaults give them to every "
              "container.")
    if mine:
        return (f"{counted_terms}, and neither this one nor queue-proxy does (queue-proxy, the container Knative adds "
                f"to each instance, takes its own from {where})"), advice
    return (f"{counted_terms}, and queue-proxy, the container Knative adds to each instance, does not (it takes its "
            f"own from {where})"), advice


def _beyond(name: str, hard: dict[str, tuple[str, Decimal]], used: dict[str, Decimal], own: Amounts,
            sidecar: Amounts | None, wanted: int) -> list[str]:
    """Instances of the new revision that what is left of the quota would not take: every one, or fewer than its
    min-scale asks for."""
    found = []
    for counted, (allowed, most) in hard.items():
        if counted in _PODS:
            each, mine, resource = Decimal(1), Decimal(1), "pods"
        elif counted in _STATED:
            resource, kind = _STATED[counted]
            mine = own[kind].get(resource, Decimal(0))
            each = mine + (sidecar[kind].get(resource, Decimal(0)) if sidecar is not None else Decimal(0))
        else:
            continue
        if each <= 0:
            continue
        left = most - used.get(counted, Decimal(0))
        if left >= each * wanted:
            continue  # room enough
        fits = int(left // each) if left >= each else 0  # so below `wanted`: no quotient beyond Decimal's 28 digits
        in_use = used.get(counted, Decimal(0))
        if resource == "pods":
            asks, held = "", str(int(in_use))
        else:
            allowed, held, total, part = in_one_unit(resource, [most, in_use, each, mine])
            split = f" ({part} for its container, the rest for queue-proxy)" \
                if sidecar is not None and each > mine > 0 else ""
            least = "" if sidecar is not None else "at least "
            asks = f"; each instance of the new revision asks for {least}{total}{split}"
        refused = "every instance of it" if fits == 0 else \
            f"all but {fits} of the {wanted} instances its min-scale asks for"
        term = QUOTA_TERMS.get(counted, counted)
        found.append(f"The namespace's ResourceQuota {name} allows {allowed}{'' if term == 'pods' else ' of'} {term} "
                     f"in all, {held} of them in use{asks}: Kubernetes would refuse {refused}.")
    return found
