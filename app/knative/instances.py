"""A revision's instances in words: "2 running", "0 (scaled to zero; the next request starts one)", "starting",
"crash-looping (5 restarts)" ("failing (CrashLoopBackOff)" before the first restart), from its pods as the kubelet
reports them, or, where the console may not read pods, from the revision's own status (actualReplicas,
desiredReplicas and its Active condition)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.knative.models import FAILED, RevisionView
from app.knative.quantity import quantity_or_none

LABEL_REVISION = "serving.knative.dev/revision"
USER_CONTAINER = "user-container"  # Knative's default name for a revision's container
QUEUE_PROXY = "queue-proxy"
USER_PORT = "user-port"  # the port Knative's deploy.go gives the revision's (serving) container
CRASHING = frozenset({"CrashLoopBackOff", "RunContainerError", "CreateContainerError"})
NOT_PULLED = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})
# Scaled to zero with no share and no tag: no request reaches it, so none starts an instance.
UNREACHED = "0 (scaled to zero; no traffic reaches it: a share or a tag in Split Traffic would)"
PROBE_FAILING = "running, not ready (its readiness probe does not pass)"
# Tones the page shows them in: running, idle (scaled to zero), starting, failing, none.
RUNNING, IDLE, STARTING, FAILING, NONE = "running", "idle", "starting", "failing", "none"


@dataclass(frozen=True)
class Instance:
    """One pod of a revision, as far as a user needs it: is it serving, starting, or failing, and how often has its
    container been restarted."""

    name: str
    revision: str
    phase: str
    ready: bool
    restarts: int
    waiting: str = ""  # the user container's waiting reason, e.g. CrashLoopBackOff, ContainerCreating
    exit_code: int | None = None  # of its last terminated run
    terminating: bool = False
    created: str = ""
    container: str = USER_CONTAINER  # the revision's own container in the pod, as the user named it
    # Its container runs, but the pod is not ready because the readiness probe does not pass: queue-proxy, which runs
    # the container's tcpSocket/httpGet/grpc probe for it (deploy.go), is running and not ready (or, for an exec
    # probe the kubelet runs itself, the container is not ready).
    probe_failing: bool = False
    # The scheduler's message while no node can take it (its PodScheduled condition False, reason Unschedulable).
    unschedulable: str = ""
    # What the namespace's LimitRange gave the revision's container, which set none of it: (("cpu request", "1"), …)
    limit_range: tuple[tuple[str, str], ...] = ()
    # What the pod asks the scheduler for, per resource: (("cpu", "1025m", "1"), …), the pod's total (all its
    # containers, queue-proxy's included) and what of it is the revision's own container's ("" for none).
    asks: tuple[tuple[str, str, str], ...] = ()

    @property
    def state(self) -> str:
        """In words: "ready", "starting", "waiting to restart (CrashLoopBackOff)", "stopping"."""
        if self.terminating:
            return "stopping"
        if self.ready:
            return "ready"
        if self.unschedulable:
            return f"pending: {no_room(self.unschedulable)}"
        if self.probe_failing:
            return PROBE_FAILING
        if self.waiting in CRASHING:
            return f"waiting to restart ({self.waiting})"
        if self.waiting in NOT_PULLED:
            return f"its image cannot be pulled ({self.waiting})"
        if self.phase in ("Succeeded", "Failed"):
            return f"ended ({self.phase})"
        return "starting" + (f" ({self.waiting})" if self.waiting else "")


# kube-scheduler's reasons for a node a pod does not fit (pkg/scheduler/framework/plugins/noderesources/fit.go), as
# its FitError message counts them before any "preemption:" part: "0/1 nodes are available: 1 Insufficient cpu."
_SHORT_OF = re.compile(r"\b[0-9]+ (Insufficient ([A-Za-z0-9](?:[A-Za-z0-9./_-]*[A-Za-z0-9])?)|Too many pods)")
RESOURCE_WORDS = {"cpu": "CPU", "memory": "memory", "ephemeral-storage": "ephemeral storage"}  # said to users


def short_of(message: str) -> list[str]:
    """What the nodes ran out of, by the scheduler's message: "cpu", "memory", "pods" (or an extended resource's
    name), in the message's order, each once; [] when it names none (another reason: taints, affinity, ...)."""
    found: list[str] = []
    for match in _SHORT_OF.finditer(message.split(" preemption:", 1)[0]):
        resource = match.group(2) or "pods"
        if resource not in found:
            found.append(resource)
    return found


