"""A namespace's ResourceQuotas and LimitRanges: how the API server decodes, defaults and validates them, the
admission plugins that apply them to every pod created (LimitRanger, then ResourceQuota, as kube-apiserver orders
them, for the cluster's own controllers' pods too), and the resource quota controller that keeps each quota's
status.hard and status.used current.

Sources, kubernetes/kubernetes: pkg/apis/core/v1/defaults.go (SetDefaults_Pod: requests default to limits;
SetDefaults_LimitRangeItem), pkg/apis/core/validation/validation.go (ValidateResourceQuota, ValidateLimitRange),
plugin/pkg/admission/limitranger/admission.go, plugin/pkg/admission/resourcequota/controller.go and
pkg/quota/v1/evaluator/core/pods.go. What is left out: quota scopeSelector (PriorityClass, cross-namespace affinity),
object-count quotas other than pods (services, configmaps, count/<resource>), PersistentVolumeClaim limits, and the
"status unknown for quota" refusal (usage here is counted from the live pods when a pod is admitted, which is what a
synced status.used says).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from app.devcluster.apiserver import errors
from app.devcluster.apiserver.quantity import ZERO, Quantity, json_text, parse
from app.devcluster.apiserver.resources import LIMIT_RANGE, POD, RESOURCE_QUOTA, ResourceDef
from app.devcluster.apiserver.store import Event, Store
from app.devcluster.apiserver.tasks import cancel

log = logging.getLogger("devcluster.quota")
CONTROLLER = "resourcequota-controller"
LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"

# pkg/apis/core/helper/helpers.go: standardResources, standardQuotaResources and integerResources.
_STANDARD = frozenset({
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "resourcequotas", "services",
    "replicationcontrollers", "secrets", "configmaps", "persistentvolumeclaims", "storage", "requests.storage",
    "services.nodeports", "services.loadbalancers",
})
_STANDARD_QUOTA = _STANDARD - {"storage"}
_INTEGER = frozenset({"pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps",
                      "persistentvolumeclaims", "services.nodeports", "services.loadbalancers"})
_HUGE_PAGES = ("hugepages-", "requests.hugepages-")
_LIMIT_TYPES = frozenset({"Pod", "Container", "PersistentVolumeClaim"})
_LIMIT_FIELDS = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
# IsQualifiedName's name part (k8s.io/apimachinery/pkg/util/validation).
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_QUALIFIED_MESSAGE = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                      "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                      "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
# pods.go: the resources a pod must state for each container when a quota tracks them ("it was a mistake").
_MUST_STATE = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})
_POD_RESOURCES = frozenset({"count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
                            "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
                            "pods"})

ResourceList = dict[str, Quantity]
Cause = tuple[str, str, str]


# -- decoding and defaulting ------------------------------------------------------------------------------------------

def _decoded_list(resource: ResourceDef, amounts: Any) -> Any:
    """A ResourceList as the API server stores it: each quantity in its canonical text (`1000m` is `1`), null as 0;
    a 400 as the decoder answers for a value that is no quantity."""
    if not isinstance(amounts, dict):
        return amounts  # the schema check answers for it
    result = {}
    for name, value in amounts.items():
        if value is None:
            result[name] = "0"
            continue
        try:
            result[name] = str(parse(json_text(value)))
        except ValueError as error:
            raise errors.bad_request(
                f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: {error}'
            ) from None
    return result


def prepare(resource: ResourceDef, obj: dict[str, Any]) -> None:
    """Decoding and defaulting of a ResourceQuota, a LimitRange or a Pod sent to create or update."""
    if resource is RESOURCE_QUOTA:
        for part, key in (("spec", "hard"), ("status", "hard"), ("status", "used")):
            section = obj.get(part)
            if isinstance(section, dict) and key in section:
                section[key] = _decoded_list(resource, section[key])
    elif resource is LIMIT_RANGE:
        spec = obj.get("spec")
        limits = spec.get("limits") if isinstance(spec, dict) else None
        for item in limits if isinstance(limits, list) else []:
            if isinstance(item, dict):
                for key in _LIMIT_FIELDS:
                    if key in item:
                        item[key] = _decoded_list(resource, item[key])
                _default_limit_range_item(item)
    elif resource is POD:
        for container in _containers(obj):
            resources = container.get("resources")
            if not isinstance(resources, dict):
                continue
            for key in ("limits", "requests"):
                if key in resources:
                    _decoded_list(resource, resources[key])  # refused as the decoder refuses it; kept as sent
            limits, requests = resources.get("limits"), resources.get("requests")
            if isinstance(limits, dict) and limits and (requests is None or isinstance(requests, dict)):
                # SetDefaults_Pod: a limit without a request makes the request the limit.
                resources["requests"] = {**limits, **(requests or {})}


def _default_limit_range_item(item: dict[str, Any]) -> None:
    """SetDefaults_LimitRangeItem, for type Container: the default limit is the max, the default request the default
    limit, else the min."""
    if item.get("type") != "Container":
        return
    lists: dict[str, dict[str, Any]] = {key: item[key] if isinstance(item.get(key), dict) else {}
                                        for key in ("max", "min")}
    default = dict(item["default"]) if isinstance(item.get("default"), dict) else {}
    request = dict(item["defaultRequest"]) if isinstance(item.get("defaultRequest"), dict) else {}
    for source, target in ((lists["max"], default), (default, request), (lists["min"], request)):
        for name, value in source.items():
            target.setdefault(name, value)
    if default or "default" in item:
        item["default"] = default
    if request or "defaultRequest" in item:
        item["defaultRequest"] = request


# -- validation ---------------------------------------------------------------------------------------------------

def _invalid(field: str, value: str, message: str) -> Cause:
    return ("FieldValueInvalid", field, f'Invalid value: "{value}": {message}')


def _resource_name(name: str, field: str, quota: bool) -> list[Cause]:
    """validateResourceName (and ValidateResourceQuotaResourceName for a quota's)."""
    causes: list[Cause] = []
    base = name.split("/", 1)[1] if name.count("/") == 1 else name
    if "/" in base or not _QUALIFIED.match(base):
        causes.append(_invalid(field, name, _QUALIFIED_MESSAGE))
        return causes
    if "/" not in name:
        huge = name.startswith(_HUGE_PAGES)
        if name not in _STANDARD and not huge:
            causes.append(_invalid(field, name, "must be a standard resource type or fully qualified"))
        if quota and name not in _STANDARD_QUOTA and not huge:
            causes.append(_invalid(field, name, "must be a standard resource for quota"))
    return causes


def _quantities(amounts: Any) -> ResourceList:
    return {str(k): parse(str(v)) for k, v in amounts.items()} if isinstance(amounts, dict) else {}


def _value_checks(name: str, value: Quantity, field: str) -> list[Cause]:
    """ValidateResourceQuantityValue: not negative, and whole for the resources counted in units."""
    causes = []
    if value.value < 0:
        causes.append(_invalid(field, str(value), "must be greater than or equal to 0"))
    if (name in _INTEGER or name.startswith("count/")) and value.milli() % 1000:
        causes.append(_invalid(field, str(value), "must be an integer"))
    return causes


def _validate_quota(quota: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for part, key in (("spec", "hard"), ("status", "hard"), ("status", "used")):
        section = quota.get(part)
        for name, value in sorted(_quantities(section.get(key) if isinstance(section, dict) else None).items()):
            field = f"{part}.{key}[{name}]"
            causes += _resource_name(name, field, quota=True)
            causes += _value_checks(name, value, field)
    return causes


def _validate_limit_range(limit_range: dict[str, Any]) -> list[Cause]:
    """ValidateLimitRange: types, resource names, non-negative values, and min <= defaultRequest <= default <= max."""
    causes: list[Cause] = []
    spec = limit_range.get("spec")
    limits = spec.get("limits") if isinstance(spec, dict) else None
    seen: set[str] = set()
    for index, item in enumerate(limits if isinstance(limits, list) else []):
        if not isinstance(item, dict):
            continue
        path = f"spec.limits[{index}]"
        kind = str(item.get("type") or "")
        if not kind:
            causes.append(_invalid(f"{path}.type", kind, "name part must be non-empty"))
            causes.append(_invalid(f"{path}.type", kind, _QUALIFIED_MESSAGE))
        elif "/" not in kind and kind not in _LIMIT_TYPES:
            causes.append(_invalid(f"{path}.type", kind, "must be a standard limit type or fully qualified"))
        if kind in seen:
            causes.append(("FieldValueDuplicate", f"{path}.type", f'Duplicate value: "{kind}"'))
        seen.add(kind)
        lists = {key: _quantities(item.get(key)) for key in _LIMIT_FIELDS}
        if kind == "Pod":
            for key in ("default", "defaultRequest"):
                if lists[key]:
                    causes.append(("FieldValueForbidden", f"{path}.{key}",
                                   "Forbidden: may not be specified when `type` is 'Pod'"))
        for key in _LIMIT_FIELDS:
            for name, value in sorted(lists[key].items()):
                causes += _resource_name(name, f"{path}.{key}[{name}]", quota=False)
                if value.value < 0:
                    causes.append(_invalid(f"{path}.{key}[{name}]", str(value), "must be greater than or equal to 0"))
        names = sorted(set().union(*(lists[key].keys() for key in _LIMIT_FIELDS)))
        for name in names:
            low, high = lists["min"].get(name), lists["max"].get(name)
            default, request = lists["default"].get(name), lists["defaultRequest"].get(name)
            ratio = lists["maxLimitRequestRatio"].get(name)
            checks = (
                (low, high, "min", low, "min value {a} is greater than max value {b}"),
                (low, request, "defaultRequest", request, "min value {a} is greater than default request value {b}"),
                (request, high, "defaultRequest", request, "default request value {a} is greater than max value {b}"),
                (request, default, "defaultRequest", request,
                 "default request value {a} is greater than default limit value {b}"),
                (low, default, "default", low, "min value {a} is greater than default value {b}"),
                (default, high, "default", default, "default value {a} is greater than max value {b}"),
            )
            for a, b, key, shown, words in checks:
                if a is not None and b is not None and shown is not None and a.value > b.value:
                    causes.append(_invalid(f"{path}.{key}[{name}]", str(shown), words.format(a=a, b=b)))
            if ratio is not None and ratio.value < 1:
                causes.append(_invalid(f"{path}.maxLimitRequestRatio[{name}]", str(ratio),
                                       f"ratio {ratio} is less than 1"))
            if ratio is not None and low is not None and high is not None and low.value > 0:
                most = high.milli() / low.milli() if low.milli() else float("inf")
                if ratio.milli() / 1000 > most:
                    causes.append(_invalid(f"{path}.maxLimitRequestRatio[{name}]", str(ratio),
                                           f"ratio {ratio} is greater than max/min = {most:f}"))
    return causes


def validate(resource: ResourceDef, obj: dict[str, Any]) -> list[Cause]:
    """The type's validation causes (422), for a ResourceQuota or a LimitRange."""
    if resource is RESOURCE_QUOTA:
        return _validate_quota(obj)
    if resource is LIMIT_RANGE:
        return _validate_limit_range(obj)
    return []


# -- what a pod asks for ------------------------------------------------------------------------------------------

def _containers(pod: dict[str, Any], key: str = "") -> list[dict[str, Any]]:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return []
    found = []
    for part in (key,) if key else ("containers", "initContainers"):
        items = spec.get(part)
        found += [c for c in items if isinstance(c, dict)] if isinstance(items, list) else []
    return found


def _amounts(container: dict[str, Any], key: str) -> ResourceList:
    resources = container.get("resources")
    amounts = resources.get(key) if isinstance(resources, dict) else None
    result: ResourceList = {}
    for name, value in (amounts or {}).items() if isinstance(amounts, dict) else ():
        try:
            result[str(name)] = parse(json_text(value)) if value is not None else ZERO
        except ValueError:
            continue  # refused when the pod was decoded
    return result


def _add(a: ResourceList, b: ResourceList) -> ResourceList:
    """quota.Add: each resource's sum, in the format of the first to have it."""
    result = dict(a)
    for name, value in b.items():
        result[name] = result[name] + value if name in result else value
    return result


def pod_total(pod: dict[str, Any], key: str) -> ResourceList:
    """resourcehelper.PodRequests / PodLimits: the containers' sum, or an init container's own when that is more."""
    total: ResourceList = {}
    for container in _containers(pod, "containers"):
        total = _add(total, _amounts(container, key))
    for container in _containers(pod, "initContainers"):
        for name, value in _amounts(container, key).items():
            if name not in total or value.value > total[name].value:
                total[name] = value
    return total


def _compute_usage(requests: ResourceList, limits: ResourceList) -> ResourceList:
    """podComputeUsageHelper."""
    usage: ResourceList = {"pods": parse("1")}
    for name in ("cpu", "memory", "ephemeral-storage"):
        if name in requests:
            usage[name] = usage[f"requests.{name}"] = requests[name]
        if name in limits:
            usage[f"limits.{name}"] = limits[name]
    return usage


def _terminal(pod: dict[str, Any]) -> bool:
    """QuotaV1Pod's opposite: Succeeded or Failed, or deleted and past its grace period."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return True
    meta = pod.get("metadata") or {}
    deleted, grace = meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds")
    if isinstance(deleted, str) and isinstance(grace, int):
        try:
            when = datetime.fromisoformat(deleted.replace("Z", "+00:00")).timestamp() + grace
        except ValueError:
            return False
        return datetime.now(UTC).timestamp() > when
    return False


def pod_usage(pod: dict[str, Any]) -> ResourceList:
    """PodUsageFunc: the object count always, the compute resources while the pod is not terminal."""
    usage: ResourceList = {"count/pods": parse("1")}
    if not _terminal(pod):
        usage = _add(usage, _compute_usage(pod_total(pod, "requests"), pod_total(pod, "limits")))
    return usage


def _best_effort(pod: dict[str, Any]) -> bool:
    return not any(_amounts(c, "requests") or _amounts(c, "limits") for c in _containers(pod))


def _matches(quota: dict[str, Any], pod: dict[str, Any]) -> bool:
    """The quota's scopes select the pod (Terminating, NotTerminating, BestEffort, NotBestEffort)."""
    spec = quota.get("spec") or {}
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    terminating = isinstance(deadline, int) and deadline >= 0
    for scope in spec.get("scopes") or []:
        if (scope == "Terminating" and not terminating) or (scope == "NotTerminating" and terminating) \
                or (scope == "BestEffort" and not _best_effort(pod)) \
                or (scope == "NotBestEffort" and _best_effort(pod)):
            return False
    return True


def _hard(quota: dict[str, Any]) -> ResourceList:
    spec = quota.get("spec")
    return _quantities(spec.get("hard") if isinstance(spec, dict) else None)


def quota_usage(quota: dict[str, Any], pods: Iterable[dict[str, Any]]) -> ResourceList:
    """What the quota's hard resources hold of the pods it selects, as the resource quota controller counts it
    (each resource it cannot count here left out)."""
    hard = _hard(quota)
    tracked = [name for name in hard if name in _POD_RESOURCES]
    used: ResourceList = {}
    for pod in pods:
        if _matches(quota, pod):
            used = _add(used, {k: v for k, v in pod_usage(pod).items() if k in tracked})
    return {name: used.get(name, ZERO) for name in tracked}


def _pretty(amounts: ResourceList) -> str:
    """prettyPrint: `name=quantity`, sorted by name, joined by commas."""
    return ",".join(f"{name}={amounts[name]}" for name in sorted(amounts))


# -- admission ----------------------------------------------------------------------------------------------------

def _limit_range_defaults(pod: dict[str, Any], limit_range: dict[str, Any]) -> None:
    """LimitRanger's mutation: the Container items' default and defaultRequest for what containers lack, noted in the
    kubernetes.io/limit-ranger annotation."""
    default: dict[str, Any] = {}
    request: dict[str, Any] = {}
    for item in ((limit_range.get("spec") or {}).get("limits") or []):
        if isinstance(item, dict) and item.get("type") == "Container":
            request.update(item.get("defaultRequest") or {})
            default.update(item.get("default") or {})
    if not default and not request:
        return
    notes: list[str] = []
    for key, kind in (("containers", "container"), ("initContainers", "init container")):
        for container in _containers(pod, key):
            resources = container.get("resources")
            if not isinstance(resources, dict):
                resources = container["resources"] = {}
            set_limits: list[str] = []
            set_requests: list[str] = []
            for part, defaults, changed in (("limits", default, set_limits), ("requests", request, set_requests)):
                amounts = resources.get(part)
                if not isinstance(amounts, dict):
                    amounts = resources[part] = {}
                for name, value in defaults.items():
                    if name not in amounts:
                        amounts[name] = value
                        changed.append(name)
            name = container.get("name", "")
            if set_requests:
                notes.append(f"{', '.join(sorted(set_requests))} request for {kind} {name}")
            if set_limits:
                notes.append(f"{', '.join(sorted(set_limits))} limit for {kind} {name}")
    if notes:
        meta = pod.setdefault("metadata", {})
        annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
        meta["annotations"] = {**annotations, LIMIT_RANGER_ANNOTATION: "LimitRanger plugin set: " + "; ".join(notes)}


def _min(kind: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList) -> str | None:
    request, limit = requests.get(name), limits.get(name)
    if request is None:
        return f"minimum {name} usage per {kind} is {enforced}.  No request is specified"
    if request.milli() < enforced.milli():
        return f"minimum {name} usage per {kind} is {enforced}, but request is {request}"
    if limit is not None and limit.milli() < enforced.milli():
        return f"minimum {name} usage per {kind} is {enforced}, but limit is {limit}"
    return None


def _max(kind: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList) -> str | None:
    request, limit = requests.get(name), limits.get(name)
    if limit is None:
        return f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"
    if limit.milli() > enforced.milli():
        return f"maximum {name} usage per {kind} is {enforced}, but limit is {limit}"
    if request is not None and request.milli() > enforced.milli():
        return f"maximum {name} usage per {kind} is {enforced}, but request is {request}"
    return None


def _ratio(kind: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList) -> str | None:
    request, limit = requests.get(name), limits.get(name)
    if request is None or request.milli() == 0:
        return (f"{name} max limit to request ratio per {kind} is {enforced}, but no request is specified or request "
                "is 0")
    if limit is None or limit.milli() == 0:
        return f"{name} max limit to request ratio per {kind} is {enforced}, but no limit is specified or limit is 0"
    observed = limit.milli() / request.milli()
    if observed * 1000 > enforced.milli():
        return f"{name} max limit to request ratio per {kind} is {enforced}, but provided ratio is {observed:f}"
    return None


def _limit_range_problems(pod: dict[str, Any], limit_range: dict[str, Any]) -> list[str]:
    """PodValidateLimitFunc: each container's (and the pod's) requests and limits against the items' min, max and
    maxLimitRequestRatio (resources in name order here: Go walks its maps in no fixed order)."""
    problems: list[str] = []
    checks = (("min", _min), ("max", _max), ("maxLimitRequestRatio", _ratio))
    for item in ((limit_range.get("spec") or {}).get("limits") or []):
        if not isinstance(item, dict) or item.get("type") not in ("Container", "Pod"):
            continue
        kind = str(item["type"])
        if kind == "Container":
            subjects = [(_amounts(c, "requests"), _amounts(c, "limits")) for c in _containers(pod)]
        else:
            subjects = [(pod_total(pod, "requests"), pod_total(pod, "limits"))]
        for requests, limits in subjects:
            for key, check in checks:
                for name, enforced in sorted(_quantities(item.get(key)).items()):
                    problem = check(kind, name, enforced, requests, limits)
                    if problem is not None:
                        problems.append(problem)
    return problems


def _over_limit(pod: dict[str, Any]) -> list[Cause]:
    """ValidateResourceRequirements: a request above its limit."""
    causes: list[Cause] = []
    for key in ("containers", "initContainers"):
        for index, container in enumerate(_containers(pod, key)):
            requests, limits = _amounts(container, "requests"), _amounts(container, "limits")
            for name in sorted(requests):
                if name in limits and requests[name].value > limits[name].value:
                    causes.append(_invalid(f"spec.{key}[{index}].resources.requests", str(requests[name]),
                                           f"must be less than or equal to {name} limit of {limits[name]}"))
    return causes


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as it is, more without repeats in brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _missing(pod: dict[str, Any], required: set[str]) -> str | None:
    """podEvaluator.Constraints: the tracked cpu and memory resources a container does not state."""
    required = required & _MUST_STATE
    missing: dict[str, set[str]] = {}
    for container in _containers(pod):
        stated = set(_compute_usage(_amounts(container, "requests"), _amounts(container, "limits")))
        for name in required - stated:
            missing.setdefault(name, set()).add(str(container.get("name", "")))
    if not missing:
        return None
    return "must specify " + "; ".join(f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing))


class PodAdmission:
    """LimitRanger and ResourceQuota on pod creation, against the namespace's objects in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def mutate(self, namespace: str, pod: dict[str, Any]) -> None:
        """LimitRanger's Admit: the namespace's defaults for what the containers lack."""
        for limit_range in self.store.list(LIMIT_RANGE.key, namespace):
            _limit_range_defaults(pod, limit_range)

    def validate(self, namespace: str, pod: dict[str, Any]) -> None:
        """The pod's own requests-to-limits check (its strategy's validation, which follows the mutating plugins),
        then LimitRanger's Validate and ResourceQuota."""
        name = str((pod.get("metadata") or {}).get("name") or "")
        causes = _over_limit(pod)
        if causes:  # a default limit below a container's request
            raise errors.invalid("Pod", "", name, causes)
        for limit_range in self.store.list(LIMIT_RANGE.key, namespace):
            problems = _limit_range_problems(pod, limit_range)
            if problems:
                raise errors.forbidden(POD.plural, "", name, aggregate(problems))
        self._quota(namespace, name, pod)

    def _quota(self, namespace: str, name: str, pod: dict[str, Any]) -> None:
        quotas = [q for q in self.store.list(RESOURCE_QUOTA.key, namespace) if _matches(q, pod)]
        relevant = []
        for quota in quotas:
            hard = _hard(quota)
            tracked = {k for k in hard if k in _POD_RESOURCES}
            if not tracked:
                continue
            missing = _missing(pod, tracked)
            if missing is not None:
                raise errors.forbidden(POD.plural, "", name, f"failed quota: {quota['metadata']['name']}: {missing}")
            relevant.append((quota, hard))
        if not relevant:
            return
        delta = pod_usage(pod)
        pods = self.store.list(POD.key, namespace)
        for quota, hard in relevant:
            used = quota_usage(quota, pods)
            requested = {k: v for k, v in delta.items() if k in hard}
            exceeded = sorted(k for k, v in requested.items() if (used.get(k, ZERO) + v).value > hard[k].value)
            if exceeded:
                raise errors.forbidden(POD.plural, "", name, (
                    f"exceeded quota: {quota['metadata']['name']}, "
                    f"requested: {_pretty({k: requested[k] for k in exceeded})}, "
                    f"used: {_pretty({k: used.get(k, ZERO) for k in exceeded})}, "
                    f"limited: {_pretty({k: hard[k] for k in exceeded})}"))


