"""Knative's autoscaler (the KPA) and activator for the dev cluster: replicas follow the concurrency the gateway sees.

The gateway reports each request it hands to a revision (`acquire` / `release`); a revision with no ready instance
gets one started and the request waits for it, as the activator holds it. The decider averages concurrency over the
stable window (and the panic window), divides by the target, and bounds the result by min-scale and max-scale, as
knative/serving `pkg/autoscaler` does. Scaling to zero follows `pkg/reconciler/autoscaling/kpa/scaler.go`: a revision
that has been active for at least the stable window with nothing to do is marked inactive (`NoTraffic`), and once it
has been inactive for the scale-to-zero grace period (or the pod retention period, if longer) its last pod goes; one
that never reached its initial scale goes to zero once it has been activating for config-deployment's progress
deadline and 30 s more (TimedOut).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.devcluster.admission.goparse import RangeError, parse_duration, parse_int
from app.devcluster.admission.validation_annotations import (
    INITIAL_SCALE,
    MAX_SCALE,
    MIN_SCALE,
    PANIC_THRESHOLD,
    PANIC_WINDOW,
    RETENTION,
    TARGET,
    TARGET_UTILIZATION,
    WINDOW,
)
from app.devcluster.admission.validation_meta import first_key
from app.devcluster.apiserver.podlogs import ContainerLogs
from app.devcluster.controllers import conditions
from app.devcluster.controllers.config import SECOND, WINDOW_MAX, WINDOW_MIN, AutoscalerConfig, finite_float
from app.devcluster.controllers.kubelet import USER_CONTAINER, go_log

NO_TRAFFIC = ("NoTraffic", "The target is not receiving traffic.")
TIMED_OUT = ("TimedOut", "The target could not be activated.")  # kpa.go computeActiveCondition
ACTIVATION_BUFFER = 30.0  # kpa/scaler.go activationTimeoutBuffer, added to config-deployment's progress-deadline
QUEUED = ("Queued", "Requests to the target are being buffered as resources are provisioned.")
POKE_INTERVAL = 1.0  # at most one extra decision per revision per second, whatever the request rate
ACTIVATION_TIMEOUT = 300.0  # the revision's default timeoutSeconds: how long the activator holds a request

Key = tuple[str, str]  # namespace, revision


@dataclass(frozen=True)
class Scaling:
    """A revision's autoscaling settings: its annotations over config-autoscaler's defaults."""

    min_scale: int
    max_scale: int
    initial_scale: int
    window: float
    target: float  # concurrent requests per instance the decider aims at, utilization applied
    panic_window: float
    panic_threshold: float  # a fraction: 2.0 for 200%
    retention: float


def _annotation(annotations: dict[str, Any], keys: tuple[str, ...], parse: Callable[[str], Any], default: Any) -> Any:
    _, value = first_key(annotations, keys)
    if not isinstance(value, str):
        return default
    try:
        return parse(value)
    except (ValueError, RangeError):
        return default  # admission refuses these; an old object may still carry one


def scaling_of(revision: dict[str, Any], config: AutoscalerConfig) -> Scaling:
    annotations = (revision.get("metadata") or {}).get("annotations") or {}
    spec = revision.get("spec") or {}
    seconds = lambda text: parse_duration(text) / SECOND  # noqa: E731
    int32 = lambda text: parse_int(text, 32)  # noqa: E731
    concurrency = spec.get("containerConcurrency")
    concurrency = concurrency if isinstance(concurrency, int) and concurrency > 0 else 0
    target = _annotation(annotations, TARGET, finite_float, 0.0) or (
        float(concurrency) if concurrency else config.container_concurrency_target_default)
    if concurrency:
        target = min(target, float(concurrency))
    utilization = min(_annotation(annotations, TARGET_UTILIZATION, finite_float, 0.0), 100.0) / 100
    if utilization <= 0:
        utilization = config.container_concurrency_target_fraction
    # Admission's ranges, for an object stored before it checked them.
    window = min(max(_annotation(annotations, WINDOW, seconds, config.stable_window), WINDOW_MIN / SECOND),
                 WINDOW_MAX / SECOND)
    panic_percentage = min(max(_annotation(annotations, PANIC_WINDOW, finite_float, config.panic_window_percentage),
                               1.0), 100.0)
    return Scaling(
        min_scale=max(_annotation(annotations, MIN_SCALE, int32, config.min_scale), 0),
        max_scale=max(_annotation(annotations, MAX_SCALE, int32, config.max_scale), 0),
        initial_scale=max(_annotation(annotations, INITIAL_SCALE, int32, config.initial_scale), 0),
        window=window,
        target=max(target * utilization, 0.01),
        panic_window=max(1.0, round(window * panic_percentage / 100)),
        panic_threshold=_annotation(annotations, PANIC_THRESHOLD, finite_float,
                                    config.panic_threshold_percentage) / 100,
        retention=max(_annotation(annotations, RETENTION, seconds, config.scale_to_zero_pod_retention_period), 0.0),
    )


@dataclass
class Window:
    """Request-seconds per whole second of wall time, and the requests in flight."""

    buckets: dict[int, float] = field(default_factory=dict)
    in_flight: int = 0
    since: float = 0.0  # when in_flight last changed
    last_activity: float = 0.0  # when a request last began or ended

    def _accrue(self, now: float) -> None:
        start = self.since or now
        while self.in_flight and start < now:
            second = int(start)
            end = min(now, second + 1.0)
            self.buckets[second] = self.buckets.get(second, 0.0) + self.in_flight * (end - start)
            start = end
        self.since = now

    def begin(self, now: float) -> None:
        self._accrue(now)
        self.in_flight += 1
        self.last_activity = now

    def end(self, now: float) -> None:
        self._accrue(now)
        self.in_flight = max(self.in_flight - 1, 0)
        self.last_activity = now

    def average(self, now: float, seconds: float) -> float:
        """Average concurrency over the last `seconds`, requests still in flight included."""
        self._accrue(now)
        first = int(now - seconds)
        total = sum(v for s, v in self.buckets.items() if s >= first)
        for second in [s for s in self.buckets if s < now - 3600]:
            del self.buckets[second]
        return total / seconds if seconds > 0 else 0.0


@dataclass
class State:
    """The PodAutoscaler's status for one revision (Knative keeps it in a PodAutoscaler object)."""

    initialized: bool = False  # reached its initial scale once
    active: str = "Unknown"  # the PA's Active: True, False (NoTraffic, or TimedOut) or Unknown (Queued)
    since: float = field(default_factory=time.time)  # wall time of Active's last change
    timed_out: bool = False  # never reached its initial scale, and scaled to zero for it (Active False TimedOut)
    activating: bool = False  # a request waits for an instance
    born: float = field(default_factory=time.time)  # when metrics began to be collected for it

    def become(self, status: str, now: float) -> None:
        if status != self.active:
            self.active, self.since = status, now


