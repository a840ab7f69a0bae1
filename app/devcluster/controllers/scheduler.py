"""kube-scheduler for the dev cluster's one node: a pod is bound to it when it fits, as the NodeResourcesFit plugin
counts (pkg/scheduler/framework/plugins/noderesources/fit.go): the node's pods stay below its allocatable `pods`, and,
for a pod that requests any, the cpu and memory requests of the pods bound to the node plus its own stay within its
allocatable cpu and memory. Requests are the containers' summed (a container's limit where it sets no request: the
API server's defaulting copied it), the init containers' largest where larger, plus the pod's overhead.

A pod that does not fit stays Pending and unbound, its PodScheduled condition False with reason Unschedulable and the
scheduler's message, and a Warning FailedScheduling Event from default-scheduler, in the wording of
pkg/scheduler/framework/types.go (FitError.Error) with the default preemption plugin's PostFilter message: every pod
has priority 0 here, so preemption finds no victims. It is tried again when room frees up (a pod bound to the node is
deleted), oldest first, as the scheduling queue moves unschedulable pods back on a pod's deletion.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from app.devcluster.apiserver.nodes import NODE_NAME
from app.devcluster.apiserver.quantity import quantity_value
from app.devcluster.apiserver.quota import pod_total
from app.devcluster.apiserver.resources import NODE, POD
from app.devcluster.controllers.context import Context, condition

SCHEDULER = "default-scheduler"
UNSCHEDULABLE = "Unschedulable"  # v1.PodReasonUnschedulable
# The default preemption plugin's status for the one node when no pod on it has a lower priority (preemption.go).
NO_VICTIMS = "No preemption victims found for incoming pod"
PodKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class Requests:
    cpu: int = 0  # millicores
    memory: int = 0  # bytes

    def __add__(self, other: Requests) -> Requests:
        return Requests(self.cpu + other.cpu, self.memory + other.memory)


@dataclass(frozen=True)
class Allocatable:
    cpu: int  # millicores
    memory: int  # bytes
    pods: int


def milli_value(text: str) -> int | None:
    """Quantity.MilliValue(): thousandths, rounded up (cpu `250m` is 250, `1` is 1000); None for no quantity."""
    value = quantity_value(text)
    return math.ceil(value * 1000) if value is not None else None


def int_value(text: str) -> int | None:
    """Quantity.Value(): rounded up to a whole number (memory in bytes: `128Mi` is 134217728); None for no quantity."""
    value = quantity_value(text)
    return math.ceil(value) if value is not None else None


def _amount(resources: Any, name: str) -> tuple[int, int] | None:
    """(millis, whole units) of one resource in a ResourceList, or None when absent or not a quantity."""
    if not isinstance(resources, dict) or name not in resources:
        return None
    milli, whole = milli_value(str(resources[name])), int_value(str(resources[name]))
    return (milli, whole) if milli is not None and whole is not None else None


def pod_requests(pod: dict[str, Any]) -> Requests:
    """What the pod asks of a node (fit.go computePodResourceRequest: resourcehelper.PodRequests, the pod's overhead
    included)."""
    total = pod_total(pod, "requests")
    overhead = (pod.get("spec") or {}).get("overhead")
    cpu, memory = _amount(overhead, "cpu"), _amount(overhead, "memory")
    return Requests(total["cpu"].milli() if "cpu" in total else 0,
                    math.ceil(total["memory"].value) if "memory" in total else 0) + \
        Requests(cpu[0] if cpu else 0, memory[1] if memory else 0)


def allocatable_of(node: dict[str, Any] | None) -> Allocatable | None:
    if node is None:
        return None
    offered = (node.get("status") or {}).get("allocatable") or {}
    cpu, memory, pods = _amount(offered, "cpu"), _amount(offered, "memory"), _amount(offered, "pods")
    return Allocatable(cpu[0] if cpu else 0, memory[1] if memory else 0, pods[1] if pods else 0)


def insufficient(wanted: Requests, used: Requests, count: int, offered: Allocatable) -> list[str]:
    """fit.go fitsRequest's reasons, in its order: the pod count first, then cpu and memory, which it checks only
    for a pod that requests something."""
    reasons = []
    if count + 1 > offered.pods:
        reasons.append("Too many pods")
    if wanted.cpu or wanted.memory:
        if offered.cpu < wanted.cpu + used.cpu:
            reasons.append("Insufficient cpu")
        if offered.memory < wanted.memory + used.memory:
            reasons.append("Insufficient memory")
    return reasons


def fit_error(reasons: list[str], nodes: int = 1) -> str:
    """FitError.Error() for a node that failed the filter with `reasons` ("0/1 nodes are available: 1 Insufficient
    cpu."), followed by the preemption plugin's PostFilter message, which is itself a FitError ("preemption: 0/1 nodes
    are available: 1 No preemption victims found for incoming pod.")."""
    histogram = ", ".join(sorted(f"{nodes} {reason}" for reason in reasons))
    return (f"0/{nodes} nodes are available: {histogram}. "
            f"preemption: 0/{nodes} nodes are available: {nodes} {NO_VICTIMS}.")


def _unschedulable_message(pod: dict[str, Any]) -> str | None:
    for entry in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(entry, dict) and entry.get("type") == "PodScheduled" and entry.get("status") == "False":
            return str(entry.get("message") or "")
    return None


@dataclass
class Scheduler:
    """What the scheduler's cache holds: the requests of the pods bound to the node, and the pods waiting for room
    (oldest first)."""

    bound: dict[str, Requests] = field(default_factory=dict)  # pod uid → its requests
    used: Requests = Requests()
    waiting: dict[PodKey, tuple[Requests, tuple[str, ...]]] = field(default_factory=dict)  # → (requests, reasons)
    _node: tuple[str, Allocatable | None] = ("", None)  # (the Node's resourceVersion, its allocatable)

    def observe(self, pod: dict[str, Any]) -> None:
        """A pod seen bound to the node (at start-up, or once bound) counts against it."""
        meta = pod["metadata"]
        uid = meta.get("uid", "")
        if (pod.get("spec") or {}).get("nodeName") and uid not in self.bound:
            self.bound[uid] = pod_requests(pod)
            self.used += self.bound[uid]
            self.waiting.pop((meta["namespace"], meta["name"]), None)

    def gone(self, pod: dict[str, Any]) -> list[PodKey]:
        """A pod deleted: the room it held is free. The waiting pods that now fit, oldest first, to try again; and
        those that still do not but for other reasons now (a pod too big for the node's CPU, said to wait for pods too
        while the node was full), whose message and FailedScheduling the scheduler's next try brings up to date, as
        kube-scheduler retries the unschedulable pods a pod's deletion may help."""
        meta = pod["metadata"]
        self.waiting.pop((meta["namespace"], meta["name"]), None)
        freed = self.bound.pop(meta.get("uid", ""), None)
        if freed is None:
            return []
        self.used = Requests(self.used.cpu - freed.cpu, self.used.memory - freed.memory)
        if not self.waiting:
            return []
        offered = self._node[1]
        if offered is None:
            return list(self.waiting)
        woken, used, count = [], self.used, len(self.bound)
        found: dict[Requests, tuple[str, ...]] = {}  # the reasons for each size of pod, while nothing else binds
        for key, (wanted, said) in self.waiting.items():
            reasons = found.get(wanted)
            if reasons is None:
                reasons = found[wanted] = tuple(insufficient(wanted, used, count, offered))
            if not reasons:
                woken.append(key)
                used, count = used + wanted, count + 1
                found.clear()
            elif reasons != said:
                woken.append(key)
        return woken

    def allocatable(self, ctx: Context) -> Allocatable | None:
        node = ctx.store.get(NODE.key, "", NODE_NAME)
        version = str((node or {}).get("metadata", {}).get("resourceVersion", ""))
        if version != self._node[0] or node is None:
            self._node = (version, allocatable_of(node))
        return self._node[1]

    def schedule(self, ctx: Context, pod: dict[str, Any]) -> None:
        """Bind the pod to the node if it fits; else mark it Unschedulable (once for each reason) and keep it
        waiting."""
        meta = pod["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        offered = self.allocatable(ctx)
        wanted = pod_requests(pod)
        reasons = insufficient(wanted, self.used, len(self.bound), offered) if offered is not None else []
        if not reasons:
            bound = copy.deepcopy(pod)
            bound["spec"]["nodeName"] = NODE_NAME
            written = ctx.write(POD, bound, pod)
            if written is not None:
                self.observe(written)
                ctx.record(pod, "Scheduled", f"Successfully assigned {namespace}/{name} to {NODE_NAME}",
                           component=SCHEDULER)
            return
        self.waiting[(namespace, name)] = (wanted, tuple(reasons))
        message = fit_error(reasons)
        if _unschedulable_message(pod) == message:
            return  # already said: its own status write brought it back here
        status = dict(pod.get("status") or {})
        previous = status.get("conditions") or []
        status["phase"] = "Pending"
        status["conditions"] = [condition("PodScheduled", "False", ctx.now(), UNSCHEDULABLE, message,
                                          previous=previous, probe=True)]
        if ctx.write_status(POD, pod, status) is not None:
            ctx.record(pod, "FailedScheduling", message, kind="Warning", component=SCHEDULER)