def no_room(message: str) -> str:
    """The scheduler's message in a few words: "no node has enough CPU", "no node takes more pods", ..."""
    missing = short_of(message)
    if not missing:
        return "no node can run it"
    words = [RESOURCE_WORDS.get(r, r) for r in missing if r != "pods"]
    parts = [f"no node has enough {' or '.join(words)}"] if words else []
    if "pods" in missing:
        parts.append("no node takes more pods")
    return "; ".join(parts)


def _unschedulable(status: dict[str, Any]) -> str:
    for entry in _list(status.get("conditions")):
        if isinstance(entry, dict) and entry.get("type") == "PodScheduled" and entry.get("status") == "False" \
                and entry.get("reason") == "Unschedulable":
            return str(entry.get("message") or "Unschedulable")
    return ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def user_container(pod: dict[str, Any]) -> str:
    """The name of the revision's container in a Knative pod: the one deploy.go gives the `user-port` port (a
    revision's container keeps the name it was given; `user-container` when it was given none)."""
    containers = [c for c in _list(_dict(pod.get("spec")).get("containers")) if isinstance(c, dict)]
    serving = next((c for c in containers if any(_dict(p).get("name") == USER_PORT for p in _list(c.get("ports")))),
                   None)
    serving = serving or next((c for c in containers if c.get("name") != QUEUE_PROXY), None)
    name = _dict(serving).get("name")
    return name if isinstance(name, str) and name else USER_CONTAINER


# The LimitRanger admission plugin's note of the defaults it gave a pod's containers (plugin/pkg/admission/limitranger
# admission.go mergePodResourceRequirements): "LimitRanger plugin set: cpu, memory request for container NAME; cpu
# limit for container NAME".
LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"
_LIMIT_RANGER_PREFIX = "LimitRanger plugin set: "
_LIMIT_RANGER_NOTE = re.compile(r"^(.+) (request|limit) for container (\S+)$")


def limit_range_defaults(pod: dict[str, Any], container: str) -> tuple[tuple[str, str], ...]:
    """The requests and limits the LimitRanger gave `container` of `pod`, with the amounts the pod holds."""
    note = _dict(_dict(pod.get("metadata")).get("annotations")).get(LIMIT_RANGER_ANNOTATION)
    if not isinstance(note, str) or not note.startswith(_LIMIT_RANGER_PREFIX):
        return ()
    spec = next((c for c in _list(_dict(pod.get("spec")).get("containers"))
                 if isinstance(c, dict) and c.get("name") == container), {})
    resources = _dict(spec.get("resources"))
    found = []
    for part in note.removeprefix(_LIMIT_RANGER_PREFIX).split("; "):
        matched = _LIMIT_RANGER_NOTE.match(part)
        if matched is None or matched.group(3) != container:
            continue
        amounts = _dict(resources.get(f"{matched.group(2)}s"))
        for name in matched.group(1).split(", "):
            if name in amounts:
                found.append((f"{name} {matched.group(2)}", str(amounts[name])))
    return tuple(sorted(found, key=lambda item: (item[0].endswith("limit"), item[0])))


# The suffixes the console writes amounts other than CPU with, largest first: binary, then decimal.
_UNITS = (("Ti", Decimal(2**40)), ("Gi", Decimal(2**30)), ("Mi", Decimal(2**20)), ("Ki", Decimal(2**10)),
          ("T", Decimal(10**12)), ("G", Decimal(10**9)), ("M", Decimal(10**6)), ("k", Decimal(10**3)))
_SUFFIXES = {"m": Decimal("0.001"), **dict(_UNITS)}


def amount_words(resource: str, value: Decimal) -> str:
    """A sum of quantities, as the console writes it: CPU in cores or millicores ("4", "1025m"), other amounts with the
    largest binary (else decimal) suffix that keeps them whole ("640Mi", "1500M"), else as a number."""
    if resource == "cpu":
        if value == value.to_integral_value():
            return str(int(value))
        milli = value * 1000
        return f"{int(milli)}m" if milli == milli.to_integral_value() else str(value.normalize())
    for suffix, power in _UNITS:
        if value >= power and value % power == 0:
            return f"{int(value / power)}{suffix}"
    return str(int(value)) if value == value.to_integral_value() else str(value.normalize())


