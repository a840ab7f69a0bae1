"""Annotation rules: autoscaling table 4.2 (against config-autoscaler as it is), where autoscaling keys may go,
rollout-duration, template-only keys (networking, progress-deadline, queue sidecar)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.devcluster.admission.validation_annotations import validate_autoscaling
from app.devcluster.controllers.config import parse_autoscaler
from tests.devcluster.admission.helpers import denial

IMAGE = "ghcr.io/knative/helloworld-go:latest"
A = "spec.template.metadata.annotations.autoscaling.knative.dev/"
T = "spec.template.metadata.annotations"
ROLLOUT = "metadata.annotations.serving.knative.dev/rollout-duration"


def ksvc(annotations=None, template_annotations=None):
    metadata = {"name": "hello", "namespace": "default", "annotations": annotations or {}}
    template = {"metadata": {"annotations": template_annotations or {}}, "spec": {"containers": [{"image": IMAGE}]}}
    return {"metadata": metadata, "spec": {"template": template}}




def template_denial(annotations):
    return denial("Service", ksvc(template_annotations=annotations))


def auto(**values):
    return {"autoscaling.knative.dev/" + k.replace("_", "-"): v for k, v in values.items()}


@pytest.mark.parametrize(
    ("annotations", "text"),
    [
        (auto(**{"class": "kpa.autoscaling.knative.dev"}), ""),
        (auto(**{"class": "hpa.autoscaling.knative.dev", "metric": "memory"}), ""),
        (auto(**{"class": "custom.example.com", "metric": "anything"}), ""),
        (auto(**{"class": "foo.knative.dev"}), f"invalid value: foo.knative.dev: {A}class"),
        (auto(metric="rps"), ""),
        (auto(metric="cpu"), f"invalid value: cpu: {A}metric"),
        (auto(**{"class": "hpa.autoscaling.knative.dev", "metric": ""}), f"invalid value: : {A}metric"),
        (auto(target="0.01"), ""),
        (auto(target="0"), f"target 0 should be at least 0.01: {A}target"),
        (auto(target="abc"), f"target abc should be at least 0.01: {A}target"),
        (auto(min_scale="2", max_scale="10"), ""),
        (auto(min_scale="-1"), f"expected 0 <= -1 <= 2147483647: {A}min-scale"),
        (auto(min_scale="3000000000"), f"expected 0 <= 3000000000 <= 2147483647: {A}min-scale"),
        (auto(min_scale="x"), f"invalid value: x: {A}min-scale"),
        (auto(min_scale=" 1"), f"invalid value:  1: {A}min-scale"),
        ({"autoscaling.knative.dev/minScale": "-1"}, f"expected 0 <= -1 <= 2147483647: {A}minScale"),
        (auto(max_scale="-2"), f"expected 0 <= -2 <= 2147483647: {A}max-scale"),
        (auto(min_scale="5", max_scale="2"), f"max-scale=2 is less than min-scale=5: {A}max-scale, {A}min-scale"),
        (
            {"autoscaling.knative.dev/minScale": "5", "autoscaling.knative.dev/maxScale": "2"},
            f"max-scale=2 is less than min-scale=5: {A}max-scale, {A}min-scale",
        ),
        (auto(min_scale="5", max_scale="0"), ""),
        (auto(initial_scale="3"), ""),
        (auto(initial_scale="0"), f"invalid value: 0: {A}initial-scale=0 not allowed by cluster"),
        (auto(initial_scale="-1"), f"invalid value: -1: {A}initial-scale must be greater than 0"),
        # Not a number: Knative's validateInitialScale (annotation_validation.go) answers ErrInvalidValue(v, key).
        (auto(initial_scale="abc"), f"invalid value: abc: {A}initial-scale"),
        (auto(initial_scale="1.5"), f"invalid value: 1.5: {A}initial-scale"),
        ({"autoscaling.knative.dev/initialScale": "0"}, f"invalid value: 0: {A}initialScale=0 not allowed by cluster"),
        (auto(activation_scale="2"), ""),
        (auto(activation_scale="1"), f"activation-scale=1 must be greater than 1: {A}activation-scale"),
        (auto(activation_scale="x"), f"invalid value: x: {A}activation-scale"),
        (
            auto(min_scale="5", activation_scale="3"),
            f"min-scale=5 is greater than activation-scale=3: {A}activation-scale, {A}min-scale",
        ),
        (
            auto(max_scale="2", activation_scale="3"),
            f"max-scale=2 is less than activation-scale=3: {A}activation-scale, {A}max-scale",
        ),
        (auto(target_utilization_percentage="70"), ""),
        (auto(target_utilization_percentage="0.5"), f"expected 1 <= 0.5 <= 100: {A}target-utilization-percentage"),
        (auto(target_utilization_percentage="x"), f"invalid value: x: {A}target-utilization-percentage"),
        (
            {"autoscaling.knative.dev/targetUtilizationPercentage": "101"},
            f"expected 1 <= 101 <= 100: {A}targetUtilizationPercentage",
        ),
        (auto(window="60s"), ""),
        (auto(window="5s"), f"expected 6s <= 5s <= 1h0m0s: {A}window"),
        (auto(window="2h"), f"expected 6s <= 2h <= 1h0m0s: {A}window"),
        (auto(window="10.5s"), f"must be specified with at most second precision: {A}window"),
        (auto(window="abc"), f"invalid value: abc: {A}window"),
        (auto(window="60"), f"invalid value: 60: {A}window"),
        (auto(scale_down_delay="15m"), ""),
        (auto(scale_down_delay="-1s"), f"expected 0s <= -1s <= 1h0m0s: {A}scale-down-delay"),
        (auto(scale_down_delay="1.5s"), f"must be specified with at most second precision: {A}scale-down-delay"),
        ({"autoscaling.knative.dev/scaleDownDelay": "2h"}, f"expected 0s <= 2h <= 1h0m0s: {A}scaleDownDelay"),
        (auto(panic_window_percentage="10"), ""),
        (auto(panic_window_percentage="0"), f"expected 1 <= 0 <= 100: {A}panic-window-percentage"),
        (auto(panic_window_percentage="x"), f"invalid value: x: {A}panic-window-percentage"),
        (auto(panic_threshold_percentage="100"), f"expected 110 <= 100 <= 1000: {A}panic-threshold-percentage"),
        (auto(panic_threshold_percentage="200"), ""),
        (auto(target_burst_capacity="-1"), ""),
        (auto(target_burst_capacity="211"), ""),
        (auto(target_burst_capacity="-2"), f"invalid value: -2: {A}target-burst-capacity"),
        (auto(scale_to_zero_pod_retention_period="1m5s"), ""),
        (
            auto(scale_to_zero_pod_retention_period="2h"),
            f"expected 0s <= 2h <= 1h0m0s: {A}scale-to-zero-pod-retention-period",
        ),
        (
            auto(scale_to_zero_pod_retention_period="x"),
            f"invalid value: x: {A}scale-to-zero-pod-retention-period",
        ),
        (auto(**{"class": "kpa.autoscaling.knative.dev", "metric-aggregation-algorithm": "weightedExponential"}), ""),
        (
            auto(**{"class": "kpa.autoscaling.knative.dev", "metric-aggregation-algorithm": "median"}),
            f"invalid value: median: {A}metric-aggregation-algorithm",
        ),
        # Only checked when the class is written out as KPA.
        (auto(**{"metric-aggregation-algorithm": "median"}), ""),
        ({"autoscaling.knative.dev/unknown": "whatever"}, ""),
        (
            auto(min_scale="-1", window="1s"),
            f"expected 0 <= -1 <= 2147483647: {A}min-scale\nexpected 6s <= 1s <= 1h0m0s: {A}window",
        ),
    ],
)
def test_autoscaling_annotations_on_the_template(annotations, text):
    assert template_denial(annotations) == text


@pytest.mark.parametrize(
    ("annotations", "text"),
    [
        (auto(max_scale="10"), ""),
        (auto(max_scale="11"), "expected 1 <= 11 <= 10: autoscaling.knative.dev/max-scale"),
        (auto(max_scale="0"), "max-scale=0 (unlimited), must be less than 10: autoscaling.knative.dev/max-scale"),
        (auto(min_scale="1"), ""),
    ],
)
def test_max_scale_limit_when_the_cluster_sets_one(annotations, text):
    assert validate_autoscaling(annotations, max_scale_limit=10).error() == text


def test_zero_initial_scale_when_the_cluster_allows_it():
    assert not validate_autoscaling(auto(initial_scale="0"), allow_zero_initial_scale=True)


def _with_template_annotations(kind, annotations):
    if kind == "Revision":
        return {"metadata": {"name": "hello-00001", "annotations": annotations},
                "spec": {"containers": [{"image": IMAGE}]}}
    return ksvc(template_annotations=annotations)


@pytest.mark.parametrize(("kind", "path"), [("Service", A), ("Configuration", A),
                                            ("Revision", "metadata.annotations.autoscaling.knative.dev/")])
def test_the_webhook_checks_against_config_autoscaler_as_the_controllers_read_it(kind, path):
    zero = auto(initial_scale="0")
    assert denial(kind, _with_template_annotations(kind, zero)) == \
        f"invalid value: 0: {path}initial-scale=0 not allowed by cluster"
    allowing = parse_autoscaler({"allow-zero-initial-scale": "true"})
    assert denial(kind, _with_template_annotations(kind, zero), allowing) == ""
    limited = parse_autoscaler({"max-scale-limit": "10", "max-scale": "10"})
    assert denial(kind, _with_template_annotations(kind, auto(max_scale="11")), limited) == \
        f"expected 1 <= 11 <= 10: {path}max-scale"


@given(value=st.one_of(st.integers(-3, 3).map(str), st.text(max_size=5)), allow=st.booleans())
def test_any_initial_scale_is_admitted_or_refused_with_its_value_and_key(value, allow):
    config = parse_autoscaler({"allow-zero-initial-scale": str(allow).lower()})
    text = denial("Service", ksvc(template_annotations=auto(initial_scale=value)), config)
    digits = value[1:] if value[:1] in ("+", "-") else value
    number = int(value) if digits.isascii() and digits.isdigit() else None  # what Go's strconv.Atoi reads
    if number is None:  # validateInitialScale: strconv.Atoi failed
        assert text == f"invalid value: {value}: {A}initial-scale", text
    elif number < 0:
        assert text == f"invalid value: {value}: {A}initial-scale must be greater than 0", text
    elif number == 0 and not allow:
        assert text == f"invalid value: {value}: {A}initial-scale=0 not allowed by cluster", text
    else:
        assert text == ""


@pytest.mark.parametrize("kind", ["Service", "Configuration", "Route"])
def test_autoscaling_annotations_are_refused_on_the_object_itself(kind):
    obj = ksvc(annotations=auto(min_scale="1", window="60s"))
    if kind == "Route":
        obj["spec"] = {"traffic": [{"configurationName": "hello", "percent": 100}]}
    where = '"spec.template.metadata.annotations" to work'
    assert denial(kind, obj) == (
        f'invalid key name "autoscaling.knative.dev/min-scale": metadata.annotations\n'
        f"autoscaling annotations must be put under {where}\n"
        f'invalid key name "autoscaling.knative.dev/window": metadata.annotations\n'
        f"autoscaling annotations must be put under {where}"
    )


def test_autoscaling_annotations_are_checked_on_a_revision():
    revision = {
        "metadata": {"name": "hello-00001", "annotations": auto(window="1s")},
        "spec": {"containers": [{"image": IMAGE}]},
    }
    text = "expected 6s <= 1s <= 1h0m0s: metadata.annotations.autoscaling.knative.dev/window"
    assert denial("Revision", revision) == text


@pytest.mark.parametrize(
    ("annotations", "text"),
    [
        ({"serving.knative.dev/rollout-duration": "380s"}, ""),
        ({"serving.knative.dev/rollout-duration": "0s"}, ""),
        ({"serving.knative.dev/rollout-duration": "abc"}, f"invalid value: abc: {ROLLOUT}"),
        (
            {"serving.knative.dev/rollout-duration": "1.5s"},
            f"rollout-duration=1.5s is not at second precision: {ROLLOUT}",
        ),
        ({"serving.knative.dev/rollout-duration": "-10s"}, f"rollout-duration=-10s must be positive: {ROLLOUT}"),
        (
            {"serving.knative.dev/rolloutDuration": "10ms"},
            "rollout-duration=10ms is not at second precision: metadata.annotations.serving.knative.dev/rolloutDuration",
        ),
    ],
)
@pytest.mark.parametrize("kind", ["Service", "Route"])
def test_rollout_duration(kind, annotations, text):
    obj = ksvc(annotations=annotations)
    if kind == "Route":
        obj["spec"] = {"traffic": [{"configurationName": "hello", "percent": 100}]}
    assert denial(kind, obj) == text


@pytest.mark.parametrize(
    ("annotations", "text"),
    [
        ({"networking.knative.dev/ingress.class": "kourier.ingress.networking.knative.dev"}, ""),
        (
            {"networking.knative.dev/visibility": "cluster-local"},
            f'invalid key name "networking.knative.dev/visibility": {T}',
        ),
        (
            {"networking.knative.dev/certificate.class": "x", "networking.knative.dev/http-protocol": "y"},
            f'invalid key name "networking.knative.dev/certificate.class": {T}\n'
            f'invalid key name "networking.knative.dev/http-protocol": {T}',
        ),
        ({"serving.knative.dev/progress-deadline": "30s"}, ""),
        (
            {"serving.knative.dev/progress-deadline": "0s"},
            f"progress-deadline=0s must be positive: {T}.serving.knative.dev/progress-deadline",
        ),
        (
            {"serving.knative.dev/progress-deadline": "1.5s"},
            f"progress-deadline=1.5s is not at second precision: {T}.serving.knative.dev/progress-deadline",
        ),
        (
            {"serving.knative.dev/progress-deadline": "x"},
            f"invalid value: x: {T}.serving.knative.dev/progress-deadline",
        ),
        ({"queue.sidecar.serving.knative.dev/cpu-resource-request": "100m"}, ""),
        ({"queue.sidecar.serving.knative.dev/memory-resource-limit": "1.5Gi"}, ""),
        (
            {"queue.sidecar.serving.knative.dev/cpu-resource-request": "abc"},
            f"invalid value: abc: {T}.[queue.sidecar.serving.knative.dev/cpu-resource-request]",
        ),
        (
            {"queue.sidecar.serving.knative.dev/resourcePercentage": "0.05"},
            f"expected 0.1 <= 0.05 <= 100: {T}.[queue.sidecar.serving.knative.dev/resourcePercentage]",
        ),
    ],
)
def test_template_only_annotations(annotations, text):
    assert template_denial(annotations) == text


def test_networking_keys_are_fine_on_the_service_itself():
    annotations = {
        "networking.knative.dev/ingress.class": "x",
        "networking.knative.dev/disable-external-domain-tls": "1",
    }
    assert denial("Service", ksvc(annotations=annotations)) == ""