# -- the resource quota controller --------------------------------------------------------------------------------

def quota_status(quota: dict[str, Any], pods: Iterable[dict[str, Any]]) -> dict[str, Any]:
    hard = _hard(quota)
    used = quota_usage(quota, pods)
    return {"hard": {k: str(v) for k, v in sorted(hard.items())}, "used": {k: str(v) for k, v in sorted(used.items())}}


class QuotaController:
    """Keeps each ResourceQuota's status current: hard as the spec says, used as its namespace's pods hold."""

    def __init__(self, rest: Any) -> None:  # the Rest (typed loosely: rest.py builds on this module)
        self.rest = rest
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        subscription = self.rest.store.subscribe([POD.key, RESOURCE_QUOTA.key])
        for quota in self.rest.store.list(RESOURCE_QUOTA.key):
            self.sync(str(quota["metadata"]["namespace"]))
        self._task = asyncio.create_task(self._run(subscription.queue))

    async def stop(self) -> None:
        await cancel(self._task)

    async def _run(self, queue: asyncio.Queue[Event | None]) -> None:
        while True:
            event = await queue.get()
            if event is None:
                return
            namespaces = {event.namespace}
            while not queue.empty():  # a burst of changes: each namespace counted once
                more = queue.get_nowait()
                if more is None:
                    return
                namespaces.add(more.namespace)
            for namespace in sorted(namespaces):
                try:
                    self.sync(namespace)
                except Exception:
                    log.exception("counting the quota usage of namespace %s failed", namespace)
            await asyncio.sleep(0)

    def sync(self, namespace: str) -> None:
        store: Store = self.rest.store
        quotas = store.list(RESOURCE_QUOTA.key, namespace)
        if not quotas:
            return
        pods = store.list(POD.key, namespace)
        for quota in quotas:
            status = quota_status(quota, pods)
            if quota.get("status") == status or quota["metadata"].get("deletionTimestamp"):
                continue
            new = {**copy.deepcopy(quota), "status": status}
            try:
                self.rest.system_write(RESOURCE_QUOTA, new, quota, CONTROLLER, "status")
            except errors.ApiError as error:
                log.info("quota %s/%s: %s", namespace, quota["metadata"]["name"], error.message)