@dataclass(frozen=True)
class Decision:
    replicas: int | None  # what the Deployment should have; None: leave it
    desired: int  # the decider's wish, reported as status.desiredReplicas
    active: tuple[str, str, str]  # Active's status, reason, message
    initialized: bool
    recheck: float | None  # seconds until the decision may change by itself


def _wall(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


class Autoscaler:
    """Decisions per revision, the gateway's observations, and instances ready to take requests."""

    def __init__(self, logs: ContainerLogs, wake: Callable[[Key], None],
                 activation_buffer: float = ACTIVATION_BUFFER) -> None:
        self.logs = logs
        self.activation_buffer = activation_buffer  # `--activation-timeout-buffer`; Knative's is fixed
        self.wake = wake  # reconcile the revision soon
        self.states: dict[str, State] = {}  # revision uid → state
        self.windows: dict[Key, Window] = {}
        self.ready: dict[Key, list[str]] = {}  # revision → its pods that are Ready
        self.pod_revision: dict[Key, str] = {}  # (namespace, pod) → revision
        self.pod_container: dict[Key, str] = {}  # (namespace, pod) → its serving container, which logs requests
        self.waiting: dict[Key, asyncio.Event] = {}
        self.poked: dict[Key, float] = {}
        self.activating: set[Key] = set()  # revisions a request waits for, not yet seen by the decider
        self.turn = 0

    # -- instances -------------------------------------------------------------------------

    def pod_seen(self, namespace: str, pod: str, revision: str, ready: bool, container: str = USER_CONTAINER) -> None:
        key = (namespace, revision)
        self.pod_revision[(namespace, pod)] = revision
        self.pod_container[(namespace, pod)] = container
        pods = self.ready.setdefault(key, [])
        if ready and pod not in pods:
            pods.append(pod)
            event = self.waiting.pop(key, None)
            if event is not None:
                event.set()
        elif not ready and pod in pods:
            pods.remove(pod)

    def pod_gone(self, namespace: str, pod: str) -> None:
        revision = self.pod_revision.pop((namespace, pod), None)
        self.pod_container.pop((namespace, pod), None)
        if revision is not None and pod in self.ready.get((namespace, revision), []):
            self.ready[(namespace, revision)].remove(pod)

    def forget(self, namespace: str, revision: str, uid: str = "") -> None:
        self.windows.pop((namespace, revision), None)
        self.states.pop(uid, None)

    # -- the gateway's side (activator and queue-proxy) ------------------------------------

    async def acquire(self, namespace: str, revision: str) -> str | None:
        """An instance of the revision for one request: at once if one is ready, else once one has started (a cold
        start); None when none starts within the activator's timeout."""
        key = (namespace, revision)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ACTIVATION_TIMEOUT
        while not self.ready.get(key):
            self._activate(key)
            event = self.waiting.setdefault(key, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), deadline - loop.time())
            except TimeoutError:
                return None
        pods = self.ready[key]
        pod = pods[self.turn % len(pods)]
        self.turn += 1
        now = time.time()
        self.windows.setdefault(key, Window()).begin(now)
        container = self.pod_container.get((namespace, pod), USER_CONTAINER)
        self.logs.write((namespace, pod, container), go_log("helloworld: received a request", now), now)
        self._poke(key, now)
        return pod

    def release(self, namespace: str, revision: str, pod: str) -> None:
        now = time.time()
        key = (namespace, revision)
        self.windows.setdefault(key, Window()).end(now)
        self._poke(key, now)

    def _activate(self, key: Key) -> None:
        self.activating.add(key)
        self.wake(key)

    def _poke(self, key: Key, now: float) -> None:
        if now - self.poked.get(key, 0.0) >= POKE_INTERVAL:
            self.poked[key] = now
            self.wake(key)

    # -- the decider and the scaler ----------------------------------------------------------

    def _activating(self, state: State, scaling: Scaling, config: AutoscalerConfig, initial: int, routed: bool,
                    progress_deadline: float | None, now: float) -> Decision:
        """A revision short of its initial scale. kpa/scaler.go handleScaleToZero: one activating (Active Unknown)
        for longer than config-deployment's progress deadline and the activation buffer, with nothing that keeps it up
        (min-scale, an initial scale above 1, scale to zero disabled, a request waiting), is presumed unable to
        succeed and scaled to zero; computeActiveCondition then marks it inactive, TimedOut. It stays there until
        a request activates it again."""
        if state.activating:
            state.timed_out = False
            state.become("Unknown", now)
        may_time_out = progress_deadline is not None and config.enable_scale_to_zero and \
            (scaling.min_scale if routed else 0) == 0 and scaling.initial_scale <= 1 and not state.activating
        if may_time_out and state.timed_out:
            return Decision(0, 0, ("False", *TIMED_OUT), False, None)
        if may_time_out and progress_deadline is not None and state.active == "Unknown":
            waited = now - state.since
            timeout = progress_deadline + self.activation_buffer
            if waited > timeout:
                state.timed_out = True
                state.become("False", now)
                return Decision(0, 0, ("False", *TIMED_OUT), False, None)
            return Decision(initial, initial, ("Unknown", *QUEUED), False, timeout - waited)
        return Decision(initial, initial, ("Unknown", *QUEUED), False, None)

    def state_of(self, revision: dict[str, Any]) -> State:
        uid = revision["metadata"]["uid"]
        state = self.states.get(uid)
        if state is None:  # after a restart: what the revision's status says
            status = revision.get("status") or {}
            active = conditions.get(status.get("conditions") or [], "Active") or {}
            state = State(
                initialized=conditions.status_of(revision, "ResourcesAvailable") == "True",
                active=str(active.get("status") or "Unknown"),
                since=_wall(str(active.get("lastTransitionTime") or "")),
                timed_out=active.get("reason") == TIMED_OUT[0],
            )
            self.states[uid] = state
        return state

    def decide(self, revision: dict[str, Any], config: AutoscalerConfig, ready: int, replicas: int | None,
               routed: bool, progress_deadline: float | None = None) -> Decision:
        """What the revision's Deployment should have; `progress_deadline`, config-deployment's (seconds), after which
        and the activation buffer more a revision that never reached its initial scale is scaled to zero."""
        now = time.time()
        meta = revision["metadata"]
        key = (meta["namespace"], meta["name"])
        state = self.state_of(revision)
        scaling = scaling_of(revision, config)
        if key in self.activating:
            self.activating.discard(key)
            state.activating = True
        if not state.initialized:
            initial = max(scaling.initial_scale, scaling.min_scale)
            if scaling.max_scale:
                initial = min(initial, scaling.max_scale)
            if ready < initial:
                # The PodAutoscaler exists from the revision's first reconcile, and with fewer ready than it wants
                # kpa.go's computeActiveCondition marks it activating: Queued.
                return self._activating(state, scaling, config, initial, routed, progress_deadline, now)
            state.initialized = True
            state.become("True" if ready else "False", now)
        window = self.windows.get(key)
        stable = window.average(now, scaling.window) if window else 0.0
        panic = window.average(now, scaling.panic_window) if window else 0.0
        want = math.ceil(stable / scaling.target) if stable > 0 else 0
        if panic / scaling.target >= scaling.panic_threshold * max(ready, 1):
            want = max(want, math.ceil(panic / scaling.target))
        if state.activating:
            want = max(want, 1)
        low = scaling.min_scale if routed else 0  # an unreachable revision keeps no minimum
        want = max(want, low)
        if scaling.max_scale:
            want = min(want, scaling.max_scale)
        recheck: float | None = None
        if window is not None and window.last_activity:
            # When the last request's second drops out of the window (the averages count whole seconds).
            until = math.floor(window.last_activity) + 1 + scaling.window - now
            recheck = until if until > 0 else None
        apply = True
        if want == 0 and not config.enable_scale_to_zero:
            want = 1
        if want == 0:
            if state.active == "True":
                active_for = now - state.since
                if active_for >= scaling.window:
                    state.become("False", now)  # nothing to do for a whole window: inactive, pods kept a while
                    apply = False
                    recheck = max(config.scale_to_zero_grace_period, scaling.retention)
                else:
                    want, recheck = 1, scaling.window - active_for
            elif state.active == "False":
                wait = max(config.scale_to_zero_grace_period, scaling.retention)
                inactive_for = now - state.since
                if inactive_for < wait:
                    apply, recheck = False, wait - inactive_for
        elif ready:
            state.activating = False
            state.become("True", now)
        elif state.activating or state.active == "False":
            state.become("Unknown", now)
        if apply and replicas is not None and want < replicas and now - state.born < scaling.window:
            # Not a whole stable window of metrics yet: Knative's decider has no answer, and nothing scales down.
            apply, want = False, replicas
            recheck = min(recheck or scaling.window, state.born + scaling.window - now)
        if state.active == "True":
            active = ("True", "", "")
        elif state.active == "False":
            active = ("False", *NO_TRAFFIC)
        else:
            active = ("Unknown", *QUEUED)
        return Decision(want if apply else replicas, want, active, True, recheck)
