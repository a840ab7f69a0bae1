"""The dev cluster's Knative Serving reconciler, driven through the API as a client would:
what a Service creates (Configuration, Route, Revision, their labels, annotations, owners and
sorted conditions), template, traffic-only and metadata-only changes, revision names by the
Configuration's generation and BYO names, latestCreated/latestReady, status.traffic resolution
(spec order, merging, `latestRevision`), traffic failures (RevisionMissing, RevisionNotOwned,
RevisionNameTaken) that keep the last good traffic, Service status mirroring its children, URLs
from `config-domain` and the cluster-local label, routing state, Events, and deletion."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import DevClusterProcess, ksvc_manifest, start_cluster, wait_for

SERVING = "/apis/serving.knative.dev/v1/namespaces/{ns}/{plural}"
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
IMAGE = "ghcr.io/knative/helloworld-go:latest"

LABEL_SERVICE = "serving.knative.dev/service"
LABEL_SERVICE_UID = "serving.knative.dev/serviceUID"
LABEL_CONFIGURATION = "serving.knative.dev/configuration"
LABEL_CONFIGURATION_UID = "serving.knative.dev/configurationUID"
LABEL_GENERATION = "serving.knative.dev/configurationGeneration"
LABEL_ROUTING_STATE = "serving.knative.dev/routingState"
VISIBILITY = "networking.knative.dev/visibility"
CREATOR = "serving.knative.dev/creator"
LAST_MODIFIER = "serving.knative.dev/lastModifier"
ROUTES = "serving.knative.dev/routes"
ROUTING_STATE_MODIFIED = "serving.knative.dev/routingStateModified"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLOUT = "serving.knative.dev/rollout-duration"


# -- helpers -------------------------------------------------------------------------------


def _ns(cluster: DevClusterProcess) -> str:
    return cluster.new_namespace("r")


def _path(ns: str, plural: str, name: str = "") -> str:
    path = SERVING.format(ns=ns, plural=plural)
    return f"{path}/{name}" if name else path


def _create(cluster: DevClusterProcess, ns: str, body: dict, plural: str = "services", user: str = "") -> dict:
    headers = {"Impersonate-User": user, "Impersonate-Group": "system:masters"} if user else None
    code, _, obj = cluster.request("POST", _path(ns, plural), body, headers=headers)
    assert code == 201, obj
    return obj


def _get(cluster: DevClusterProcess, ns: str, plural: str, name: str) -> dict | None:
    code, _, obj = cluster.request("GET", _path(ns, plural, name))
    if code == 404:
        return None
    assert code == 200, obj
    return obj


def _patch(cluster: DevClusterProcess, ns: str, name: str, body: dict, plural: str = "services",
           user: str = "") -> dict:
    headers = {"Impersonate-User": user, "Impersonate-Group": "system:masters"} if user else None
    code, _, obj = cluster.request("PATCH", _path(ns, plural, name), body,
                                   content_type="application/merge-patch+json", headers=headers)
    assert code == 200, obj
    return obj


def _delete(cluster: DevClusterProcess, ns: str, plural: str, name: str, body: dict | None = None) -> None:
    code, _, obj = cluster.request("DELETE", _path(ns, plural, name), body)
    assert code in (200, 202), obj


def _names(cluster: DevClusterProcess, ns: str, plural: str) -> list[str]:
    return sorted(item["metadata"]["name"] for item in cluster.get(_path(ns, plural))["items"])


def _conditions(obj: dict | None) -> dict[str, dict]:
    return {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def _settled(cluster: DevClusterProcess, ns: str, name: str, plural: str = "services", timeout: float = 10) -> dict:
    """The object once its controller has acted on its generation and it is Ready."""

    def check() -> dict | None:
        obj = _get(cluster, ns, plural, name)
        if obj is None or (obj.get("status") or {}).get("observedGeneration") != obj["metadata"]["generation"]:
            return None
        return obj if _conditions(obj).get("Ready", {}).get("status") == "True" else None

    return wait_for(check, timeout=timeout, message=f"{plural} {name} Ready")


def _condition(cluster: DevClusterProcess, ns: str, plural: str, name: str, kind: str, status: str,
               reason: str = "") -> dict:
    """The object once its `kind` condition has this status (and reason), for its current generation."""

    def check() -> dict | None:
        obj = _get(cluster, ns, plural, name)
        if obj is None or (obj.get("status") or {}).get("observedGeneration") != obj["metadata"]["generation"]:
            return None
        condition = _conditions(obj).get(kind, {})
        if condition.get("status") == status and (not reason or condition.get("reason") == reason):
            return obj
        return None

    return wait_for(check, message=f"{plural} {name} {kind}={status} {reason}")


def _label(cluster: DevClusterProcess, ns: str, revision: str, key: str, value: str) -> dict:
    def check() -> dict | None:
        obj = _get(cluster, ns, "revisions", revision)
        return obj if obj and (obj["metadata"].get("labels") or {}).get(key) == value else None

    return wait_for(check, message=f"revision {revision} {key}={value}")


def _template(image: str, target: str = "", name: str | None = "", **extra: Any) -> dict:
    """A merge patch replacing the template's containers; `name` sets the BYO name, None clears it."""
    container: dict[str, Any] = {"image": image}
    if target:
        container["env"] = [{"name": "TARGET", "value": target}]
    template: dict[str, Any] = {"spec": {"containers": [container], **extra}}
    if name != "":
        template["metadata"] = {"name": name}
    return {"spec": {"template": template}}


