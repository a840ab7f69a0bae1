"""The ConfigMaps the controllers read: Knative's `config-autoscaler` and `config-network`, and the dev cluster's own
`devcluster-system/images`, which stands in for a registry and a kubelet by saying which images misbehave.

`config-autoscaler` is read as knative/serving `pkg/autoscaler/config/config.go` reads it: the same keys, defaults,
parsers and validation messages; `config-network`'s rollout-duration as knative/networking `pkg/config/config.go` reads
it. An invalid one is refused as a whole and the last valid settings stay in force, as Knative's controllers keep their
configuration when a ConfigMap update fails to parse.
"""

from __future__ import annotations

import fnmatch
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from app.devcluster.admission.goparse import (
    RangeError,
    format_duration,
    go_duration,
    parse_bool,
    parse_duration,
    parse_float,
    parse_int,
)
from app.devcluster.apiserver.quantity import canonical_text, quantity_error

log = logging.getLogger("devcluster.controller")
T = TypeVar("T")

KNATIVE_NAMESPACE = "knative-serving"
AUTOSCALER = "config-autoscaler"
NETWORK = "config-network"
DEPLOYMENT = "config-deployment"
PROGRESS_DEADLINE = 600  # config-deployment's progress-deadline by default (600s), in seconds
DEVCLUSTER_NAMESPACE = "devcluster-system"
IMAGES = "images"
SECOND = 1_000_000_000
_CAMEL = {"cpu": "CPU", "memory": "Memory", "ephemeral-storage": "EphemeralStorage"}
WINDOW_MIN, WINDOW_MAX = 6 * SECOND, 3600 * SECOND  # autoscaling.WindowMin / WindowMax
TARGET_MIN = 0.01  # autoscaling.TargetMin


@dataclass(frozen=True)
class AutoscalerConfig:
    """config-autoscaler, in seconds and fractions. Defaults: Knative's defaultConfig()."""

    enable_scale_to_zero: bool = True
    container_concurrency_target_fraction: float = 0.7
    container_concurrency_target_default: float = 100.0
    requests_per_second_target_default: float = 200.0
    target_burst_capacity: float = 200.0
    stable_window: float = 60.0
    panic_window_percentage: float = 10.0
    panic_threshold_percentage: float = 200.0
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    activator_capacity: float = 100.0
    scale_to_zero_grace_period: float = 30.0
    scale_to_zero_pod_retention_period: float = 0.0
    scale_down_delay: float = 0.0
    pod_autoscaler_class: str = "kpa.autoscaling.knative.dev"
    allow_zero_initial_scale: bool = False
    initial_scale: int = 1
    min_scale: int = 0
    max_scale: int = 0
    max_scale_limit: int = 0


# key → (field, kind): the keys Knative's NewConfigFromMap reads, with its parsers.
_AUTOSCALER_KEYS = {
    "pod-autoscaler-class": ("pod_autoscaler_class", "string"),
    "enable-scale-to-zero": ("enable_scale_to_zero", "bool"),
    "allow-zero-initial-scale": ("allow_zero_initial_scale", "bool"),
    "max-scale-up-rate": ("max_scale_up_rate", "float"),
    "max-scale-down-rate": ("max_scale_down_rate", "float"),
    "container-concurrency-target-percentage": ("container_concurrency_target_fraction", "float"),
    "container-concurrency-target-default": ("container_concurrency_target_default", "float"),
    "requests-per-second-target-default": ("requests_per_second_target_default", "float"),
    "target-burst-capacity": ("target_burst_capacity", "float"),
    "panic-window-percentage": ("panic_window_percentage", "float"),
    "activator-capacity": ("activator_capacity", "float"),
    "panic-threshold-percentage": ("panic_threshold_percentage", "float"),
    "initial-scale": ("initial_scale", "int32"),
    "min-scale": ("min_scale", "int32"),
    "max-scale": ("max_scale", "int32"),
    "max-scale-limit": ("max_scale_limit", "int32"),
    "stable-window": ("stable_window", "duration"),
    "scale-down-delay": ("scale_down_delay", "duration"),
    "scale-to-zero-grace-period": ("scale_to_zero_grace_period", "duration"),
    "scale-to-zero-pod-retention-period": ("scale_to_zero_pod_retention_period", "duration"),
}

