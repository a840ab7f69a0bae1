"""The commands a dialog shows (app.knative.commands): kubectl lines quoted for a POSIX shell, the console's own
fields left out, and kn flags that follow kn's traffic rules (untag, tag, then every percentage)."""

from __future__ import annotations

import shlex

from app.knative.commands import (
    kn_create,
    kn_update,
    kubectl_apply,
    kubectl_patch,
    service_annotations,
    traffic_flags,
    without_console_fields,
)
from app.knative.models import EnvVar, Scaling, Template, TrafficTarget

LATEST = TrafficTarget(100, latest_revision=True)


def test_kubectl_patch_survives_the_shell() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"image": "img", "env": [
        {"name": "QUOTE", "value": "it's \"quoted\" $HOME `x`"}]}]}}}}
    line = kubectl_patch("hw", "ns", patch)
    words = shlex.split(line)
    assert words[:8] == ["kubectl", "patch", "ksvc", "hw", "-n", "ns", "--type", "merge"] and words[8] == "-p"
    assert words[9] == '{"spec":{"template":{"spec":{"containers":[{"image":"img","env":[{"name":"QUOTE",' \
                       '"value":"it\'s \\"quoted\\" $HOME `x`"}]}]}}}}'


def test_the_console_fields_are_left_out() -> None:
    body = {"metadata": {"resourceVersion": "7", "annotations": {"knative-console/history": "[]",
                                                                 "knative-console/create-id": "x"}},
            "spec": {"traffic": []}}
    assert without_console_fields(body) == {"spec": {"traffic": []}}
    kept = {"metadata": {"name": "hw", "annotations": {"team": "a", "knative-console/history": "[]"}}}
    assert without_console_fields(kept) == {"metadata": {"name": "hw", "annotations": {"team": "a"}}}


def test_kubectl_apply_picks_an_end_marker_the_yaml_does_not_have() -> None:
    assert kubectl_apply("a: 1\n") == "kubectl apply -f - <<'EOF'\na: 1\nEOF"
    assert kubectl_apply("a: |\n  EOF\nEOF\n").endswith("\nEOF1")


def test_kn_traffic_flags() -> None:
    current = (TrafficTarget(100, "hw-00001", tag="stable"), TrafficTarget(0, latest_revision=True, tag="next"))
    planned = (TrafficTarget(50, "hw-00001", tag="stable"), TrafficTarget(50, "hw-00002", tag="candidate"),
               TrafficTarget(0, latest_revision=True))
    flags, notes = traffic_flags(current, planned)
    assert flags == ["--untag next", "--tag hw-00002=candidate", "--traffic hw-00001=50", "--traffic hw-00002=50"]
    assert notes == ["kn drops an untagged 0% latest-revision entry, which the console keeps."]
    assert traffic_flags((LATEST,), (TrafficTarget(100, latest_revision=True, tag="x"),))[0] == \
        ["--tag @latest=x", "--traffic @latest=100"]


def test_kn_create_and_update() -> None:
    template = Template(image="ghcr.io/knative/helloworld-go:latest", port=8080, protocol="grpc",
                        env=(EnvVar("TARGET", "Knative"),), cpu_request="100m", memory_limit="1Gi",
                        scaling=Scaling("1", "5", "0.5"))
    line, notes = kn_create("hw", "ns", template, cluster_local=True)
    assert line == ("kn service create hw -n ns --image ghcr.io/knative/helloworld-go:latest --port h2c:8080 "
                    "--env TARGET=Knative --request cpu=100m --limit memory=1Gi --scale-min 1 --scale-max 5 "
                    "--scale-target 0.5 --cluster-local")
    assert notes == ["--scale-target takes a whole number; 0.5 is set here as the annotation "
                     "autoscaling.knative.dev/target."]
    newer = Template(image="ghcr.io/knative/helloworld-go:v2", port=8080, protocol="grpc",
                     env=(EnvVar("LOG", "debug"),), cpu_request="200m")
    line, _ = kn_update("hw", "ns", template, newer, (LATEST,), (TrafficTarget(100, "hw-00001"),), "hw-00002")
    assert line == ("kn service update hw -n ns --image ghcr.io/knative/helloworld-go:v2 --env LOG=debug "
                    "--env TARGET- --request cpu=200m --limit memory- "
                    "--annotation-revision autoscaling.knative.dev/min-scale- "
                    "--annotation-revision autoscaling.knative.dev/max-scale- "
                    "--annotation-revision autoscaling.knative.dev/target- "
                    "--revision-name hw-00002 --traffic hw-00001=100")


def test_kn_sets_and_removes_service_annotations() -> None:
    patch = {"metadata": {"resourceVersion": "7", "annotations": {
        "serving.knative.dev/rollout-duration": "20s", "serving.knative.dev/rolloutDuration": None,
        "knative-console/history": "[]"}}}
    annotations = service_annotations(patch)
    assert annotations == {"serving.knative.dev/rollout-duration": "20s", "serving.knative.dev/rolloutDuration": None}
    line, _ = kn_update("hw", "ns", None, None, (LATEST,), (LATEST,), annotations=annotations)
    assert line == ("kn service update hw -n ns --annotation-service serving.knative.dev/rollout-duration=20s "
                    "--annotation-service serving.knative.dev/rolloutDuration- --traffic @latest=100")
    assert service_annotations({"metadata": {"resourceVersion": "7"}}) == {}
