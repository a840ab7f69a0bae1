"""Admission on update: lastModifier defaulting, creator/lastModifier immutability (4.3),
BYO revision name changes (1.4) and the immutable Revision spec (1.1)."""

import copy

import pytest

from app.devcluster.admission import AdmissionDenied, default, validate

CREATOR = "serving.knative.dev/creator"
MODIFIER = "serving.knative.dev/lastModifier"
SERVICE_OWNER = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "hello", "controller": True}
IMMUTABLE_CREATOR = "annotation value is immutable: metadata.annotations.serving.knative.dev/creator"


def created(kind, obj, user="alice"):
    default(kind, "CREATE", obj, None, user)
    validate(kind, "CREATE", obj, None)
    return obj


def updated(kind, old, change, user="bob"):
    """Apply `change` to a copy of the stored object, run both webhooks; (object, denial text)."""
    new = copy.deepcopy(old)
    change(new)
    default(kind, "UPDATE", new, old, user)
    try:
        validate(kind, "UPDATE", new, old)
    except AdmissionDenied as denied:
        return new, denied.text
    return new, ""


def stored_service(template_name=None, image="helloworld:bar"):
    template = {"spec": {"containers": [{"image": image}]}}
    if template_name:
        template["metadata"] = {"name": template_name}
    return created("Service", {"metadata": {"name": "hello", "namespace": "default"}, "spec": {"template": template}})


def set_image(image):
    def change(obj):
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = image

    return change


def test_a_spec_change_sets_last_modifier_and_keeps_creator():
    new, text = updated("Service", stored_service(), set_image("helloworld:foo"))
    assert text == ""
    assert new["metadata"]["annotations"] == {CREATOR: "alice", MODIFIER: "bob"}


def test_a_traffic_change_is_a_spec_change():
    def split(obj):
        obj["spec"]["traffic"] = [
            {"latestRevision": True, "percent": 50},
            {"revisionName": "hello-00001", "percent": 50},
        ]

    new, text = updated("Service", stored_service(), split)
    assert (text, new["metadata"]["annotations"][MODIFIER]) == ("", "bob")


def test_a_metadata_change_keeps_last_modifier():
    new, text = updated("Service", stored_service(), lambda obj: obj["metadata"].setdefault("labels", {}).update(a="b"))
    assert (text, new["metadata"]["annotations"]) == ("", {CREATOR: "alice", MODIFIER: "alice"})


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (lambda obj: obj["metadata"]["annotations"].update({CREATOR: "bob"}), IMMUTABLE_CREATOR),
        (
            lambda obj: obj["metadata"]["annotations"].update({MODIFIER: "mallory"}),
            "invalid value: mallory: metadata.annotations.serving.knative.dev/lastModifier",
        ),
        # A full PUT that drops the stored annotations, as in tektoncd/triggers#983.
        (
            lambda obj: obj["metadata"].pop("annotations"),
            f"{IMMUTABLE_CREATOR}\ninvalid value: : metadata.annotations.serving.knative.dev/lastModifier",
        ),
        (lambda obj: (obj["metadata"].pop("annotations"), set_image("helloworld:foo")(obj)), IMMUTABLE_CREATOR),
        (lambda obj: obj["metadata"]["annotations"].pop(CREATOR), IMMUTABLE_CREATOR),
    ],
)
def test_creator_and_last_modifier_are_guarded(change, text):
    assert updated("Service", stored_service(), change)[1] == text


def test_on_update_enable_service_links_is_not_defaulted():
    def drop(obj):
        obj["spec"]["template"]["spec"].pop("enableServiceLinks")

    new, text = updated("Service", stored_service(), drop)
    assert text == ""
    assert "enableServiceLinks" not in new["spec"]["template"]["spec"]
    assert new["metadata"]["annotations"][MODIFIER] == "bob"


@pytest.mark.parametrize("owned", [True, False])
@pytest.mark.parametrize("kind", ["Route", "Configuration"])
def test_children_of_a_service_skip_the_creator_checks(kind, owned):
    spec = {"traffic": [{"configurationName": "hello", "percent": 100}]}
    if kind == "Configuration":
        spec = {"template": {"spec": {"containers": [{"image": "helloworld:bar"}]}}}
    owners = [SERVICE_OWNER] if owned else []
    old = created(kind, {"metadata": {"name": "hello", "ownerReferences": owners}, "spec": spec})
    new, text = updated(kind, old, lambda obj: obj["metadata"].setdefault("annotations", {}).update({CREATOR: "bob"}))
    assert text == ("" if owned else IMMUTABLE_CREATOR)


BYO_IMAGE_DIFF = (
    "Saw the following changes without a name change (-old +new): spec.template.metadata.name\n"
    "{*v1.RevisionTemplateSpec}.Spec.PodSpec.Containers[0].Image:\n"
    '\t-: "helloworld:bar"\n'
    '\t+: "helloworld:foo"\n'
)