# What a fresh cluster's config-autoscaler holds: Knative's keys with their default values.
AUTOSCALER_SEED = {
    "container-concurrency-target-default": "100",
    "container-concurrency-target-percentage": "70",
    "enable-scale-to-zero": "true",
    "scale-to-zero-grace-period": "30s",
    "scale-to-zero-pod-retention-period": "0s",
    "stable-window": "60s",
    "initial-scale": "1",
    "allow-zero-initial-scale": "false",
    "min-scale": "0",
    "max-scale": "0",
}


def finite_float(text: str) -> float:
    """Go's strconv.ParseFloat, without NaN and the infinities: Go's validation compares them and lets NaN through
    (every comparison with it is false), which would leave the autoscaler nothing to divide by. Refusing them is the
    dev cluster's own choice."""
    value = parse_float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _parse_value(key: str, kind: str, raw: str) -> Any:
    if kind == "bool":
        try:  # configmap.AsBool: strconv.ParseBool, its error not wrapped with the key (knative/pkg configmap/parse.go)
            return parse_bool(raw)
        except ValueError as error:
            raise ValueError(f"failed to parse data: {error}") from None
    try:
        if kind == "float":
            return finite_float(raw)
        if kind == "int32":
            return parse_int(raw, 32)
        if kind == "duration":
            return parse_duration(raw) / SECOND
        return raw
    except (ValueError, RangeError) as error:
        raise ValueError(f'failed to parse data: failed to parse "{key}": {error}') from None


def parse_autoscaler(data: dict[str, Any]) -> AutoscalerConfig:
    """config-autoscaler's data, parsed and validated; ValueError with Knative's message when it is not valid."""
    values: dict[str, Any] = {}
    for key, (name, kind) in _AUTOSCALER_KEYS.items():
        raw = data.get(key)
        if isinstance(raw, str):
            values[name] = _parse_value(key, kind, raw)
    config = replace(AutoscalerConfig(), **values)
    if config.container_concurrency_target_fraction > 1.0:  # percentages; legacy fractions in (0, 1] kept
        config = replace(config, container_concurrency_target_fraction=config.container_concurrency_target_fraction
                         / 100.0)
    _validate(config)
    return config