def _traffic(*targets: dict) -> dict:
    return {"spec": {"traffic": list(targets)}}


def _owner(obj: dict) -> dict:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def _two_revisions(cluster: DevClusterProcess, ns: str, name: str) -> dict:
    """A Service whose second revision (TARGET=two) is latest; the first said TARGET=one."""
    _create(cluster, ns, ksvc_manifest(name, ns, env={"TARGET": "one"}))
    _settled(cluster, ns, name)
    _patch(cluster, ns, name, _template(IMAGE, "two", name=""))
    return _settled(cluster, ns, name)


@pytest.fixture
def slow(slow_devcluster: DevClusterProcess) -> DevClusterProcess:
    """The session's slow cluster: its revisions take 1 s to become Ready, so the states before Ready can be seen."""
    return slow_devcluster


# -- creation ------------------------------------------------------------------------------


def test_create_makes_configuration_and_route_owned_by_the_service(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    manifest = ksvc_manifest("hello", ns, env={"TARGET": "one"})
    manifest["metadata"]["labels"] = {"team": "a"}
    manifest["metadata"]["annotations"] = {"note": "n", LAST_APPLIED: "{}", ROLLOUT: "60s"}
    _create(devcluster, ns, manifest, user="alice")
    service = _settled(devcluster, ns, "hello")
    uid = service["metadata"]["uid"]

    configuration = _get(devcluster, ns, "configurations", "hello")
    assert configuration is not None
    assert configuration["metadata"]["ownerReferences"] == [_owner(service)]
    assert configuration["metadata"]["labels"] == {"team": "a", LABEL_SERVICE: "hello", LABEL_SERVICE_UID: uid}
    # The last-applied and rollout annotations stay on the Service and the Route.
    assert configuration["metadata"]["annotations"] == {
        "note": "n", CREATOR: "alice", LAST_MODIFIER: "alice", ROUTES: "hello"}
    assert configuration["spec"] == {"template": service["spec"]["template"]}
    assert configuration["metadata"]["generation"] == 1

    route = _get(devcluster, ns, "routes", "hello")
    assert route is not None
    assert route["metadata"]["ownerReferences"] == [_owner(service)]
    assert route["metadata"]["labels"] == {"team": "a", LABEL_SERVICE: "hello"}
    assert route["metadata"]["annotations"] == {"note": "n", ROLLOUT: "60s", CREATOR: "alice", LAST_MODIFIER: "alice"}
    assert route["spec"] == {"traffic": [{"configurationName": "hello", "latestRevision": True, "percent": 100}]}
    assert _names(devcluster, ns, "revisions") == ["hello-00001"]


def test_revision_metadata_follows_the_template_and_the_configuration(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    manifest = ksvc_manifest("meta", ns, env={"TARGET": "one"})
    manifest["metadata"]["labels"] = {"team": "a"}
    manifest["metadata"]["annotations"] = {"note": "n"}
    manifest["spec"]["template"]["metadata"] = {
        "labels": {"tier": "web"}, "annotations": {"autoscaling.knative.dev/min-scale": "1"}}
    _create(devcluster, ns, manifest, user="alice")
    service = _settled(devcluster, ns, "meta")
    configuration = _get(devcluster, ns, "configurations", "meta")
    assert configuration is not None
    revision = _label(devcluster, ns, "meta-00001", LABEL_ROUTING_STATE, "active")

    # The template's own metadata is copied; the Service's and Configuration's labels are not.
    assert revision["metadata"]["labels"] == {
        "tier": "web",
        LABEL_CONFIGURATION: "meta",
        LABEL_GENERATION: "1",
        LABEL_CONFIGURATION_UID: configuration["metadata"]["uid"],
        LABEL_ROUTING_STATE: "active",
        LABEL_SERVICE: "meta",
        LABEL_SERVICE_UID: service["metadata"]["uid"],
    }
    annotations = revision["metadata"]["annotations"]
    assert RFC3339_UTC.match(annotations.pop(ROUTING_STATE_MODIFIED)), revision["metadata"]
    assert annotations == {"autoscaling.knative.dev/min-scale": "1", CREATOR: "alice", ROUTES: "meta"}
    assert revision["metadata"]["ownerReferences"] == [_owner(configuration)]
    assert revision["metadata"]["generation"] == 1
    assert revision["spec"] == service["spec"]["template"]["spec"]
    status = wait_for(lambda: (r := _get(devcluster, ns, "revisions", "meta-00001")) and
                      r["status"].get("actualReplicas") == 1 and r["status"], message="one replica")
    assert status["observedGeneration"] == 1
    assert status["desiredReplicas"] == 1
    [container] = status["containerStatuses"]
    assert container["name"] == "user-container"
    assert re.fullmatch(r"ghcr\.io/knative/helloworld-go@sha256:[0-9a-f]{64}", container["imageDigest"])

    # A later template change by someone else: the new revision's creator is the lastModifier.
    _patch(devcluster, ns, "meta", _template(IMAGE, "two", name=""), user="bob")
    _settled(devcluster, ns, "meta")
    second = _get(devcluster, ns, "revisions", "meta-00002")
    assert second is not None and second["metadata"]["annotations"][CREATOR] == "bob"
    assert second["metadata"]["labels"][LABEL_GENERATION] == "2"


def test_conditions_are_sorted_by_type_and_all_true_once_ready(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    _create(devcluster, ns, ksvc_manifest("conds", ns))
    service = _settled(devcluster, ns, "conds")
    route = _settled(devcluster, ns, "conds", "routes")
    configuration = _settled(devcluster, ns, "conds", "configurations")
    revision = _settled(devcluster, ns, "conds-00001", "revisions")
    wanted = {
        "services": (service, ["ConfigurationsReady", "Ready", "RoutesReady"]),
        "routes": (route, ["AllTrafficAssigned", "CertificateProvisioned", "IngressReady", "Ready"]),
        "configurations": (configuration, ["Ready"]),
        "revisions": (revision, ["Active", "ContainerHealthy", "Ready", "ResourcesAvailable"]),
    }
    for plural, (obj, types) in wanted.items():
        conditions = obj["status"]["conditions"]
        assert [c["type"] for c in conditions] == types, (plural, conditions)
        for condition in conditions:
            assert condition["status"] == "True", (plural, condition)
            assert RFC3339_UTC.match(condition["lastTransitionTime"]), (plural, condition)
            assert condition.get("severity", "") == ("Info" if condition["type"] == "Active" else ""), condition
    certificate = _conditions(route)["CertificateProvisioned"]
    assert (certificate["reason"], certificate["message"]) == ("TLSNotEnabled", "external-domain-tls is not enabled")


def test_service_status_mirrors_configuration_and_route(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    _create(devcluster, ns, ksvc_manifest("mirror", ns))
    service = _settled(devcluster, ns, "mirror")
    route = _settled(devcluster, ns, "mirror", "routes")
    configuration = _settled(devcluster, ns, "mirror", "configurations")
    status = service["status"]
    assert sorted(status) == ["address", "conditions", "latestCreatedRevisionName", "latestReadyRevisionName",
                              "observedGeneration", "traffic", "url"]
    assert status["url"] == route["status"]["url"] == f"http://mirror.{ns}.example.com"
    assert status["address"] == route["status"]["address"] == {"url": f"http://mirror.{ns}.svc.cluster.local"}
    assert status["traffic"] == route["status"]["traffic"] == [
        {"latestRevision": True, "percent": 100, "revisionName": "mirror-00001"}]
    assert status["latestCreatedRevisionName"] == configuration["status"]["latestCreatedRevisionName"] == "mirror-00001"
    assert status["latestReadyRevisionName"] == configuration["status"]["latestReadyRevisionName"] == "mirror-00001"
    assert status["observedGeneration"] == 1

    # A traffic-only change moves the Service's and the Route's generations, not the Configuration's.
    _patch(devcluster, ns, "mirror", _traffic({"latestRevision": True, "percent": 100, "tag": "now"}))
    service = _settled(devcluster, ns, "mirror")
    route = _settled(devcluster, ns, "mirror", "routes")
    configuration = _settled(devcluster, ns, "mirror", "configurations")
    assert (service["metadata"]["generation"], service["status"]["observedGeneration"]) == (2, 2)
    assert (route["metadata"]["generation"], route["status"]["observedGeneration"]) == (2, 2)
    assert (configuration["metadata"]["generation"], configuration["status"]["observedGeneration"]) == (1, 1)
    assert service["status"]["traffic"] == route["status"]["traffic"] == [
        {"latestRevision": True, "percent": 100, "revisionName": "mirror-00001", "tag": "now",
         "url": f"http://now-mirror.{ns}.example.com"}]


def test_first_create_is_waiting_until_the_revision_is_ready(slow: DevClusterProcess) -> None:
    ns = _ns(slow)
    _create(slow, ns, ksvc_manifest("first", ns))
    # Until the revision has started, the Service says why it is not Ready (as kubectl's REASON shows).
    service = _condition(slow, ns, "services", "first", "Ready", "Unknown", "RevisionMissing")
    revision = _get(slow, ns, "revisions", "first-00001")
    assert revision is not None and _conditions(revision)["Ready"]["status"] == "Unknown"
    assert _conditions(service)["Ready"]["message"] == \
        'Configuration "first" is waiting for a Revision to become ready.'
    assert service["status"]["latestCreatedRevisionName"] == "first-00001"
    assert "latestReadyRevisionName" not in service["status"]
    assert "traffic" not in service["status"]
    assert {k: v["reason"] for k, v in _conditions(revision).items() if k != "Ready"} == {
        "Active": "Queued", "ContainerHealthy": "Deploying", "ResourcesAvailable": "Deploying"}
    # kpa.go computeActiveCondition: the PodAutoscaler, there from the start, waits for its first instance.
    assert _conditions(revision)["Active"]["message"] == \
        "Requests to the target are being buffered as resources are provisioned."
    assert revision["metadata"]["labels"][LABEL_ROUTING_STATE] == "pending"

    service = _settled(slow, ns, "first")
    assert service["status"]["latestReadyRevisionName"] == "first-00001"
    assert service["status"]["traffic"] == [{"latestRevision": True, "percent": 100, "revisionName": "first-00001"}]


def test_latest_ready_and_floating_traffic_move_only_when_the_new_revision_is_ready(slow: DevClusterProcess) -> None:
    ns = _ns(slow)
    _create(slow, ns, ksvc_manifest("roll", ns))
    _settled(slow, ns, "roll")
    _patch(slow, ns, "roll", _traffic({"latestRevision": True, "percent": 50},
                                      {"revisionName": "roll-00001", "percent": 50}))
    _settled(slow, ns, "roll")
    _patch(slow, ns, "roll", _template(IMAGE, "two", name=""))

    def created() -> dict | None:
        configuration = _get(slow, ns, "configurations", "roll")
        return configuration if configuration["status"].get("latestCreatedRevisionName") == "roll-00002" else None

    configuration = wait_for(created, message="latestCreatedRevisionName roll-00002")
    route = _get(slow, ns, "routes", "roll")
    revision = _get(slow, ns, "revisions", "roll-00002")
    # Read last: if the new revision is not Ready now, it was not Ready when the others were read.
    assert revision is not None and _conditions(revision)["Ready"]["status"] == "Unknown"
    assert configuration["status"]["latestReadyRevisionName"] == "roll-00001"
    assert _conditions(configuration)["Ready"]["status"] == "Unknown"
    assert route is not None and route["status"]["traffic"] == [
        {"latestRevision": True, "percent": 50, "revisionName": "roll-00001"},
        {"latestRevision": False, "percent": 50, "revisionName": "roll-00001"},
    ]

    service = _settled(slow, ns, "roll")
    assert service["status"]["latestCreatedRevisionName"] == "roll-00002"
    assert service["status"]["latestReadyRevisionName"] == "roll-00002"
    # The floating entry moved; the pinned one never does.
    assert service["status"]["traffic"] == [
        {"latestRevision": True, "percent": 50, "revisionName": "roll-00002"},
        {"latestRevision": False, "percent": 50, "revisionName": "roll-00001"},
    ]


def test_pinned_revision_not_yet_ready_is_unknown(slow: DevClusterProcess) -> None:
    ns = _ns(slow)
    _create(slow, ns, ksvc_manifest("pin", ns, traffic=[{"revisionName": "pin-00001", "percent": 100}]))
    route = _condition(slow, ns, "routes", "pin", "AllTrafficAssigned", "Unknown", "RevisionMissing")
    assert _conditions(_get(slow, ns, "revisions", "pin-00001"))["Ready"]["status"] == "Unknown"
    assert _conditions(route)["AllTrafficAssigned"]["message"] == 'Revision "pin-00001" is not yet ready.'
    assert "traffic" not in route["status"]
    service = _settled(slow, ns, "pin")
    assert service["status"]["traffic"] == [{"latestRevision": False, "percent": 100, "revisionName": "pin-00001"}]


def test_a_missing_target_outweighs_one_still_starting(slow: DevClusterProcess) -> None:
    ns = _ns(slow)
    _create(slow, ns, ksvc_manifest("mixed", ns, traffic=[{"latestRevision": True, "percent": 50},
                                                          {"revisionName": "mixed-00009", "percent": 50}]))
    # As Knative does, every target is looked at and a failure wins over a target still starting.
    route = _condition(slow, ns, "routes", "mixed", "AllTrafficAssigned", "False", "RevisionMissing")
    revision = _get(slow, ns, "revisions", "mixed-00001")
    assert revision is not None and _conditions(revision)["Ready"]["status"] == "Unknown"
    assert _conditions(route)["AllTrafficAssigned"]["message"] == \
        'Revision "mixed-00009" referenced in traffic not found.'
    service = _condition(slow, ns, "services", "mixed", "Ready", "False")
    assert _conditions(service)["RoutesReady"]["reason"] == "RevisionMissing"


# -- changes -------------------------------------------------------------------------------


def test_revisions_are_numbered_by_the_configuration_generation(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    _create(devcluster, ns, ksvc_manifest("gen", ns))
    _settled(devcluster, ns, "gen")
    _patch(devcluster, ns, "gen", _traffic({"latestRevision": True, "percent": 100, "tag": "current"}))
    service = _settled(devcluster, ns, "gen")
    assert service["metadata"]["generation"] == 2
    assert _get(devcluster, ns, "configurations", "gen")["metadata"]["generation"] == 1
    assert _names(devcluster, ns, "revisions") == ["gen-00001"]

    _patch(devcluster, ns, "gen", _template("ghcr.io/knative/helloworld-go:v2", name=""))
    service = _settled(devcluster, ns, "gen")
    configuration = _settled(devcluster, ns, "gen", "configurations")
    assert service["metadata"]["generation"] == 3
    assert configuration["metadata"]["generation"] == 2
    assert _names(devcluster, ns, "revisions") == ["gen-00001", "gen-00002"]
    second = _get(devcluster, ns, "revisions", "gen-00002")
    assert second["metadata"]["labels"][LABEL_GENERATION] == "2"
    assert second["spec"]["containers"][0]["image"] == "ghcr.io/knative/helloworld-go:v2"
    assert service["status"]["latestCreatedRevisionName"] == service["status"]["latestReadyRevisionName"] == \
        "gen-00002"
    assert service["status"]["traffic"][0]["revisionName"] == "gen-00002"


def test_long_service_names_give_hashed_revision_names(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    name = "long-" + "x" * 55
    _create(devcluster, ns, ksvc_manifest(name, ns))
    service = _settled(devcluster, ns, name)
    expected = name[:25] + hashlib.md5(name.encode()).hexdigest() + "-00001"
    assert len(expected) == 63
    assert service["status"]["latestReadyRevisionName"] == expected
    assert _names(devcluster, ns, "revisions") == [expected]


def test_metadata_only_change_reaches_the_children_without_a_revision(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    _create(devcluster, ns, ksvc_manifest("label", ns))
    before = _settled(devcluster, ns, "label")
    _patch(devcluster, ns, "label", {"metadata": {"labels": {"team": "b"}, "annotations": {
        "note": "x", LAST_APPLIED: "{}"}}})

    def copied(plural: str) -> dict:
        def check() -> dict | None:
            obj = _get(devcluster, ns, plural, "label")
            return obj if (obj["metadata"].get("labels") or {}).get("team") == "b" else None
        return wait_for(check, message=f"{plural} labelled")

    configuration, route = copied("configurations"), copied("routes")
    assert configuration["metadata"]["annotations"]["note"] == route["metadata"]["annotations"]["note"] == "x"
    assert LAST_APPLIED not in configuration["metadata"]["annotations"]
    assert LAST_APPLIED not in route["metadata"]["annotations"]
    assert configuration["metadata"]["generation"] == route["metadata"]["generation"] == 1
    service = _settled(devcluster, ns, "label")
    assert service["metadata"]["generation"] == before["metadata"]["generation"] == 1
    assert _names(devcluster, ns, "revisions") == ["label-00001"]
    revision = _get(devcluster, ns, "revisions", "label-00001")
    assert "team" not in revision["metadata"]["labels"] and "note" not in revision["metadata"]["annotations"]

    _patch(devcluster, ns, "label", {"metadata": {"labels": {"team": None}}})
    wait_for(lambda: "team" not in _get(devcluster, ns, "routes", "label")["metadata"]["labels"],
             message="label removed from the route")


def test_byo_revision_names(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    manifest = ksvc_manifest("byo", ns)
    manifest["spec"]["template"]["metadata"] = {"name": "byo-first"}
    _create(devcluster, ns, manifest)
    service = _settled(devcluster, ns, "byo")
    assert service["status"]["latestReadyRevisionName"] == "byo-first"

    _patch(devcluster, ns, "byo", _template("example.com/two:1", name="byo-second"))
    service = _settled(devcluster, ns, "byo")
    assert service["status"]["latestReadyRevisionName"] == "byo-second"
    assert _get(devcluster, ns, "revisions", "byo-second")["metadata"]["labels"][LABEL_GENERATION] == "2"

    # Clearing the name goes back to generated names, numbered by the Configuration's generation.
    _patch(devcluster, ns, "byo", _template("example.com/three:1", name=None))
    service = _settled(devcluster, ns, "byo")
    assert service["status"]["latestReadyRevisionName"] == "byo-00003"
    assert _names(devcluster, ns, "revisions") == ["byo-00003", "byo-first", "byo-second"]

    _patch(devcluster, ns, "byo", _traffic({"revisionName": "byo-first", "percent": 100}))
    service = _settled(devcluster, ns, "byo")
    assert service["status"]["traffic"] == [{"latestRevision": False, "percent": 100, "revisionName": "byo-first"}]


def test_byo_name_taken_by_another_configuration(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    # A standalone Configuration "taken-x" may name its revision "taken-x-v1"; so may Service "taken".
    other = {"apiVersion": "serving.knative.dev/v1", "kind": "Configuration",
             "metadata": {"name": "taken-x", "namespace": ns},
             "spec": {"template": {"metadata": {"name": "taken-x-v1"}, "spec": {"containers": [{"image": IMAGE}]}}}}
    _create(devcluster, ns, other, plural="configurations")
    _settled(devcluster, ns, "taken-x", "configurations")
    _create(devcluster, ns, ksvc_manifest("taken", ns))
    _settled(devcluster, ns, "taken")
    _patch(devcluster, ns, "taken", _template("example.com/two:1", name="taken-x-v1"))

    configuration = _condition(devcluster, ns, "configurations", "taken", "Ready", "False", "RevisionFailed")
    assert _conditions(configuration)["Ready"]["message"] == \
        'Revision creation failed with message: revisions.serving.knative.dev "taken-x-v1" already exists.'
    service = _condition(devcluster, ns, "services", "taken", "RoutesReady", "False", "RevisionNameTaken")
    assert _conditions(service)["RoutesReady"]["message"] == \
        'The revision name "taken-x-v1" is taken by a conflicting Revision, so traffic will not be migrated'
    assert _conditions(service)["Ready"]["status"] == "False"
    assert service["status"]["latestReadyRevisionName"] == "taken-00001"
    assert service["status"]["traffic"] == [{"latestRevision": True, "percent": 100, "revisionName": "taken-00001"}]


def test_byo_name_of_an_older_revision_with_another_template_is_taken(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    manifest = ksvc_manifest("again", ns, image="example.com/one:1")
    manifest["spec"]["template"]["metadata"] = {"name": "again-v1"}
    _create(devcluster, ns, manifest)
    _settled(devcluster, ns, "again")
    _patch(devcluster, ns, "again", _template("example.com/two:1", name="again-v2"))
    _settled(devcluster, ns, "again")

    # Back to the first name with the first template: that revision is this template, so it is reused.
    _patch(devcluster, ns, "again", _template("example.com/one:1", name="again-v1"))
    service = _settled(devcluster, ns, "again")
    assert service["status"]["latestCreatedRevisionName"] == service["status"]["latestReadyRevisionName"] == \
        "again-v1"
    assert service["status"]["traffic"] == [{"latestRevision": True, "percent": 100, "revisionName": "again-v1"}]

    # The same old name with a different template: the name is taken, and traffic stays put.
    _patch(devcluster, ns, "again", _template("example.com/three:1", name="again-v2"))
    configuration = _condition(devcluster, ns, "configurations", "again", "Ready", "False", "RevisionFailed")
    assert _conditions(configuration)["Ready"]["message"] == \
        'Revision creation failed with message: revisions.serving.knative.dev "again-v2" already exists.'
    assert configuration["status"]["latestCreatedRevisionName"] == "again-v1"
    service = _condition(devcluster, ns, "services", "again", "RoutesReady", "False", "RevisionNameTaken")
    assert service["status"]["traffic"] == [{"latestRevision": True, "percent": 100, "revisionName": "again-v1"}]
    assert _get(devcluster, ns, "revisions", "again-v2")["spec"]["containers"][0]["image"] == "example.com/two:1"


# -- traffic ---------------------------------------------------------------------------------


def test_status_traffic_keeps_spec_order_and_merges_identical_entries(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    _two_revisions(devcluster, ns, "tr")
    _patch(devcluster, ns, "tr", _traffic(
        {"revisionName": "tr-00001", "percent": 20},
        {"latestRevision": True, "percent": 30},
        {"latestRevision": True, "percent": 30},
        {"revisionName": "tr-00001", "percent": 20},
        {"revisionName": "tr-00002", "percent": 0},
        {"revisionName": "tr-00002", "percent": 0, "tag": "cand"},
    ))
    service = _settled(devcluster, ns, "tr")
    assert service["status"]["traffic"] == [
        {"latestRevision": False, "percent": 40, "revisionName": "tr-00001"},
        {"latestRevision": True, "percent": 60, "revisionName": "tr-00002"},
        {"latestRevision": False, "percent": 0, "revisionName": "tr-00002"},
        {"latestRevision": False, "percent": 0, "revisionName": "tr-00002", "tag": "cand",
         "url": f"http://cand-tr.{ns}.example.com"},
    ]
    route = _get(devcluster, ns, "routes", "tr")
    assert route["status"]["traffic"] == service["status"]["traffic"]
    # The Route's spec keeps every entry, with the Service's name filled in for floating ones.
    assert [t.get("configurationName") for t in route["spec"]["traffic"]] == [None, "tr", "tr", None, None, None]


def test_missing_revision_is_reported_and_keeps_the_last_good_traffic(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    _create(devcluster, ns, ksvc_manifest("miss", ns))
    good = _settled(devcluster, ns, "miss")["status"]["traffic"]
    _patch(devcluster, ns, "miss", _traffic({"revisionName": "miss-00009", "percent": 100}))

    message = 'Revision "miss-00009" referenced in traffic not found.'
    route = _condition(devcluster, ns, "routes", "miss", "AllTrafficAssigned", "False", "RevisionMissing")
    assert _conditions(route)["AllTrafficAssigned"]["message"] == message
    assert (_conditions(route)["Ready"]["status"], _conditions(route)["Ready"]["message"]) == ("False", message)
    assert route["status"]["traffic"] == good
    service = _condition(devcluster, ns, "services", "miss", "RoutesReady", "False", "RevisionMissing")
    assert _conditions(service)["RoutesReady"]["message"] == message
    assert (_conditions(service)["Ready"]["status"], _conditions(service)["Ready"]["reason"]) == \
        ("False", "RevisionMissing")
    assert _conditions(service)["ConfigurationsReady"]["status"] == "True"
    assert service["status"]["traffic"] == good

    _patch(devcluster, ns, "miss", _traffic({"latestRevision": True, "percent": 100}))
    assert _settled(devcluster, ns, "miss")["status"]["traffic"] == good


def test_revisions_of_other_services_are_not_owned(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    for name in ("own-a", "own-b"):
        _create(devcluster, ns, ksvc_manifest(name, ns))
    loose = {"apiVersion": "serving.knative.dev/v1", "kind": "Configuration",
             "metadata": {"name": "loose", "namespace": ns},
             "spec": {"template": {"spec": {"containers": [{"image": IMAGE}]}}}}
    _create(devcluster, ns, loose, plural="configurations")
    _settled(devcluster, ns, "own-a")
    good = _settled(devcluster, ns, "own-b")["status"]["traffic"]
    _settled(devcluster, ns, "loose", "configurations")
    loose_revision = _get(devcluster, ns, "revisions", "loose-00001")
    assert LABEL_SERVICE not in loose_revision["metadata"]["labels"]

    cases = (
        ("own-a-00001", 'Revision "own-a-00001" belongs to Service "own-a", not Service "own-b".'),
        ("loose-00001", 'Revision "loose-00001" does not belong to Service "own-b".'),
    )
    for revision, message in cases:
        _patch(devcluster, ns, "own-b", _traffic({"revisionName": revision, "percent": 100}))
        route = _condition(devcluster, ns, "routes", "own-b", "AllTrafficAssigned", "False", "RevisionNotOwned")
        assert _conditions(route)["AllTrafficAssigned"]["message"] == message
        assert route["status"]["traffic"] == good
        service = _condition(devcluster, ns, "services", "own-b", "RoutesReady", "False", "RevisionNotOwned")
        assert _conditions(service)["RoutesReady"]["message"] == message
        assert service["status"]["traffic"] == good


def test_deleting_a_routed_revision_is_reported_by_the_route(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    _two_revisions(devcluster, ns, "del")
    _patch(devcluster, ns, "del", _traffic({"revisionName": "del-00001", "percent": 50},
                                          {"latestRevision": True, "percent": 50}))
    good = _settled(devcluster, ns, "del")["status"]["traffic"]
    _delete(devcluster, ns, "revisions", "del-00001")

    route = _condition(devcluster, ns, "routes", "del", "AllTrafficAssigned", "False", "RevisionMissing")
    assert _conditions(route)["AllTrafficAssigned"]["message"] == \
        'Revision "del-00001" referenced in traffic not found.'
    assert route["status"]["traffic"] == good
    _condition(devcluster, ns, "services", "del", "Ready", "False", "RevisionMissing")

    # The Configuration's latest revision, deleted, is made again for the same generation.
    _patch(devcluster, ns, "del", _traffic({"latestRevision": True, "percent": 100}))
    _settled(devcluster, ns, "del")
    old_uid = _get(devcluster, ns, "revisions", "del-00002")["metadata"]["uid"]
    _delete(devcluster, ns, "revisions", "del-00002")
    wait_for(lambda: (r := _get(devcluster, ns, "revisions", "del-00002")) and r["metadata"]["uid"] != old_uid,
             message="del-00002 created again")
    service = _settled(devcluster, ns, "del")
    assert service["status"]["latestReadyRevisionName"] == "del-00002"
    assert _names(devcluster, ns, "revisions") == ["del-00002"]


def test_routing_state_follows_the_routes(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    _create(devcluster, ns, ksvc_manifest("rs", ns))
    _settled(devcluster, ns, "rs")
    first = _label(devcluster, ns, "rs-00001", LABEL_ROUTING_STATE, "active")
    _patch(devcluster, ns, "rs", _template(IMAGE, "two", name=""))
    _settled(devcluster, ns, "rs")
    _label(devcluster, ns, "rs-00002", LABEL_ROUTING_STATE, "active")
    reserved = _label(devcluster, ns, "rs-00001", LABEL_ROUTING_STATE, "reserve")
    assert reserved["metadata"]["annotations"][ROUTING_STATE_MODIFIED] >= \
        first["metadata"]["annotations"][ROUTING_STATE_MODIFIED]
    # No route sends it traffic any more, so it names none (Knative's labeler drops the annotation).
    assert first["metadata"]["annotations"][ROUTES] == "rs"
    assert ROUTES not in reserved["metadata"]["annotations"], reserved["metadata"]["annotations"]
    # (That it then scales to zero, whatever its min-scale, is test_autoscaling's.)

    _patch(devcluster, ns, "rs", _traffic({"revisionName": "rs-00001", "percent": 50},
                                         {"latestRevision": True, "percent": 50}))
    _settled(devcluster, ns, "rs")
    again = _label(devcluster, ns, "rs-00001", LABEL_ROUTING_STATE, "active")
    assert again["metadata"]["annotations"][ROUTES] == "rs"


# -- URLs --------------------------------------------------------------------------------------


def test_cluster_local_label_makes_urls_private(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    manifest = ksvc_manifest("vis", ns, traffic=[{"latestRevision": True, "percent": 100, "tag": "t"}])
    manifest["metadata"]["labels"] = {VISIBILITY: "cluster-local"}
    _create(devcluster, ns, manifest)
    service = _settled(devcluster, ns, "vis")
    assert service["status"]["url"] == f"http://vis.{ns}.svc.cluster.local"
    assert service["status"]["address"] == {"url": f"http://vis.{ns}.svc.cluster.local"}
    assert service["status"]["traffic"][0]["url"] == f"http://t-vis.{ns}.svc.cluster.local"

    _patch(devcluster, ns, "vis", {"metadata": {"labels": {VISIBILITY: None}}})
    wait_for(lambda: _get(devcluster, ns, "services", "vis")["status"]["url"] == f"http://vis.{ns}.example.com",
             message="public URL")
    service = _settled(devcluster, ns, "vis")
    assert service["status"]["address"] == {"url": f"http://vis.{ns}.svc.cluster.local"}
    assert service["status"]["traffic"][0]["url"] == f"http://t-vis.{ns}.example.com"


def test_urls_follow_config_domain(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "cluster", "--revision-start-delay", "0.2")
    try:
        config_domain = "/api/v1/namespaces/knative-serving/configmaps/config-domain"
        manifest = ksvc_manifest("dom", traffic=[{"latestRevision": True, "percent": 100, "tag": "v"}])
        _create(cluster, "default", manifest)
        _create(cluster, "default", ksvc_manifest("inner"))
        service = _settled(cluster, "default", "dom")
        assert service["status"]["url"] == "http://dom.default.example.com"

        def urls(name: str, url: str) -> dict:
            def check() -> dict | None:
                obj = _get(cluster, "default", "services", name)
                return obj if obj["status"].get("url") == url else None
            return wait_for(check, message=f"{name} at {url}")

        code, _, body = cluster.request("PATCH", config_domain, {"data": {"example.com": None, "knative.test": ""}},
                                        content_type="application/merge-patch+json")
        assert code == 200, body
        service = urls("dom", "http://dom.default.knative.test")
        assert service["status"]["traffic"][0]["url"] == "http://v-dom.default.knative.test"
        assert service["status"]["address"] == {"url": "http://dom.default.svc.cluster.local"}
        # The gateway answers on the new hosts, and no longer on the old ones: example.com is no longer one of the
        # cluster's domains, so its hosts are strangers (400), where an unserved host of a domain would be a 404.
        with httpx.Client(base_url=cluster.gateway_url, trust_env=False, timeout=10) as gateway:
            for host in ("dom.default.knative.test", "v-dom.default.knative.test"):
                wait_for(lambda h=host: gateway.get("/", headers={"Host": h}).status_code == 200, message=host)
            old = gateway.get("/", headers={"Host": "dom.default.example.com"})
            assert (old.status_code, "dom.default.example.com" in old.text) == (400, True)
            assert gateway.get("/", headers={"Host": "gone.default.knative.test"}).status_code == 404

        # A domain with a selector applies to the routes whose labels match it.
        code, _, body = cluster.request("PATCH", config_domain, {"data": {"inner.test": "selector:\n  app: inner\n"}},
                                        content_type="application/merge-patch+json")
        assert code == 200, body
        _patch(cluster, "default", "inner", {"metadata": {"labels": {"app": "inner"}}})
        urls("inner", "http://inner.default.inner.test")
        assert _get(cluster, "default", "services", "dom")["status"]["url"] == "http://dom.default.knative.test"

        # With no domain at all, every route is cluster-local.
        code, _, body = cluster.request("PATCH", config_domain, {"data": {"knative.test": None, "inner.test": None}},
                                        content_type="application/merge-patch+json")
        assert code == 200, body
        service = urls("dom", "http://dom.default.svc.cluster.local")
        assert service["status"]["traffic"][0]["url"] == "http://v-dom.default.svc.cluster.local"
        urls("inner", "http://inner.default.svc.cluster.local")
    finally:
        assert cluster.stop() == 0, cluster.log()[-4000:]


# -- events and deletion -----------------------------------------------------------------------


def test_controllers_record_events(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    _create(devcluster, ns, ksvc_manifest("ev", ns))
    _settled(devcluster, ns, "ev")

    knative = ("Configuration", "Revision", "Route", "Service")

    def recorded() -> list[tuple[str, str, str, str, str]] | None:
        items = devcluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
        events = sorted((e["involvedObject"]["kind"], e["involvedObject"]["name"], e["type"], e["reason"],
                         e["message"]) for e in items if e["involvedObject"]["kind"] in knative)
        return events if len(events) >= 7 else None

    events = wait_for(recorded, message="Knative's seven events")
    assert events == [
        ("Configuration", "ev", "Normal", "Created", 'Created Revision "ev-00001"'),
        ("Configuration", "ev", "Normal", "LatestReadyUpdate", 'LatestReadyRevisionName updated to "ev-00001"'),
        ("Revision", "ev-00001", "Normal", "RevisionReady", "Revision becomes ready upon all resources being ready"),
        ("Route", "ev", "Normal", "Created", 'Created Ingress "ev"'),
        ("Route", "ev", "Normal", "Created", 'Created placeholder service "ev"'),
        ("Service", "ev", "Normal", "Created", 'Created Configuration "ev"'),
        ("Service", "ev", "Normal", "Created", 'Created Route "ev"'),
    ]
    # And Kubernetes' own parts, for the revision's Deployment, ReplicaSet and Pod.
    items = devcluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
    others = {(e["involvedObject"]["kind"], e["reason"], e["source"]["component"]) for e in items}
    assert {("Deployment", "ScalingReplicaSet", "deployment-controller"),
            ("ReplicaSet", "SuccessfulCreate", "replicaset-controller"), ("Pod", "Scheduled", "default-scheduler"),
            ("Pod", "Pulled", "kubelet"), ("Pod", "Created", "kubelet"), ("Pod", "Started", "kubelet")} <= others
    event = next(e for e in items if e["involvedObject"]["kind"] == "Service")
    assert event["apiVersion"] == "v1" and event["kind"] == "Event"
    assert event["involvedObject"]["apiVersion"] == "serving.knative.dev/v1"
    assert event["count"] == 1 and RFC3339_UTC.match(event["lastTimestamp"])


@pytest.mark.parametrize("policy", ["Background", "Foreground"])
def test_deleting_the_service_deletes_everything_it_made(devcluster: DevClusterProcess, policy: str) -> None:
    ns = _ns(devcluster)
    _two_revisions(devcluster, ns, "gone")
    _create(devcluster, ns, ksvc_manifest("stays", ns))
    _settled(devcluster, ns, "stays")
    _delete(devcluster, ns, "services", "gone", {"propagationPolicy": policy})
    for plural in ("services", "configurations", "routes"):
        wait_for(lambda p=plural: _names(devcluster, ns, p) == ["stays"], message=f"{plural} collected")
    wait_for(lambda: _names(devcluster, ns, "revisions") == ["stays-00001"], message="revisions collected")
    # And what the revisions and the route made: Deployments, ReplicaSets, Pods, Kubernetes Services, KIngresses.
    for path, left in (("/apis/apps/v1/namespaces/{ns}/deployments", ["stays-00001-deployment"]),
                       ("/api/v1/namespaces/{ns}/services", ["stays", "stays-00001", "stays-00001-private"]),
                       ("/apis/networking.internal.knative.dev/v1alpha1/namespaces/{ns}/ingresses", ["stays"])):
        wait_for(lambda p=path, w=left: sorted(i["metadata"]["name"] for i in devcluster.get(p.format(ns=ns))["items"])
                 == w, message=f"{path} collected")
    wait_for(lambda: all(p["metadata"]["name"].startswith("stays-00001-deployment-")
                         for p in devcluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]), message="pods collected")
    # Nothing comes back: the reconciler does not recreate children of a deleted Service.
    _create(devcluster, ns, ksvc_manifest("after", ns))
    _settled(devcluster, ns, "after")
    assert _names(devcluster, ns, "configurations") == ["after", "stays"]