def amount_like(resource: str, value: Decimal, like: str) -> str:
    """`value` in the unit `like` is written in ("4000m" beside "4025m", not "4"), when that keeps it whole; else as
    amount_words writes it. For a part of an amount said in the same sentence."""
    suffix = like.lstrip("0123456789.")
    unit = _SUFFIXES.get(suffix)
    if unit is None or (suffix == "m") != (resource == "cpu"):
        return amount_words(resource, value)
    scaled = value / unit
    return f"{int(scaled)}{suffix}" if scaled == scaled.to_integral_value() else amount_words(resource, value)


def in_one_unit(resource: str, values: Sequence[Decimal]) -> list[str]:
    """Amounts said in one sentence, in one unit: CPU in cores when all are whole, else in millicores; other amounts
    in the largest unit that keeps them all whole ("4096Mi … 5248Mi", not "4Gi … 5248Mi"); else each as amount_words
    writes it."""
    def whole(unit: Decimal) -> bool:
        return all((v / unit) == (v / unit).to_integral_value() for v in values)

    if resource == "cpu":
        if whole(Decimal(1)):
            return [str(int(v)) for v in values]
        if whole(Decimal("0.001")):
            return [f"{int(v * 1000)}m" if v else "0" for v in values]
    else:
        unit = next(((suffix, size) for suffix, size in _UNITS if whole(size)), None)
        if unit is not None:
            return [f"{int(v / unit[1])}{unit[0]}" if v else "0" for v in values]
    return [amount_words(resource, v) for v in values]


def pod_asks(pod: dict[str, Any], container: str) -> tuple[tuple[str, str, str], ...]:
    """Each resource the pod's containers request, summed as the scheduler sums them (NodeResourcesFit, without init
    containers or overhead, which Knative's pods have none of), with what of it is `container`'s own."""
    totals: dict[str, Decimal] = {}
    own: dict[str, str] = {}
    for spec in _list(_dict(pod.get("spec")).get("containers")):
        for name, amount in _dict(_dict(_dict(spec).get("resources")).get("requests")).items():
            value = quantity_or_none(str(amount))
            if value is None or not isinstance(name, str):
                continue
            totals[name] = totals.get(name, Decimal(0)) + value
            if _dict(spec).get("name") == container:
                own[name] = str(amount)
    asks = []
    for name, total in sorted(totals.items()):
        words, mine = amount_words(name, total), quantity_or_none(own.get(name, ""))
        asks.append((name, words, amount_like(name, mine, words) if mine is not None else ""))
    return tuple(asks)


def instance_from(pod: dict[str, Any]) -> Instance:
    meta, status = _dict(pod.get("metadata")), _dict(pod.get("status"))
    statuses = [s for s in _list(status.get("containerStatuses")) if isinstance(s, dict)]
    container = user_container(pod)
    user = next((s for s in statuses if s.get("name") == container), statuses[0] if statuses else {})
    state, last = _dict(user.get("state")), _dict(_dict(user.get("lastState")).get("terminated"))
    ready = any(isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
                for c in _list(status.get("conditions")))
    code = last.get("exitCode")
    restarts = user.get("restartCount")
    queue = next((s for s in statuses if s.get("name") == QUEUE_PROXY), {})
    probe_failing = not ready and "running" in state and (
        user.get("ready") is False or ("running" in _dict(queue.get("state")) and queue.get("ready") is False))
    return Instance(
        name=str(meta.get("name") or ""),
        revision=str(_dict(meta.get("labels")).get(LABEL_REVISION) or ""),
        phase=str(status.get("phase") or "Pending"),
        ready=ready,
        restarts=restarts if isinstance(restarts, int) and not isinstance(restarts, bool) else 0,
        waiting=str(_dict(state.get("waiting")).get("reason") or ""),
        exit_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        terminating=bool(meta.get("deletionTimestamp")),
        created=str(meta.get("creationTimestamp") or ""),
        container=container,
        probe_failing=probe_failing and not meta.get("deletionTimestamp"),
        unschedulable="" if _dict(pod.get("spec")).get("nodeName") else _unschedulable(status),
        limit_range=limit_range_defaults(pod, container),
        asks=pod_asks(pod, container),
    )