def _validate(c: AutoscalerConfig) -> None:
    def fail(message: str) -> None:
        raise ValueError(message)

    if c.scale_to_zero_grace_period <= 0:
        fail(f"scale-to-zero-grace-period must be positive, was: {go_duration(c.scale_to_zero_grace_period)}")
    if c.scale_down_delay < 0:
        fail(f"scale-down-delay cannot be negative, was: {go_duration(c.scale_down_delay)}")
    if c.scale_down_delay != round(c.scale_down_delay):
        fail(f"scale-down-delay = {go_duration(c.scale_down_delay)}, must be specified with at most second precision")
    if c.scale_to_zero_pod_retention_period < 0:
        fail("scale-to-zero-pod-retention-period cannot be negative, was: "
             f"{go_duration(c.scale_to_zero_pod_retention_period)}")
    if c.target_burst_capacity < 0 and c.target_burst_capacity != -1:
        fail(f"target-burst-capacity must be either non-negative or -1 (for unlimited), was: "
             f"{c.target_burst_capacity:f}")
    fraction = c.container_concurrency_target_fraction
    if fraction <= 0 or fraction > 1:
        fail(f"container-concurrency-target-percentage = {fraction:f} is outside of valid range of (0, 100]")
    if fraction * c.container_concurrency_target_default < TARGET_MIN:
        fail("container-concurrency-target-percentage and container-concurrency-target-default yield target "
             f"concurrency of {fraction * c.container_concurrency_target_default:g}, can't be less than {TARGET_MIN:g}")
    if c.requests_per_second_target_default < TARGET_MIN:
        fail(f"requests-per-second-target-default must be at least {TARGET_MIN:g}, was: "
             f"{c.requests_per_second_target_default:g}")
    if c.activator_capacity < 1:
        fail(f"activator-capacity = {c.activator_capacity:g}, must be at least 1")
    if c.max_scale_up_rate <= 1.0:
        fail(f"max-scale-up-rate = {c.max_scale_up_rate:g}, must be greater than 1.0")
    if c.max_scale_down_rate <= 1.0:
        fail(f"max-scale-down-rate = {c.max_scale_down_rate:g}, must be greater than 1.0")
    if not WINDOW_MIN / SECOND <= c.stable_window <= WINDOW_MAX / SECOND:
        fail(f"stable-window = {go_duration(c.stable_window)}, must be in [6s; 1h0m0s] range")
    if c.stable_window != round(c.stable_window):
        fail(f"stable-window = {go_duration(c.stable_window)}, must be specified with at most second precision")
    if not 1 <= c.panic_window_percentage <= 100:
        fail(f"panic-window-percentage = {c.panic_window_percentage:g}, must be in [1, 100] interval")
    if c.initial_scale < 0 or (c.initial_scale == 0 and not c.allow_zero_initial_scale):
        fail(f"initial-scale = {c.initial_scale}, must be at least 0 (or at least 1 when allow-zero-initial-scale is "
             "false)")
    # Not in every Knative release's validation; the dev cluster refuses a negative one rather than guess.
    if c.min_scale < 0:
        fail(f"min-scale = {c.min_scale}, must be at least 0")
    lowest_max = 1 if c.max_scale_limit > 0 else 0
    if c.max_scale < lowest_max or (c.max_scale_limit > 0 and c.max_scale > c.max_scale_limit):
        fail(f"max-scale = {c.max_scale}, must be in [{lowest_max}, max-scale-limit({c.max_scale_limit})] range")
    if c.max_scale_limit < 0:
        fail(f"max-scale-limit = {c.max_scale_limit}, must be at least 0")


@dataclass(frozen=True)
class Images:
    """devcluster-system/images: which images no registry can resolve, which exit as soon as they start, which run
    but never pass their readiness probe, and which tags were pushed again (they resolve to another digest)."""

    unresolvable: tuple[str, ...] = ()
    failing: tuple[tuple[str, int], ...] = ()
    pushed: tuple[tuple[str, int], ...] = ()
    unready: tuple[str, ...] = ()

    def pushes(self, image: str) -> int:
        """How many times the tag was pushed again since the dev cluster's first image under it (0: never)."""
        return next((times for pattern, times in self.pushed if fnmatch.fnmatchcase(image, pattern)), 0)

    def unresolvable_pattern(self, image: str) -> str:
        return next((p for p in self.unresolvable if fnmatch.fnmatchcase(image, p)), "")

    def exit_code(self, image: str) -> int | None:
        return next((code for pattern, code in self.failing if fnmatch.fnmatchcase(image, pattern)), None)

    def unready_pattern(self, image: str) -> str:
        return next((p for p in self.unready if fnmatch.fnmatchcase(image, p)), "")


IMAGES_SEED = {
    "unresolvable": "*.invalid/*\n",
    "failing": "",
    "pushed": "",
    "unready": "",
    "_example": (
        "# The dev cluster runs no containers; this ConfigMap says which images misbehave, as a registry and a\n"
        "# kubelet would make them. Edits apply to revisions (and pods) created afterwards.\n"
        "#\n"
        "# unresolvable: one shell-style pattern per line. A matching image gets no digest: its revision fails with\n"
        "# ContainerMissing, as an image no registry has does.\n"
        "unresolvable: |\n"
        "  *.invalid/*\n"
        "  registry.example.com/missing/*\n"
        "#\n"
        "# failing: lines of PATTERN [EXIT_CODE] (default 1). A matching image starts and exits with that code: its\n"
        "# pods crash-loop and its revision fails with ExitCode<N>.\n"
        "failing: |\n"
        "  ghcr.io/example/crashes:* 2\n"
        "#\n"
        "# pushed: lines of PATTERN [TIMES] (default 1). A matching tag was pushed again that many times: it resolves\n"
        "# to another digest, so a new revision of the same image runs other code.\n"
        "pushed: |\n"
        "  ghcr.io/knative/helloworld-go:latest 1\n"
        "#\n"
        "# unready: one shell-style pattern per line. A matching image starts and keeps running, but never passes its\n"
        "# readiness probe (it never listens on its port): queue-proxy, which runs that probe, stays not ready, and\n"
        "# the revision fails with ProgressDeadlineExceeded once its progress deadline passes.\n"
        "unready: |\n"
        "  ghcr.io/example/never-ready:*\n"
    ),
}


