"""Revision diffs (app.knative.changes): known templates compared field by field, in words a reviewer reads and in
the few words of the revision table's Changes column; what tools write by themselves is not a change."""

from __future__ import annotations

import pytest

from app.knative.changes import compare, elide, side_by_side, split_image, summary, template_diffs, template_fields


def template(image: str = "ghcr.io/knative/helloworld-go:v2", env: dict[str, str] | None = None,
             annotations: dict[str, str] | None = None, **spec: object) -> dict[str, object]:
    container: dict[str, object] = {"image": image, "ports": [{"containerPort": 8080}]}
    if env is not None:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {"metadata": {"annotations": annotations or {}}, "spec": {"containers": [container], **spec}}


def sentences(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return [d.sentence for d in template_diffs(before, after)]


def test_the_words_of_each_kind_of_change() -> None:
    old = template(env={"TARGET": "World", "GONE": "x"}, annotations={"autoscaling.knative.dev/max-scale": "3"})
    new = template("ghcr.io/knative/helloworld-go:v3", env={"TARGET": "Knative", "LOG_LEVEL": "debug"},
                   annotations={"autoscaling.knative.dev/max-scale": "5"})
    assert sentences(old, new) == [
        "image: …:v2 → …:v3", "env TARGET World → Knative", "env LOG_LEVEL added = debug",
        "max scale 3 → 5", "env GONE removed (was x)"]
    assert summary(template_diffs(old, new)) == "image v2 → v3, TARGET changed, +LOG_LEVEL +2 more"


def test_nothing_a_user_wrote_changed() -> None:
    old = template(annotations={"client.knative.dev/updateTimestamp": "a", "serving.knative.dev/creator": "x"})
    new = template(annotations={"client.knative.dev/updateTimestamp": "b", "serving.knative.dev/creator": "y"})
    assert template_diffs(old, new) == [] and summary([]) == "same template"


def test_fields_the_console_does_not_edit_show_too() -> None:
    old = template(timeoutSeconds=300, containerConcurrency=0)
    new = template(timeoutSeconds=60, containerConcurrency=10, serviceAccountName="robot")
    assert sentences(old, new) == ["timeout 300s → 60s", "concurrency limit 0 → 10", "service account added = robot"]
    scaled = template(annotations={"autoscaling.knative.dev/minScale": "1"})  # the old spelling is the same knob
    assert sentences(template(annotations={"autoscaling.knative.dev/min-scale": "1"}), scaled) == []


def test_another_repository_is_named_in_full_and_a_port_change_is_seen() -> None:
    new = template("docker.io/me/other:1")
    new["spec"]["containers"][0]["ports"] = [{"containerPort": 9000, "name": "h2c"}]  # type: ignore[index]
    assert sentences(template(), new) == ["image: ghcr.io/knative/helloworld-go:v2 → docker.io/me/other:1",
                                          "port 8080/HTTP → 9000/gRPC (h2c)"]
    assert summary(template_diffs(template(), new)) == "image v2 → 1, port 8080/HTTP → 9000/gRPC (h2c)"


@pytest.mark.parametrize(("image", "split"), [
    ("ghcr.io/a/b:v1", ("ghcr.io/a/b", ":v1")), ("localhost:5000/a:v1", ("localhost:5000/a", ":v1")),
    ("localhost:5000/a", ("localhost:5000/a", "")), ("a@sha256:" + "0" * 64, ("a", "@sha256:" + "0" * 64)),
])
def test_split_image(image: str, split: tuple[str, str]) -> None:
    assert split_image(image) == split


def test_elide_and_side_by_side() -> None:
    assert elide("a/b:v1", "a/b:v2") == ("…:v1", "…:v2") and elide("a/b:v1", "c/d:v1") == ("a/b:v1", "c/d:v1")
    old, new = template_fields(*template(env={"A": "1"}).values()), template_fields(*template(env={"B": "2"}).values())
    rows = side_by_side(old, new)
    assert [(r.label, r.before, r.after, r.changed) for r in rows if r.label.startswith("env")] == [
        ("env A", "1", None, True), ("env B", None, "2", True)]
    assert [d.short for d in compare(old, new)] == ["+B", "−A"]
