"""Autoscaling annotations (table 4.2), as knative/serving `pkg/apis/autoscaling/annotation_validation.go`.

Errors are relative to the annotations map: each path is the annotation key as written
(`autoscaling.knative.dev/minScale` stays `minScale`), except where Knative names the
canonical key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .fielderror import FieldError, generic, go_float, invalid_value, out_of_bounds
from .goparse import HOUR, SECOND, RangeError, parse_duration, parse_float, parse_int
from .validation_meta import first_key

_G = "autoscaling.knative.dev/"
CLASS = (_G + "class",)
METRIC = (_G + "metric",)
TARGET = (_G + "target",)
MIN_SCALE = (_G + "min-scale", _G + "minScale")
MAX_SCALE = (_G + "max-scale", _G + "maxScale")
INITIAL_SCALE = (_G + "initial-scale", _G + "initialScale")
ACTIVATION_SCALE = (_G + "activation-scale",)
TARGET_UTILIZATION = (_G + "target-utilization-percentage", _G + "targetUtilizationPercentage")
WINDOW = (_G + "window",)
SCALE_DOWN_DELAY = (_G + "scale-down-delay", _G + "scaleDownDelay")
PANIC_WINDOW = (_G + "panic-window-percentage", _G + "panicWindowPercentage")
PANIC_THRESHOLD = (_G + "panic-threshold-percentage", _G + "panicThresholdPercentage")
TARGET_BURST_CAPACITY = (_G + "target-burst-capacity", _G + "targetBurstCapacity")
RETENTION = (_G + "scale-to-zero-pod-retention-period", _G + "scaleToZeroPodRetentionPeriod")
AGGREGATION = (_G + "metric-aggregation-algorithm", _G + "metricAggregationAlgorithm")

KPA = "kpa.autoscaling.knative.dev"
HPA = "hpa.autoscaling.knative.dev"
MAX_INT32 = 2147483647
WINDOW_MIN, WINDOW_MIN_TEXT = 6 * SECOND, "6s"
WINDOW_MAX, WINDOW_MAX_TEXT = HOUR, "1h0m0s"


class ClusterAutoscaling(Protocol):
    """What these checks read of knative-serving/config-autoscaler. Knative's webhook hands them
    `config.FromContextOrDefaults(ctx).Autoscaler`: the ConfigMap as its config store last read it."""

    @property
    def max_scale_limit(self) -> int: ...

    @property
    def allow_zero_initial_scale(self) -> bool: ...


@dataclass(frozen=True)
class _Untouched:
    max_scale_limit: int = 0
    allow_zero_initial_scale: bool = False


UNTOUCHED: ClusterAutoscaling = _Untouched()  # an untouched config-autoscaler, or none at all


def validate_autoscaling(
    annotations: dict, max_scale_limit: int = 0, allow_zero_initial_scale: bool = False
) -> FieldError:
    """The defaults match an untouched `config-autoscaler`: no max-scale limit, initial-scale >= 1."""
    return (
        _class(annotations)
        .also(_scale_bounds(annotations, max_scale_limit))
        .also(_floats(annotations))
        .also(_window(annotations))
        .also(_durations(annotations))
        .also(_metric(annotations))
        .also(_algorithm(annotations))
        .also(_initial_scale(annotations, allow_zero_initial_scale))
    )


def _class(annotations: dict) -> FieldError:
    key, value = first_key(annotations, CLASS)
    if value is not None and value.endswith(".knative.dev") and value not in (KPA, HPA):
        return invalid_value(value, key)
    return FieldError()


def _int_ge0(annotations: dict, keys: tuple[str, ...]) -> tuple[int, FieldError]:
    key, value = first_key(annotations, keys)
    if value is None:
        return 0, FieldError()
    try:
        number = parse_int(value, 32)
    except RangeError:
        return 0, out_of_bounds(value, 0, MAX_INT32, key)
    except ValueError:
        return 0, invalid_value(value, key)
    if number < 0:
        return 0, out_of_bounds(value, 0, MAX_INT32, key)
    return number, FieldError()


def _scale_bounds(annotations: dict, max_scale_limit: int) -> FieldError:
    low, errs = _int_ge0(annotations, MIN_SCALE)
    high, err = _int_ge0(annotations, MAX_SCALE)
    errs = errs.also(err)
    if high and high < low:
        errs = errs.also(generic(f"max-scale={high} is less than min-scale={low}", MAX_SCALE[0], MIN_SCALE[0]))
    max_key, max_value = first_key(annotations, MAX_SCALE)
    if max_value is not None and max_scale_limit:
        if high > max_scale_limit:
            errs = errs.also(out_of_bounds(high, 1, max_scale_limit, max_key))
        if high == 0:
            errs = errs.also(generic(f"max-scale=0 (unlimited), must be less than {max_scale_limit}", max_key))
    return errs.also(_activation_scale(annotations, low, high))


def _activation_scale(annotations: dict, low: int, high: int) -> FieldError:
    key, value = first_key(annotations, ACTIVATION_SCALE)
    if value is None:
        return FieldError()
    try:
        activation = parse_int(value, 32)
    except ValueError:
        return invalid_value(value, key)
    if activation < 2:
        return generic(f"activation-scale={activation} must be greater than 1", key)
    errs = FieldError()
    if low > activation:
        errs = errs.also(generic(f"min-scale={low} is greater than activation-scale={activation}", MIN_SCALE[0], key))
    if high and high < activation:
        errs = errs.also(generic(f"max-scale={high} is less than activation-scale={activation}", MAX_SCALE[0], key))
    return errs


def _float(annotations: dict, keys: tuple[str, ...]) -> tuple[str, str | None, float | None]:
    key, value = first_key(annotations, keys)
    if value is None:
        return key, None, None
    try:
        return key, value, parse_float(value)
    except ValueError:
        return key, value, None


def _floats(annotations: dict) -> FieldError:
    errs = FieldError()
    for keys, low, high in ((PANIC_WINDOW, 1.0, 100.0), (PANIC_THRESHOLD, 110.0, 1000.0)):
        key, text, number = _float(annotations, keys)
        if text is None:
            continue
        if number is None:
            errs = errs.also(invalid_value(text, key))
        elif number < low or number > high:
            errs = errs.also(out_of_bounds(text, low, high, key))
    key, text, number = _float(annotations, TARGET)
    if text is not None and (number is None or number < 0.01):
        errs = errs.also(generic(f"target {text} should be at least {go_float(0.01)}", key))
    key, text, number = _float(annotations, TARGET_UTILIZATION)
    if text is not None:
        if number is None:
            errs = errs.also(invalid_value(text, key))
        elif number < 1 or number > 100:
            errs = errs.also(out_of_bounds(text, 1, 100, key))
    key, text, number = _float(annotations, TARGET_BURST_CAPACITY)
    if text is not None and (number is None or (number < 0 and number != -1)):
        errs = errs.also(invalid_value(text, key))
    return errs


def _window(annotations: dict) -> FieldError:
    # Knative reports window errors under the canonical key whichever alias was used.
    _, value = first_key(annotations, WINDOW)
    if value is None:
        return FieldError()
    try:
        duration = parse_duration(value)
    except ValueError:
        return invalid_value(value, WINDOW[0])
    if duration < WINDOW_MIN or duration > WINDOW_MAX:
        return out_of_bounds(value, WINDOW_MIN_TEXT, WINDOW_MAX_TEXT, WINDOW[0])
    if duration % SECOND:
        return generic("must be specified with at most second precision", WINDOW[0])
    return FieldError()


def _durations(annotations: dict) -> FieldError:
    errs = FieldError()
    for keys, precise in ((SCALE_DOWN_DELAY, True), (RETENTION, False)):
        key, value = first_key(annotations, keys)
        if value is None:
            continue
        try:
            duration = parse_duration(value)
        except ValueError:
            errs = errs.also(invalid_value(value, key))
            continue
        if duration < 0 or duration > WINDOW_MAX:
            errs = errs.also(out_of_bounds(value, "0s", WINDOW_MAX_TEXT, key))
        elif precise and duration % SECOND:
            errs = errs.also(generic("must be specified with at most second precision", key))
    return errs


def _metric(annotations: dict) -> FieldError:
    _, metric = first_key(annotations, METRIC)
    if metric is None:
        return FieldError()
    _, klass = first_key(annotations, CLASS)
    klass = KPA if klass is None else klass
    if klass == KPA and metric in ("concurrency", "rps"):
        return FieldError()
    if klass == HPA and metric:
        return FieldError()
    if klass not in (KPA, HPA):
        return FieldError()
    return invalid_value(metric, METRIC[0])


def _algorithm(annotations: dict) -> FieldError:
    # Custom autoscaler classes may define their own algorithms.
    if first_key(annotations, CLASS)[1] != KPA:
        return FieldError()
    key, value = first_key(annotations, AGGREGATION)
    if value and value not in ("linear", "weighted-exponential", "weightedExponential"):
        return invalid_value(value, key)
    return FieldError()


def _initial_scale(annotations: dict, allow_zero: bool) -> FieldError:
    key, value = first_key(annotations, INITIAL_SCALE)
    if value is None:
        return FieldError()
    try:
        scale = parse_int(value, 64)  # strconv.Atoi
    except ValueError:
        return invalid_value(value, key)  # not a number: the key alone (annotation_validation.go validateInitialScale)
    if scale < 0:
        return invalid_value(value, f"{key} must be greater than 0")
    if scale == 0 and not allow_zero:
        return invalid_value(value, f"{key}=0 not allowed by cluster")
    return FieldError()