@dataclass(frozen=True)
class Instances:
    words: str
    tone: str
    running: int = 0
    restarts: int = 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe(revision: RevisionView, pods: Sequence[Instance] | None, reachable: bool = True) -> Instances:
    """The revision's instances in words; `pods` None when the cluster did not say (e.g. no right to list pods);
    `reachable`, whether a request can reach it (ServiceView.reachable), which decides what starts one again."""
    if pods is None:
        return _from_status(revision, reachable)
    live = [p for p in pods if not p.terminating]
    crashing = [p for p in live if p.waiting in CRASHING or (not p.ready and p.restarts > 0)]
    restarts = sum(p.restarts for p in live)
    if crashing and restarts:
        return Instances(f"crash-looping ({_plural(restarts, 'restart')})", FAILING, 0, restarts)
    if crashing:  # exited, and waiting out the kubelet's back-off before its first restart: not looping yet
        waiting = next((p.waiting for p in crashing if p.waiting), "")
        return Instances(f"failing ({waiting})" if waiting else "failing", FAILING)
    if any(p.waiting in NOT_PULLED for p in live):
        return Instances("not starting: the image cannot be pulled", FAILING)
    running = sum(1 for p in live if p.ready)
    unready = sum(1 for p in live if p.probe_failing)
    pending = [p for p in live if p.unschedulable]
    if pending:
        # Pods no node has room for: said with what ran out, however many there are (a min-scale in the thousands
        # leaves most of them Pending).
        why = no_room(pending[0].unschedulable)
        starting = len(live) - running - len(pending)
        parts = [f"{running} running"] if running else []
        parts += [f"{starting} starting"] if starting else []
        parts.append(f"{len(pending)} pending ({why})")
        # Some running beside them: not all is well, nor all lost (amber, as while starting; red with none running).
        return Instances(", ".join(parts), STARTING if running else FAILING, running, restarts)
    starting = len(live) - running
    if unready and not running:
        return Instances(PROBE_FAILING if unready == len(live) else f"starting, {PROBE_FAILING}",
                         FAILING if revision.status.label == FAILED else STARTING)
    if running and starting:
        return Instances(f"{running} running, {starting} starting", RUNNING, running, restarts)
    if running:
        return Instances(f"{running} running", RUNNING, running, restarts)
    if starting:
        return Instances("starting", STARTING)
    return _none_running(revision, reachable)


def _from_status(revision: RevisionView, reachable: bool) -> Instances:
    healthy = next((c for c in revision.conditions if c.type == "ContainerHealthy"), None)
    if healthy is not None and healthy.status == "False" and healthy.reason.startswith("ExitCode"):
        return Instances("crash-looping", FAILING)
    actual = revision.actual_replicas or 0
    if actual:
        desired = revision.desired_replicas or 0
        extra = f", {desired - actual} starting" if desired > actual else ""
        return Instances(f"{actual} running{extra}", RUNNING, actual)
    return _none_running(revision, reachable)


def _none_running(revision: RevisionView, reachable: bool) -> Instances:
    active = next((c for c in revision.conditions if c.type == "Active"), None)
    if revision.status.label == FAILED:
        return Instances("none", NONE)
    if active is not None and active.status == "False":
        if not reachable:
            return Instances(UNREACHED, IDLE)
        return Instances("0 (scaled to zero; the next request starts one)", IDLE)
    if (active is not None and active.status == "Unknown") or (revision.desired_replicas or 0) > 0:
        return Instances("starting", STARTING)
    return Instances("none", NONE)


def serving_container(spec: dict[str, Any]) -> dict[str, Any]:
    """A revision spec's container that serves: the one with the port, else the first ({} when there is none)."""
    containers = [c for c in _list(spec.get("containers")) if isinstance(c, dict)]
    return next((c for c in containers if c.get("ports")), containers[0] if containers else {})


def resolved_image(revision: dict[str, Any]) -> str:
    """The serving container's image as Knative resolved it when it made the revision (by digest, from
    `status.containerStatuses[].imageDigest`); "" while it has none."""
    spec, status = revision.get("spec"), revision.get("status")
    name = serving_container(spec if isinstance(spec, dict) else {}).get("name")
    statuses = [s for s in _list((status if isinstance(status, dict) else {}).get("containerStatuses"))
                if isinstance(s, dict)]
    found = next((s for s in statuses if s.get("name") == name), statuses[0] if statuses else {})
    digest = found.get("imageDigest")
    return digest if isinstance(digest, str) else ""


def container_of(spec: dict[str, Any]) -> str:
    """The container a revision's logs are read from: the one that serves, named as Knative names a single unnamed
    container."""
    return str(serving_container(spec).get("name") or USER_CONTAINER)


def by_revision(pods: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The pods of each revision (by Knative's label), as they are: a page makes instances of the few it shows."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        revision = _dict(_dict(pod.get("metadata")).get("labels")).get(LABEL_REVISION)
        if isinstance(revision, str) and revision:
            grouped.setdefault(revision, []).append(pod)
    return grouped