def _lines(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _numbered(data: dict[str, Any], key: str, what: str, lowest: int, highest: int) -> tuple[tuple[str, int], ...]:
    """Lines of PATTERN [NUMBER] (default 1) under `key`; a line whose number is not lowest..highest is logged and
    skipped."""
    found: list[tuple[str, int]] = []
    for line in _lines(data.get(key)):
        pattern, _, number = line.partition(" ")
        number = number.strip() or "1"
        if not (number.isascii() and number.isdigit()) or not lowest <= int(number) <= highest:
            log.warning("devcluster-system/images: ignoring the %s line %r: the %s must be %d to %d", key, line, what,
                        lowest, highest)
            continue
        found.append((pattern, int(number)))
    return tuple(found)


def parse_images(data: dict[str, Any]) -> Images:
    return Images(tuple(_lines(data.get("unresolvable"))), _numbered(data, "failing", "exit code", 1, 255),
                  _numbered(data, "pushed", "times", 0, 1_000_000), tuple(_lines(data.get("unready"))))


def rollout_seconds(data: dict[str, Any]) -> int:
    """config-network's rollout-duration in whole seconds, 0 (no gradual rollout) when absent; ValueError with
    Knative's message when it is not valid (knative/networking pkg/config/config.go: cm.AsInt, then the sign)."""
    raw = data.get("rollout-duration")
    if not isinstance(raw, str):
        return 0
    try:
        value = parse_int(raw, 64)
    except (ValueError, RangeError) as error:  # configmap.AsInt: strconv.Atoi, wrapped with the key
        raise ValueError(f'failed to parse "rollout-duration": {str(error).replace("ParseInt", "Atoi", 1)}') from None
    if value < 0:
        raise ValueError(f"rollout-duration must be a positive integer, but was {value}")
    return value


# config-deployment's keys for queue-proxy's resources, in the order NewConfigFromMap parses them (the legacy
# camelCase keys first, the new ones after, which win): (key, resource, "requests" or "limits").
QUEUE_SIDECAR_KEYS = tuple(
    (key, resource, kind)
    for legacy in (True, False)
    for kind in ("requests", "limits")
    for resource in ("cpu", "memory", "ephemeral-storage")
    for key in [f"queueSidecar{_CAMEL[resource]}{'Request' if kind == 'requests' else 'Limit'}" if legacy else
                f"queue-sidecar-{resource}-{kind[:-1]}"]
)
QUEUE_SIDECAR_CPU_REQUEST = "25m"  # deployment.QueueSidecarCPURequestDefault, in the default config


@dataclass(frozen=True)
class DeploymentConfig:
    """config-deployment as the dev cluster uses it: the progress deadline (seconds) and queue-proxy's resources."""

    progress_deadline: int = PROGRESS_DEADLINE
    queue_requests: tuple[tuple[str, str], ...] = (("cpu", QUEUE_SIDECAR_CPU_REQUEST),)
    queue_limits: tuple[tuple[str, str], ...] = ()


def parse_deployment(data: dict[str, Any]) -> DeploymentConfig:
    """config-deployment, as knative/serving pkg/deployment/config.go NewConfigFromMap reads it: progress-deadline (600s
    when absent) and the queue-sidecar-* quantities (cm.AsQuantity; queue-proxy asks for 25m of CPU when none is
    set), then the deadline's sign and whole seconds; ValueError with Knative's message for the first that is not
    valid. Knative also refuses a config-deployment without queue-sidecar-image; the dev cluster runs no image of
    queue-proxy and does not."""
    raw = data.get("progress-deadline")
    nanos = PROGRESS_DEADLINE * SECOND
    if isinstance(raw, str):
        try:
            nanos = parse_duration(raw)
        except (ValueError, RangeError) as error:
            raise ValueError(f'failed to parse "progress-deadline": {error}') from None
    amounts: dict[str, dict[str, str]] = {"requests": {"cpu": QUEUE_SIDECAR_CPU_REQUEST}, "limits": {}}
    for key, resource, kind in QUEUE_SIDECAR_KEYS:
        value = data.get(key)
        if isinstance(value, str):
            problem = quantity_error(value)
            if problem:
                raise ValueError(f'failed to parse "{key}": {problem}')
            amounts[kind][resource] = canonical_text(value)
    if nanos <= 0:
        raise ValueError(f"progress-deadline cannot be a non-positive duration, was {format_duration(nanos)}")
    if nanos % SECOND:
        raise ValueError(f"progress-deadline must be rounded to a whole second, was: {format_duration(nanos)}")
    return DeploymentConfig(nanos // SECOND, tuple(sorted(amounts["requests"].items())),
                            tuple(sorted(amounts["limits"].items())))


def progress_deadline(data: dict[str, Any]) -> int:
    """config-deployment's progress-deadline in seconds (parse_deployment)."""
    return parse_deployment(data).progress_deadline


class Settings:
    """The parsed ConfigMaps, parsed again only when their resourceVersion changes."""

    def __init__(self) -> None:
        self._autoscaler: tuple[str, AutoscalerConfig] = ("", AutoscalerConfig())
        self._images: tuple[str, Images] = ("", parse_images(IMAGES_SEED))
        self._rollout: tuple[str, int] = ("", 0)
        self._deployment: tuple[str, DeploymentConfig] = ("", DeploymentConfig())

    def autoscaler(self, configmap: dict[str, Any] | None) -> AutoscalerConfig:
        self._autoscaler = _kept(self._autoscaler, configmap, parse_autoscaler, "knative-serving/config-autoscaler")
        return self._autoscaler[1]

    def rollout_seconds(self, configmap: dict[str, Any] | None) -> int:
        """config-network's rollout-duration; an invalid one leaves the last valid value in force, as Knative's
        config store keeps its configuration and logs the error (knative/pkg configmap/store.go)."""
        self._rollout = _kept(self._rollout, configmap, rollout_seconds, "knative-serving/config-network")
        return self._rollout[1]

    def deployment(self, configmap: dict[str, Any] | None) -> DeploymentConfig:
        """config-deployment; Knative's defaults without the ConfigMap, the last valid settings while an invalid
        version is in place."""
        if configmap is None:
            return DeploymentConfig()
        self._deployment = _kept(self._deployment, configmap, parse_deployment, "knative-serving/config-deployment")
        return self._deployment[1]

    def progress_deadline(self, configmap: dict[str, Any] | None) -> int:
        """config-deployment's progress-deadline in seconds; 600 without the ConfigMap, the last valid value while
        an invalid one is in place."""
        return self.deployment(configmap).progress_deadline

    def images(self, configmap: dict[str, Any] | None) -> Images:
        if configmap is None:
            return Images()
        version = configmap.get("metadata", {}).get("resourceVersion", "")
        if version != self._images[0]:
            self._images = (version, parse_images(configmap.get("data") or {}))
        return self._images[1]


def _kept(current: tuple[str, T], configmap: dict[str, Any] | None, parse: Callable[[dict[str, str]], T],
          name: str) -> tuple[str, T]:
    """A ConfigMap's settings parsed once per resourceVersion; an invalid version leaves the previous settings in
    force and is logged, as Knative's config store does."""
    version = (configmap or {}).get("metadata", {}).get("resourceVersion", "")
    if not version or version == current[0]:
        return current
    try:
        return version, parse((configmap or {}).get("data") or {})
    except ValueError as error:
        log.error("%s is not valid, the previous settings stay: %s", name, error)
        return version, current[1]
