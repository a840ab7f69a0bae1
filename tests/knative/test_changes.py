"""Revision diffs (app.knative.changes): known templates compared field by field, in words a reviewer reads and in
the few words of the revision table's Changes column; what tools write by themselves is not a change."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.knative.changes import (
    added_later,
    compare,
    digest_diff,
    elide,
    revision_diffs,
    revision_fields,
    side_by_side,
    split_image,
    summary,
    template_diffs,
    template_fields,
)


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
    assert summary(template_diffs(template(), new)) == "image helloworld-go:v2 → other:1, port 8080/HTTP → 9000/gRPC (h2c)"


@pytest.mark.parametrize(("before", "after", "short"), [
    ("ghcr.io/a/app:v1", "ghcr.io/a/app:v2", "image v1 → v2"),  # the same repository: its tags
    ("registry.invalid/app:v1", "ghcr.io/example/crashes:v1", "image app:v1 → crashes:v1"),  # not "v1 → v1"
    ("ghcr.io/knative/helloworld-go:latest", "registry.invalid/app:v1", "image helloworld-go:latest → app:v1"),
    ("registry.invalid/app:v1", "ghcr.io/app:v1", "image registry.invalid/app:v1 → ghcr.io/app:v1"),
    ("ghcr.io/a/app", "docker.io/b/app@sha256:" + "1" * 64, "image app → app@sha256:1111111"),
])
def test_the_short_form_names_the_image_when_the_repository_changed(before: str, after: str, short: str) -> None:
    assert summary(template_diffs(template(before), template(after))) == short


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


def owner(manager: str, labels: tuple[str, ...] = (), annotations: tuple[str, ...] = (), spec: bool = False,
          subresource: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if labels:
        metadata["f:labels"] = {".": {}, **{f"f:{k}": {} for k in labels}}
    if annotations:
        metadata["f:annotations"] = {f"f:{k}": {} for k in annotations}
    fields: dict[str, Any] = {"f:metadata": metadata} if metadata else {}
    if spec:
        fields["f:spec"] = {"f:containers": {}}
    return {"manager": manager, "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": fields,
            **({"subresource": subresource} if subresource else {})}


def revision(labels: dict[str, str], annotations: dict[str, str], managed: list[dict[str, Any]] | None) -> dict:
    metadata: dict[str, Any] = {"name": "r-00002", "labels": labels, "annotations": annotations}
    if managed is not None:
        metadata["managedFields"] = managed
    return {"metadata": metadata, "spec": template()["spec"]}


def test_labels_and_annotations_put_on_a_revision_later_are_not_its_templates() -> None:
    labels, annotations = {"tier": "gold", "reviewed": "yes"}, {"example.com/ticket": "REL-7"}
    managed = [owner("controller", labels=("tier",), spec=True),
               owner("controller", subresource="status", labels=("reviewed",)),  # the status's owner is no one's
               owner("kubectl-label", labels=("reviewed",)), owner("kubectl-annotate", annotations=("example.com/ticket",))]
    assert added_later(revision(labels, annotations, managed)["metadata"]) == {
        "labels": frozenset({"reviewed"}), "annotations": frozenset({"example.com/ticket"})}
    keys = [f.key for f in revision_fields(revision(labels, annotations, managed))]
    assert "label/tier" in keys and "label/reviewed" not in keys and "annotation/example.com/ticket" not in keys
    # Owned by the spec's writer too (both set it): the template's.
    shared = [*managed, owner("controller", labels=("reviewed",), annotations=("example.com/ticket",), spec=True)]
    assert added_later(revision(labels, annotations, shared)["metadata"]) == {}
    # Nothing says who wrote the spec, or there are no managedFields: every label and annotation counts.
    for unknown in (None, [], [owner("kubectl-label", labels=("reviewed",))], "garbage", True, 3, {"f:spec": {}},
                    [{"fieldsV1": "x"}]):
        assert added_later(revision(labels, annotations, unknown)["metadata"]) == {}, unknown  # type: ignore[arg-type]
        keys = [f.key for f in revision_fields(revision(labels, annotations, unknown))]  # type: ignore[arg-type]
        assert {"label/tier", "label/reviewed", "annotation/example.com/ticket"} <= set(keys)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=12)


@given(st.dictionaries(st.sampled_from(["labels", "annotations", "managedFields", "name"]), json_values, max_size=4))
def test_any_metadata_is_read_without_failing(metadata: dict[str, Any]) -> None:
    later = added_later(metadata)
    assert set(later) <= {"labels", "annotations"} and all(later.values())
    revision_fields({"metadata": metadata, "spec": {}})


@given(json_values, json_values)
def test_any_status_is_read_without_failing(old: Any, new: Any) -> None:
    older, newer = ({"spec": template()["spec"], "status": status} for status in (old, new))
    assert digest_diff(older, newer) is None or revision_diffs(older, newer)[-1].key == "digest"


def resolved(image: str, digest: str) -> dict[str, Any]:
    made = template(image)
    return {**made, "status": {"containerStatuses": [{"name": "", "imageDigest": digest}]}}


def test_the_same_image_resolved_to_another_digest_is_a_change() -> None:
    app = "ghcr.io/knative/helloworld-go"
    older, newer = resolved(f"{app}:latest", f"{app}@sha256:{'a' * 64}"), resolved(f"{app}:latest",
                                                                                   f"{app}@sha256:{'b' * 64}")
    [moved] = revision_diffs(older, newer)
    assert moved.sentence == f"the same image, resolved to other code: …@sha256:{'a' * 64} → …@sha256:{'b' * 64}"
    assert summary([moved]) == "image digest @sha256:aaaaaaa → @sha256:bbbbbbb"
    # The image changed: that change says it, not the digest; no digest yet (or the same one): no change.
    assert [d.key for d in revision_diffs(older, resolved(f"{app}:v3", f"{app}@sha256:{'b' * 64}"))] == ["image"]
    assert revision_diffs(older, resolved(f"{app}:latest", "")) == []
    assert revision_diffs(older, resolved(f"{app}:latest", f"{app}@sha256:{'a' * 64}")) == []


def with_container(**fields: object) -> dict[str, object]:
    made = template()
    made["spec"]["containers"][0].update(fields)  # type: ignore[index]
    return made


DEFAULTED = {"successThreshold": 1, "tcpSocket": {"port": 0}}  # the readiness probe Knative's defaulting leaves


def test_probes_are_worded_by_probe_and_field() -> None:
    """Not `container readinessProbe {"successThreshold": 1,…} → {"failureThreshold": 3,…}` (found by a walkthrough)."""
    old = with_container(readinessProbe=DEFAULTED)
    new = with_container(readinessProbe={**DEFAULTED, "failureThreshold": 3, "periodSeconds": 5})
    assert sentences(old, new) == ["readiness probe failure threshold added = 3", "readiness probe period added = 5s"]
    assert summary(template_diffs(old, new)) == "+readiness probe failure threshold, +readiness probe period"
    http = with_container(readinessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "successThreshold": 1},
                          livenessProbe={"exec": {"command": ["cat", "/tmp/ok"]}, "initialDelaySeconds": 10})
    assert sentences(old, http) == [
        "readiness probe check TCP on the container's port → HTTP GET /healthz on port 8080",
        "liveness probe check added = runs cat /tmp/ok", "liveness probe initial delay added = 10s"]
    assert sentences(http, old)[1:] == ["liveness probe check removed (was runs cat /tmp/ok)",
                                        "liveness probe initial delay removed (was 10s)"]
    grpc = with_container(startupProbe={"grpc": {"port": 9090}, "timeoutSeconds": 2, "odd": [1]})
    assert sentences(template(), grpc) == ["startup probe check added = gRPC on port 9090",
                                           "startup probe timeout added = 2s", 'startup probe odd added = [1]']
    assert sentences(template(), with_container(readinessProbe="garbage")) == ["readiness probe added = garbage"]
    assert not any("{" in s for s in sentences(old, new) + sentences(old, http))


def test_volumes_and_their_mounts_are_worded() -> None:
    old = template()
    old["spec"]["volumes"] = [{"name": "config", "configMap": {"name": "app-config"}},  # type: ignore[index]
                              {"name": "scratch", "emptyDir": {}}]
    new = with_container(volumeMounts=[{"name": "certs", "mountPath": "/etc/certs", "readOnly": True}])
    new["spec"]["volumes"] = [{"name": "config", "configMap": {"name": "app-config-2"}},  # type: ignore[index]
                              {"name": "certs", "secret": {"secretName": "tls"}},
                              {"name": "odd", "projected": {"sources": []}}]
    assert sentences(old, new) == [
        "mount /etc/certs added = volume certs, read-only",
        "volume config ConfigMap app-config → ConfigMap app-config-2", "volume certs added = Secret tls",
        'volume odd added = projected {"sources": []}', "volume scratch removed (was emptyDir)"]
    assert summary(template_diffs(old, new)) == "+mount /etc/certs, volume config ConfigMap app-config → " \
                                                 "ConfigMap app-config-2, +volume certs +2 more"


@given(st.dictionaries(st.sampled_from(["readinessProbe", "livenessProbe", "volumeMounts", "image"]), json_values,
                       max_size=4), json_values)
def test_any_probe_mount_or_volume_is_read_without_failing(container: dict[str, Any], volumes: Any) -> None:
    fields = template_fields({}, {"containers": [container], "volumes": volumes})
    assert all(isinstance(f.value, str) for f in fields)


def test_a_sidecars_changes_are_said_field_by_field() -> None:
    """Not `container log-agent {"env": […], "image": …} → {…}` (a walkthrough's leftover)."""
    def with_sidecar(image: str, env: dict[str, str], **more: object) -> dict[str, object]:
        made = template()
        sidecar = {"name": "log-agent", "image": image, "env": [{"name": k, "value": v} for k, v in env.items()],
                   **more}
        made["spec"]["containers"].append(sidecar)  # type: ignore[index]
        return made

    old = with_sidecar("ghcr.io/example/agent:v1", {"LEVEL": "info"})
    new = with_sidecar("ghcr.io/example/agent:v2", {"LEVEL": "debug"}, args=["--fast"],
                       readinessProbe={"periodSeconds": 5})
    assert sentences(old, new) == [
        "container log-agent image ghcr.io/example/agent:v1 → ghcr.io/example/agent:v2",
        "container log-agent env LEVEL info → debug", 'container log-agent args added = ["--fast"]',
        "container log-agent readiness probe period added = 5s"]
    # The serving container's fields are still its own, and a sidecar has no serving port.
    assert [f.key for f in template_fields(old["metadata"], old["spec"]) if f.key.startswith("sidecar/")] == [
        "sidecar/log-agent/image", "sidecar/log-agent/env/LEVEL"]