@pytest.mark.parametrize("kind", ["Service", "Configuration"])
def test_a_template_change_without_a_new_byo_name_is_refused(kind):
    old = {
        "metadata": {"name": "hello"},
        "spec": {"template": {"metadata": {"name": "hello-v1"}, "spec": {"containers": [{"image": "helloworld:bar"}]}}},
    }
    new, text = updated(kind, created(kind, old), set_image("helloworld:foo"))
    assert text == BYO_IMAGE_DIFF
    # Knative leaves such a template undefaulted rather than suggest a conflicting change.
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "helloworld:foo"


def test_a_template_label_change_alone_needs_a_new_name():
    old = stored_service("hello-v1")
    old["spec"]["template"]["metadata"]["labels"] = {"team": "a"}

    def relabel(obj):
        obj["spec"]["template"]["metadata"]["labels"] = {"team": "b", "tier": "web"}

    assert updated("Service", old, relabel)[1] == (
        "Saw the following changes without a name change (-old +new): spec.template.metadata.name\n"
        '{*v1.RevisionTemplateSpec}.ObjectMeta.Labels["team"]:\n'
        '\t-: "a"\n'
        '\t+: "b"\n'
        '{*v1.RevisionTemplateSpec}.ObjectMeta.Labels["tier"]:\n'
        '\t+: "web"\n'
    )


def test_a_pointer_field_is_shown_dereferenced():
    def timeout(obj):
        obj["spec"]["template"]["spec"]["timeoutSeconds"] = 100

    assert updated("Service", stored_service("hello-v1"), timeout)[1] == (
        "Saw the following changes without a name change (-old +new): spec.template.metadata.name\n"
        "*{*v1.RevisionTemplateSpec}.Spec.TimeoutSeconds:\n"
        '\t-: "300"\n'
        '\t+: "100"\n'
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda obj: (obj["spec"]["template"]["metadata"].update(name="hello-v2"), set_image("helloworld:foo")(obj)),
        lambda obj: (obj["spec"]["template"]["metadata"].pop("name"), set_image("helloworld:foo")(obj)),
        lambda obj: obj["spec"].update(traffic=[{"revisionName": "hello-v1", "percent": 100}]),
        lambda obj: None,
    ],
)
def test_a_new_name_a_cleared_name_or_an_unchanged_template_is_fine(change):
    assert updated("Service", stored_service("hello-v1"), change)[1] == ""


def test_a_full_put_of_the_undefaulted_manifest_with_the_same_byo_name_is_refused():
    old = stored_service("hello-v1")

    def put(obj):
        obj["spec"] = {
            "template": {"metadata": {"name": "hello-v1"}, "spec": {"containers": [{"image": "helloworld:bar"}]}}
        }

    text = updated("Service", old, put)[1]
    assert text.startswith(
        "Saw the following changes without a name change (-old +new): spec.template.metadata.name\n"
        "{*v1.RevisionTemplateSpec}.Spec.PodSpec.Containers[0].Name:\n"
        '\t-: "user-container"\n'
    )


def stored_revision():
    revision = {
        "metadata": {
            "name": "hello-00001",
            "labels": {"serving.knative.dev/configuration": "hello"},
            "ownerReferences": [{"kind": "Configuration", "name": "hello", "controller": True}],
        },
        "spec": {"containers": [{"image": "helloworld:bar", "ports": [{"containerPort": 8080}]}]},
    }
    return created("Revision", revision)


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (
            lambda obj: obj["spec"]["containers"][0].update(image="helloworld:foo"),
            "Immutable fields changed (-old +new): spec\n"
            "{v1.RevisionSpec}.PodSpec.Containers[0].Image:\n"
            '\t-: "helloworld:bar"\n'
            '\t+: "helloworld:foo"\n',
        ),
        (
            lambda obj: obj["spec"].update(timeoutSeconds=100),
            'Immutable fields changed (-old +new): spec\n*{v1.RevisionSpec}.TimeoutSeconds:\n\t-: "300"\n\t+: "100"\n',
        ),
        (
            lambda obj: obj["spec"]["containers"][0].update(env=[{"name": "A", "value": "1"}]),
            "Immutable fields changed (-old +new): spec\n"
            "{v1.RevisionSpec}.PodSpec.Containers[0].Env:\n"
            '\t+: "[{"name":"A","value":"1"}]"\n',
        ),
        # The immutability error is sent alone, even when the metadata is wrong too.
        (
            lambda obj: (
                obj["metadata"].update(annotations={"autoscaling.knative.dev/window": "1s"}),
                obj["spec"].update(timeoutSeconds=100),
            ),
            'Immutable fields changed (-old +new): spec\n*{v1.RevisionSpec}.TimeoutSeconds:\n\t-: "300"\n\t+: "100"\n',
        ),
        (lambda obj: obj["metadata"]["labels"].update({"serving.knative.dev/routingState": "active"}), ""),
        (
            lambda obj: obj["metadata"].update(annotations={"autoscaling.knative.dev/window": "1s"}),
            "expected 6s <= 1s <= 1h0m0s: metadata.annotations.autoscaling.knative.dev/window",
        ),
    ],
)
def test_the_revision_spec_is_immutable(change, text):
    assert updated("Revision", stored_revision(), change)[1] == text
