"""The ConfigMaps the dev cluster's controllers read (app/devcluster/controllers/config.py): config-autoscaler with
Knative's keys, defaults, parsers and validation messages (knative/serving pkg/autoscaler/config/config.go), the
`devcluster-system/images` patterns, and config-network's rollout-duration."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.devcluster.controllers.autoscaler import scaling_of
from app.devcluster.controllers.config import (
    AUTOSCALER_SEED,
    AutoscalerConfig,
    Images,
    Settings,
    parse_autoscaler,
    parse_images,
    progress_deadline,
    rollout_seconds,
)


def test_defaults_and_the_seed_are_knatives() -> None:
    assert parse_autoscaler({}) == AutoscalerConfig()
    assert parse_autoscaler(AUTOSCALER_SEED) == AutoscalerConfig()
    config = AutoscalerConfig()
    assert (config.stable_window, config.scale_to_zero_grace_period, config.initial_scale,
            config.container_concurrency_target_default, config.container_concurrency_target_fraction) == \
        (60.0, 30.0, 1, 100.0, 0.7)


def test_values_are_parsed_as_knative_parses_them() -> None:
    config = parse_autoscaler({"stable-window": "6s", "scale-to-zero-grace-period": "1s", "enable-scale-to-zero": "TRUE",
                               "container-concurrency-target-percentage": "55", "min-scale": "2", "max-scale": "5",
                               "initial-scale": "0", "allow-zero-initial-scale": "true",
                               "scale-to-zero-pod-retention-period": "1m30s"})
    assert (config.stable_window, config.scale_to_zero_grace_period, config.enable_scale_to_zero) == (6.0, 1.0, True)
    assert config.container_concurrency_target_fraction == pytest.approx(0.55)
    assert (config.min_scale, config.max_scale, config.initial_scale) == (2, 5, 0)
    assert config.scale_to_zero_pod_retention_period == 90.0
    assert parse_autoscaler({"container-concurrency-target-percentage": "0.5"}).container_concurrency_target_fraction \
        == 0.5  # a legacy fraction stays one
    # configmap.AsBool is strconv.ParseBool: 1, t, F, FALSE… are booleans too (knative/pkg configmap/parse.go).
    assert parse_autoscaler({"enable-scale-to-zero": "0"}).enable_scale_to_zero is False
    assert parse_autoscaler({"enable-scale-to-zero": "f", "allow-zero-initial-scale": "1",
                             "initial-scale": "0"}).allow_zero_initial_scale is True


@pytest.mark.parametrize(("data", "message"), [
    ({"stable-window": "5s"}, "stable-window = 5s, must be in [6s; 1h0m0s] range"),
    ({"stable-window": "2h"}, "stable-window = 2h0m0s, must be in [6s; 1h0m0s] range"),
    ({"stable-window": "6500ms"}, "stable-window = 6.5s, must be specified with at most second precision"),
    ({"stable-window": "soon"}, 'failed to parse data: failed to parse "stable-window": time: invalid duration "soon"'),
    ({"stable-window": "500ms"}, "stable-window = 500ms, must be in [6s; 1h0m0s] range"),
    ({"scale-down-delay": "-500ms"}, "scale-down-delay cannot be negative, was: -500ms"),
    ({"scale-down-delay": "1500ms"}, "scale-down-delay = 1.5s, must be specified with at most second precision"),
    ({"scale-to-zero-pod-retention-period": "-250ms"},
     "scale-to-zero-pod-retention-period cannot be negative, was: -250ms"),
    ({"enable-scale-to-zero": "yes"}, 'failed to parse data: strconv.ParseBool: parsing "yes": invalid syntax'),
    ({"allow-zero-initial-scale": "tRUE"}, 'failed to parse data: strconv.ParseBool: parsing "tRUE": invalid syntax'),
    ({"scale-to-zero-grace-period": "0s"}, "scale-to-zero-grace-period must be positive, was: 0s"),
    ({"scale-to-zero-pod-retention-period": "-1s"}, "scale-to-zero-pod-retention-period cannot be negative, was: -1s"),
    ({"initial-scale": "0"}, "initial-scale = 0, must be at least 0 (or at least 1 when allow-zero-initial-scale is "
                             "false)"),
    ({"max-scale": "-1"}, "max-scale = -1, must be in [0, max-scale-limit(0)] range"),
    ({"max-scale-limit": "10", "max-scale": "20"}, "max-scale = 20, must be in [1, max-scale-limit(10)] range"),
    ({"container-concurrency-target-percentage": "142.4"},
     "container-concurrency-target-percentage = 1.424000 is outside of valid range of (0, 100]"),
    ({"max-scale-up-rate": "1"}, "max-scale-up-rate = 1, must be greater than 1.0"),
    ({"initial-scale": "x"}, 'failed to parse data: failed to parse "initial-scale": strconv.ParseInt: parsing "x": '
                             "invalid syntax"),
])
def test_invalid_settings_are_refused_with_knatives_message(data: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_autoscaler(data)
    assert str(refused.value) == message


def test_an_invalid_update_keeps_the_settings_in_force() -> None:
    settings = Settings()
    good = {"metadata": {"resourceVersion": "1"}, "data": {"stable-window": "6s"}}
    assert settings.autoscaler(good).stable_window == 6.0
    bad = {"metadata": {"resourceVersion": "2"}, "data": {"stable-window": "1s"}}
    assert settings.autoscaler(bad).stable_window == 6.0
    assert settings.autoscaler(None).stable_window == 6.0


def test_images_patterns() -> None:
    images = parse_images({"unresolvable": "*.invalid/*\n# a comment\n\nregistry.example.com/missing/*\n",
                           "failing": "ghcr.io/x/crash:* 3\nghcr.io/x/plain\nbad 999\nghcr.io/x/zero 0\n"})
    assert images == Images(("*.invalid/*", "registry.example.com/missing/*"),
                            (("ghcr.io/x/crash:*", 3), ("ghcr.io/x/plain", 1)))
    assert images.unresolvable_pattern("registry.invalid/app:v1") == "*.invalid/*"
    assert images.unresolvable_pattern("ghcr.io/knative/helloworld-go:latest") == ""
    assert images.exit_code("ghcr.io/x/crash:v2") == 3
    assert images.exit_code("ghcr.io/x/plain") == 1
    assert images.exit_code("ghcr.io/x/plain:v1") is None
    pushed = parse_images({"pushed": "ghcr.io/x/app:latest\nghcr.io/x/other:* 3\nbad -1\nbad x\n"})
    assert pushed.pushed == (("ghcr.io/x/app:latest", 1), ("ghcr.io/x/other:*", 3))
    assert (pushed.pushes("ghcr.io/x/app:latest"), pushed.pushes("ghcr.io/x/other:v2"), pushed.pushes("bad")) == \
        (1, 3, 0)
    unready = parse_images({"unready": "ghcr.io/x/slow:*\n  # a comment\n\n  ghcr.io/x/never  \n"})
    assert unready.unready == ("ghcr.io/x/slow:*", "ghcr.io/x/never")
    assert (unready.unready_pattern("ghcr.io/x/slow:v3"), unready.unready_pattern("ghcr.io/x/never"),
            unready.unready_pattern("ghcr.io/x/never:v1")) == ("ghcr.io/x/slow:*", "ghcr.io/x/never", "")
    assert parse_images({"unready": 7}).unready == ()  # not text: no patterns


@pytest.mark.parametrize(("data", "seconds"), [({}, 600), ({"progress-deadline": "45s"}, 45),
                                               ({"progress-deadline": "1h"}, 3600),
                                               ({"progress-deadline": "2m30s"}, 150)])
def test_progress_deadline_of_config_deployment(data: dict[str, str], seconds: int) -> None:
    assert progress_deadline(data) == seconds


@pytest.mark.parametrize(("value", "message"), [
    ("0s", "progress-deadline cannot be a non-positive duration, was 0s"),
    ("-5s", "progress-deadline cannot be a non-positive duration, was -5s"),
    ("1.5s", "progress-deadline must be rounded to a whole second, was: 1.5s"),
    ("ten", 'failed to parse "progress-deadline": time: invalid duration "ten"'),
])
def test_an_invalid_progress_deadline_is_refused_with_knatives_message(value: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        progress_deadline({"progress-deadline": value})
    assert str(refused.value) == message


def test_an_invalid_config_deployment_keeps_the_progress_deadline_in_force() -> None:
    settings = Settings()
    assert settings.progress_deadline(None) == 600
    assert settings.progress_deadline({"metadata": {"resourceVersion": "1"}, "data": {"progress-deadline": "9s"}}) == 9
    assert settings.progress_deadline({"metadata": {"resourceVersion": "2"}, "data": {"progress-deadline": "0s"}}) == 9


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20) | st.sampled_from(["1s", "0", "-1m", "1.5s", "90m", "1e3s", "٣s", "2147483648s"]))
def test_any_progress_deadline_is_whole_positive_seconds_or_refused(value: str) -> None:
    try:
        seconds = progress_deadline({"progress-deadline": value})
    except ValueError as error:
        assert str(error).startswith(("failed to parse", "progress-deadline "))
    else:
        assert isinstance(seconds, int) and seconds > 0


@pytest.mark.parametrize(("data", "seconds"), [({}, 0), ({"rollout-duration": "120"}, 120),
                                               ({"rollout-duration": "0"}, 0), ({"rollout-duration": "+7"}, 7)])
def test_rollout_duration_of_config_network(data: dict[str, str], seconds: int) -> None:
    assert rollout_seconds(data) == seconds


@pytest.mark.parametrize(("raw", "message"), [
    # knative/networking pkg/config/config.go: cm.AsInt (strconv.Atoi, wrapped by knative/pkg configmap/parse.go),
    # then the sign.
    ("-5", "rollout-duration must be a positive integer, but was -5"),
    ("2m", 'failed to parse "rollout-duration": strconv.Atoi: parsing "2m": invalid syntax'),
    ("", 'failed to parse "rollout-duration": strconv.Atoi: parsing "": invalid syntax'),
    ("99999999999999999999", 'failed to parse "rollout-duration": strconv.Atoi: parsing "99999999999999999999": '
                             "value out of range"),
])
def test_an_invalid_rollout_duration_is_refused_with_knatives_message(raw: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        rollout_seconds({"rollout-duration": raw})
    assert str(refused.value) == message


def test_an_invalid_config_network_keeps_the_last_valid_rollout_duration() -> None:
    settings = Settings()

    def network(version: str, **data: str) -> dict:
        return {"metadata": {"resourceVersion": version}, "data": data}

    assert settings.rollout_seconds(network("1", **{"rollout-duration": "30"})) == 30
    assert settings.rollout_seconds(network("2", **{"rollout-duration": "-5"})) == 30
    assert settings.rollout_seconds(network("3", **{"rollout-duration": "soon"})) == 30
    assert settings.rollout_seconds(network("4")) == 0
    assert settings.rollout_seconds(None) == 0


# -- property-based: whatever a user writes into the ConfigMaps or the annotations ----------------------------------

NUMBERS = st.sampled_from(["0", "1", "-1", "0.5", "100", "1e308", "1e400", "NaN", "+Inf", "-inf", "0x10", "1_0",
                           "6s", "1h", "-1s", "1.5s", "9223372036854775807", "2147483648", "", " ", "true", "²",
                           "٣"]) | st.text(max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(AUTOSCALER_SEED) + ["max-scale-limit", "panic-window-percentage",
                                                                  "scale-down-delay", "activator-capacity"]),
                       NUMBERS, max_size=5))
def test_any_config_autoscaler_is_settings_or_knatives_refusal(data: dict[str, str]) -> None:
    try:
        config = parse_autoscaler(data)
    except ValueError as refused:
        assert str(refused)
        return
    numbers = [value for value in vars(config).values() if isinstance(value, float)]
    assert all(math.isfinite(value) for value in numbers), config


ANNOTATIONS = ["autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/max-scale",
               "autoscaling.knative.dev/initial-scale", "autoscaling.knative.dev/window",
               "autoscaling.knative.dev/target", "autoscaling.knative.dev/target-utilization-percentage",
               "autoscaling.knative.dev/panic-window-percentage", "autoscaling.knative.dev/panic-threshold-percentage",
               "autoscaling.knative.dev/scale-to-zero-pod-retention-period"]


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(ANNOTATIONS), NUMBERS, max_size=5), st.integers(-5, 10**6) | st.none())
def test_any_annotations_give_a_scaling_the_decider_can_divide_by(annotations: dict[str, str],
                                                                  concurrency: int | None) -> None:
    revision = {"metadata": {"annotations": annotations}, "spec": {"containerConcurrency": concurrency}}
    scaling = scaling_of(revision, AutoscalerConfig())
    assert scaling.target >= 0.01 and math.isfinite(scaling.target)
    assert scaling.panic_window >= 1 and math.isfinite(scaling.window) and scaling.window >= 0
    assert min(scaling.min_scale, scaling.max_scale, scaling.initial_scale) >= 0
    assert math.ceil(1000 / scaling.target) >= 0


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["unresolvable", "failing", "pushed", "unready", "x"]),
                       st.text(max_size=40) | st.sampled_from(["a 2", "b ²", "c ٣", "d 256", "e 0", "*\t3", " 7"]),
                       max_size=3))
def test_any_images_configmap_is_patterns(data: dict[str, str]) -> None:
    images = parse_images(data)
    assert all(1 <= code <= 255 for _, code in images.failing)
    assert all(0 <= times <= 1_000_000 for _, times in images.pushed)
    images.exit_code("ghcr.io/x/y:v1")
    images.pushes("ghcr.io/x/y:v1")
    images.unresolvable_pattern("ghcr.io/x/y:v1")
    # `unready` is patterns, one a line, trimmed, without blank lines or comments.
    assert all(p and p == p.strip() and not p.startswith("#") for p in images.unready)
    assert images.unready == tuple(line.strip() for line in (data.get("unready") or "").splitlines()
                                   if line.strip() and not line.strip().startswith("#"))
    for pattern in images.unready:
        if not any(ch in pattern for ch in "*?["):  # a pattern with no wildcard lists that one image
            assert images.unready_pattern(pattern)
