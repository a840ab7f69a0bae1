"""The console's pure rules for revisions that fail, scale and roll out: the diagnosis in plain words (from Knative's
reasons and messages), instances in words, a Service's failure in one line, rollout progress from the Service's
status, the wizard's rollout request, and the refusal of a share for a revision that is not Ready."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.knative import traffic
from app.knative.diagnosis import (
    deleted_entries,
    diagnose,
    held_split,
    not_ready,
    service_problem,
    unschedulable_words,
)
from app.knative.events import newest_first
from app.knative.instances import Instance, describe, instance_from, no_room, short_of
from app.knative.models import revision_from, service_from
from app.knative.probes import readiness_probe
from app.knative.rollout import RolloutError, rollout_progress, rollout_request, seconds_of

MISSING = ('Unable to fetch image "registry.invalid/app:v1": failed to resolve image to digest: Get '
           '"https://registry.invalid/v2/": dial tcp: lookup registry.invalid: no such host')


def _revision(name: str = "app-00002", image: str = "registry.invalid/app:v1", actual: int | None = None,
              desired: int | None = None, min_scale: str = "", **conditions: tuple[str, str, str]) -> Any:
    status: dict[str, Any] = {"conditions": [{"type": k, "status": s, "reason": r, "message": m}
                                             for k, (s, r, m) in conditions.items()]}
    if actual is not None:
        status["actualReplicas"] = actual
    if desired is not None:
        status["desiredReplicas"] = desired
    metadata: dict[str, Any] = {"name": name, "labels": {"serving.knative.dev/configurationGeneration": "2"}}
    if min_scale:
        metadata["annotations"] = {"autoscaling.knative.dev/min-scale": min_scale}
    return revision_from({"metadata": metadata, "spec": {"containers": [{"image": image}]}, "status": status})


def _pod(name: str, ready: bool, restarts: int = 0, waiting: str = "", code: int | None = None) -> Instance:
    user: dict[str, Any] = {"name": "user-container", "restartCount": restarts,
                            "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}}}
    if code is not None:
        user["lastState"] = {"terminated": {"exitCode": code}}
    return instance_from({"metadata": {"name": name, "labels": {"serving.knative.dev/revision": "app-00002"}},
                          "status": {"phase": "Running", "containerStatuses": [user],
                                     "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})


def test_an_unresolvable_image_in_the_issues_words() -> None:
    revision = _revision(ContainerHealthy=("False", "ContainerMissing", MISSING), Ready=("False", "ContainerMissing",
                                                                                        MISSING))
    found = diagnose(revision)
    assert found is not None
    assert found.sentence == ("The image registry.invalid/app:v1 could not be resolved: check the image name and tag, "
                              "and that the cluster can pull from its registry")
    assert (found.reason, found.message) == ("ContainerMissing", MISSING)


def test_a_crashing_container() -> None:
    message = "Container failed with: 2025/01/01 00:00:00 boom"
    revision = _revision(image="ghcr.io/x/crash:v1", ContainerHealthy=("False", "ExitCode3", message),
                         Ready=("False", "ExitCode3", message), ResourcesAvailable=("Unknown", "Deploying", ""))
    found = diagnose(revision, [_pod("p", False, restarts=5, waiting="CrashLoopBackOff", code=3)])
    assert found is not None
    assert found.what == "The container exits with code 3 as soon as it starts, and has been restarted 5 times"
    assert found.todo.startswith("read its last log lines below for the cause")
    killed = diagnose(_revision(Ready=("False", "ExitCode137", "Container failed with: OOMKilled"),
                                ContainerHealthy=("False", "ExitCode137", "Container failed with: OOMKilled")))
    assert killed is not None and "memory" in killed.what and killed.todo.startswith("raise its memory limit")


@pytest.mark.parametrize(("reason", "what"), [
    ("ProgressDeadlineExceeded", "The revision did not become ready within its progress deadline"),
    ("ImagePullBackOff", "The image registry.invalid/app:v1 could not be pulled"),
    ("Unschedulable", "No node can run its instances: the scheduler found no node that fits them"),
    ("SomethingElse", "The revision is not Ready (SomethingElse)"),
])
def test_other_failures(reason: str, what: str) -> None:
    found = diagnose(_revision(ResourcesAvailable=("False", reason, "m"), Ready=("False", reason, "m")))
    assert found is not None and found.what == what


def _refused(message: str) -> Any:
    found = diagnose(_revision(ResourcesAvailable=("False", "FailedCreate", message),
                               Ready=("False", "FailedCreate", message)))
    assert found is not None
    return found


POD = 'pods "app-00002-deployment-6d4b9-x7k2p" is forbidden: '


def test_instances_the_cluster_refuses_to_create() -> None:
    """A ResourceQuota or LimitRange refuses the revision's Pods: the ReplicaSet's ReplicaFailure (reason FailedCreate,
    the API server's refusal as message) becomes the revision's ResourcesAvailable=False (knative/serving
    pkg/apis/serving/k8s_lifecycle.go TransformDeploymentStatus, revision_lifecycle.go PropagateDeploymentStatus). The
    words name the quota and the resource, say whether the rest of the namespace or the revision itself is too big, and
    that a quota raised (or a LimitRange changed) lets this revision start by itself: the ReplicaSet keeps trying."""
    used_up = _refused(POD + "exceeded quota: compute, requested: cpu=2, used: cpu=3, limited: cpu=4")
    assert used_up.what == ("Kubernetes refuses to create its instances: they would exceed the namespace's "
                            "ResourceQuota compute (CPU requests: each instance asks for 2, and 3 of the 4 allowed "
                            "are in use)")
    assert used_up.todo == ("free some of the quota (fewer instances of other revisions or workloads in the namespace) "
                            "or ask for a larger quota, and this revision starts by itself, as Kubernetes keeps trying "
                            "to create its instances; or lower its CPU requests in a new revision")
    too_big = _refused(POD + "exceeded quota: small, requested: limits.memory=1Gi,requests.cpu=525m, used: "
                             "limits.memory=0,requests.cpu=0, limited: limits.memory=512Mi,requests.cpu=100m")
    assert too_big.what == ("Kubernetes refuses to create its instances: they would exceed the namespace's "
                            "ResourceQuota small (memory limits: each instance asks for 1Gi, more than the 512Mi "
                            "allowed in all; CPU requests: each instance asks for 525m, more than the 100m allowed in "
                            "all)")
    assert too_big.todo == ("lower the revision's memory limits and CPU requests in a new revision, which starts in "
                            "this one's place; or ask for a larger quota, and this revision starts by itself, as "
                            "Kubernetes keeps trying to create its instances")
    pods = _refused(POD + "exceeded quota: few, requested: pods=1, used: pods=3, limited: pods=3")
    assert pods.what == ("Kubernetes refuses to create its instances: they would exceed the namespace's "
                         "ResourceQuota few (3 of the 3 pods allowed are in use)")
    assert pods.todo == ("free some of the quota (fewer instances of other revisions or workloads in the namespace) or "
                         "ask for a larger quota, and this revision starts by itself, as Kubernetes keeps trying to "
                         "create its instances")


def _refused_with(message: str, resources: dict[str, Any], instances: int) -> Any:
    """A refused revision whose container states `resources` and that has `instances` live instances already."""
    revision = revision_from({
        "metadata": {"name": "app-00002", "labels": {"serving.knative.dev/configurationGeneration": "2"}},
        "spec": {"containers": [{"image": "registry.invalid/app:v1", "resources": resources}]},
        "status": {"conditions": [{"type": t, "status": "False", "reason": "FailedCreate", "message": message}
                                  for t in ("ResourcesAvailable", "Ready")]}})
    found = diagnose(revision, [_pod(f"p{i}", True) for i in range(instances)])
    assert found is not None
    return found


def test_a_quota_refusal_says_what_queue_proxy_adds_and_when_the_revision_holds_the_quota_itself() -> None:
    """Seen in a walkthrough: 200m typed, "each instance asks for 225m" (queue-proxy's 25m, unexplained), and "450m of
    the 500m allowed are in use" held by the revision's own 2 instances while the advice spoke only of other
    workloads. The words now split the amount and say whose instances hold the quota, and the advice names the
    revision's min-scale."""
    own = _refused_with(POD + "exceeded quota: q, requested: requests.cpu=225m, used: requests.cpu=450m, "
                              "limited: requests.cpu=500m", {"requests": {"cpu": "200m"}}, 2)
    assert own.what == ("Kubernetes refuses to create its instances: they would exceed the namespace's ResourceQuota q "
                        "(CPU requests: each instance asks for 225m (its container's 200m, the rest for queue-proxy, "
                        "the container Knative adds to each instance), and 450m of the 500m allowed are in use, by "
                        "this revision's own 2 instances)")
    assert own.todo.startswith("lower the revision's min-scale or its CPU requests in a new revision, which starts in "
                               "this one's place; or ask for a larger quota")
    pods = _refused_with(POD + "exceeded quota: few, requested: pods=1, used: pods=3, limited: pods=3", {}, 3)
    assert pods.what.endswith("(3 of the 3 pods allowed are in use, by this revision's own 3 instances)")
    assert pods.todo.startswith("lower the revision's min-scale in a new revision, which starts in this one's place; "
                                "or ask for a larger quota")
    others = _refused_with(POD + "exceeded quota: q, requested: requests.cpu=225m, used: requests.cpu=450m, "
                                 "limited: requests.cpu=500m", {"requests": {"cpu": "200m"}}, 1)
    assert "by this revision's own" not in others.what and others.todo.startswith("free some of the quota")
    limit_only = _refused_with(POD + "exceeded quota: q, requested: requests.cpu=1025m, used: requests.cpu=0, "
                                     "limited: requests.cpu=500m", {"limits": {"cpu": "1"}}, 0)
    assert "each instance asks for 1025m (its container's 1000m, the rest for queue-proxy" in limit_only.what


def test_a_quota_that_needs_every_container_to_state_what_it_counts() -> None:
    """pods.go Constraints: a quota that counts cpu or memory refuses a pod with a container that does not state it;
    queue-proxy, which Knative adds, gets its requests and limits from config-deployment's queue-sidecar-* keys."""
    found = _refused(POD + "failed quota: team: must specify limits.memory for: queue-proxy,user-container; "
                           "requests.cpu for: user-container")
    assert found.what == ("Kubernetes refuses to create its instances: the namespace's ResourceQuota team counts "
                          "memory limits and CPU requests, so every container must state them, and queue-proxy and "
                          "user-container state no memory limit, user-container no CPU request")
    assert found.todo == ("set them on the revision's container in a new revision; Knative's queue-proxy, the "
                          "container it adds to each instance, takes its own from queue-sidecar-memory-limit in the "
                          "ConfigMap "
                          "knative-serving/config-deployment, or a LimitRange's defaults give them to every container "
                          "that states none")
    older = _refused(POD + "failed quota: team: must specify limits.cpu,requests.memory")
    assert older.what == ("Kubernetes refuses to create its instances: the namespace's ResourceQuota team counts "
                          "CPU limits and memory requests, so every container must state them")
    assert older.todo == ("set them on the revision's container in a new revision (queue-proxy, the container Knative "
                          "adds to each instance, takes its own from the ConfigMap knative-serving/config-deployment), "
                          "or a LimitRange's defaults give them to every container that states none")


def test_a_quota_that_only_queue_proxy_does_not_satisfy() -> None:
    """The revision's container states its CPU limit; only queue-proxy, which takes its own from config-deployment,
    does not: telling the user to set it on their container again leads nowhere."""
    found = _refused(POD + "failed quota: limits: must specify limits.cpu for: queue-proxy")
    assert found.what == ("Kubernetes refuses to create its instances: the namespace's ResourceQuota limits counts CPU "
                          "limits, so every container must state them, and queue-proxy states no CPU limit")
    # Said as a sentence of its own, it starts with "Knative's", not a capitalised "Queue-proxy" (a walkthrough).
    assert found.todo == ("Knative's queue-proxy, the container it adds to each instance, takes its own from "
                          "queue-sidecar-cpu-limit in the ConfigMap knative-serving/config-deployment: ask a cluster "
                          "admin to set it there, or for a "
                          "LimitRange whose defaults give them to every container that states none (the revision's "
                          "own container needs nothing more), and this revision starts by itself, as Kubernetes "
                          "keeps trying to create its instances")


def test_a_limit_range_that_refuses_the_revision() -> None:
    found = _refused(POD + "maximum cpu usage per Container is 1, but limit is 2")
    assert found.what == ("Kubernetes refuses to create its instances: the namespace's LimitRange allows a container "
                          "a CPU limit of at most 1, and this one's is 2")
    # The fix made in a new revision is not said to start this one (found by a walkthrough).
    assert found.todo == ("give the revision a CPU limit of at most 1 in a new revision, which starts in this one's "
                          "place; or ask for the LimitRange to be changed, and this revision starts by itself, as "
                          "Kubernetes keeps trying to create its instances")
    several = _refused(POD + "[minimum memory usage per Pod is 1Gi, but request is 64Mi, maximum cpu usage per "
                             "Container is 1, but limit is 2]")
    assert several.what == ("Kubernetes refuses to create its instances: the namespace's LimitRange allows an instance "
                            "(its containers together) a memory request of at least 1Gi, and this one's is 64Mi")
    unstated = _refused(POD + "maximum memory usage per Container is 1Gi.  No limit is specified")
    assert unstated.what == ("Kubernetes refuses to create its instances: the namespace's LimitRange allows a "
                             "container a memory limit of at most 1Gi, and one states none")
    ratio = _refused(POD + "cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000")
    assert ratio.what == ("Kubernetes refuses to create its instances: cpu max limit to request ratio per Container "
                          "is 2, but provided ratio is 4.000000")
    assert ratio.todo == ("change the revision's settings to what the namespace allows (its LimitRange, "
                          "ResourceQuota or policies) in a new revision")


def test_a_default_limit_below_the_request() -> None:
    """A LimitRange's default limit below what a container requests: the pod's own validation (422) refuses it."""
    found = _refused('Pod "app-00002-deployment-6d4b9-x7k2p" is invalid: spec.containers[0].resources.requests: '
                     'Invalid value: "800m": must be less than or equal to cpu limit of 500m')
    assert found.what == ("Kubernetes refuses to create its instances: a container requests 800m of CPU, more than "
                          "its CPU limit of 500m (the namespace's LimitRange default, when the revision sets none)")
    assert found.todo == ("set the revision's CPU limit (at least its request) in a new revision, which starts in "
                          "this one's place; or ask for the LimitRange's default to be raised, and this revision "
                          "starts by itself, as Kubernetes keeps trying to create its instances")


def test_a_refused_revision_in_the_services_list() -> None:
    message = POD + "exceeded quota: small, requested: requests.cpu=525m, used: requests.cpu=0, limited: requests.cpu=100m"
    service = _service({"ConfigurationsReady": ("False", "RevisionFailed",
                                                f'Revision "app-00002" failed with message: {message}.'),
                        "Ready": ("False", "RevisionMissing", 'Configuration "app" does not have any ready Revision.')},
                       latest_ready="")
    assert service_problem(service) == ("Revision app-00002 failed: Kubernetes refuses to create its instances: they "
                                        "would exceed the namespace's ResourceQuota small (CPU requests: each instance "
                                        "asks for 525m, more than the 100m allowed in all).")


def test_an_unschedulable_revision_in_the_services_list() -> None:
    """Knative fails a revision none of whose instances a node takes (reconcile_resources.go copies the pod's
    PodScheduled message); the list says it in the words of the details page, not the scheduler's, and with one full
    stop (the scheduler's message ends with one, and Knative's RevisionFailed adds another)."""
    message = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption " \
              "victims found for incoming pod."
    service = _service({"ConfigurationsReady": ("False", "RevisionFailed",
                                                f'Revision "app-00002" failed with message: {message}.'),
                        "Ready": ("False", "RevisionMissing", 'Configuration "app" does not have any ready Revision.')},
                       latest_ready="")
    assert service_problem(service) == ("Revision app-00002 failed: no node can run its instances: no node has enough "
                                        "CPU left for their requests.")
    other = _service({"ConfigurationsReady": ("False", "RevisionFailed",
                                              'Revision "app-00002" failed with message: Something else happened..'),
                      "Ready": ("False", "RevisionMissing", 'Configuration "app" does not have any ready Revision.')},
                     latest_ready="")
    assert service_problem(other) == "Revision app-00002 failed: Something else happened."


def test_no_diagnosis_unless_failed() -> None:
    assert diagnose(_revision(Ready=("True", "", ""))) is None
    assert diagnose(_revision(Ready=("Unknown", "Deploying", ""))) is None


@pytest.mark.parametrize(("pods", "status", "words", "tone"), [
    ([_pod("a", True), _pod("b", True)], {}, "2 running", "running"),
    ([_pod("a", True), _pod("b", False, waiting="ContainerCreating")], {}, "1 running, 1 starting", "running"),
    ([_pod("a", False, waiting="ContainerCreating")], {}, "starting", "starting"),
    ([_pod("a", False, restarts=5, waiting="CrashLoopBackOff", code=1)], {}, "crash-looping (5 restarts)", "failing"),
    # Exited once and not restarted yet: the kubelet's back-off before the first restart (restartCount 0).
    ([_pod("a", False, waiting="CrashLoopBackOff", code=1)], {}, "failing (CrashLoopBackOff)", "failing"),
    ([_pod("a", False, restarts=1, waiting="CrashLoopBackOff", code=1), _pod("b", False, waiting="CrashLoopBackOff",
                                                                             code=1)],
     {}, "crash-looping (1 restart)", "failing"),
    ([_pod("a", False, waiting="ImagePullBackOff")], {}, "not starting: the image cannot be pulled", "failing"),
    ([], {"Active": ("False", "NoTraffic", "The target is not receiving traffic."), "Ready": ("True", "", "")},
     "0 (scaled to zero; the next request starts one)", "idle"),
    ([], {"Active": ("Unknown", "Queued", ""), "Ready": ("True", "", "")}, "starting", "starting"),
    ([], {"Ready": ("False", "ContainerMissing", MISSING)}, "none", "none"),
    # Without the right to list pods: the revision's status.
    (None, {"Ready": ("True", "", ""), "Active": ("True", "", "")}, "2 running", "running"),
    (None, {"Ready": ("False", "ExitCode1", "x"), "ContainerHealthy": ("False", "ExitCode1", "x")}, "crash-looping",
     "failing"),
    (None, {"Ready": ("True", "", ""), "Active": ("False", "NoTraffic", "")},
     "0 (scaled to zero; the next request starts one)", "idle"),
])
def test_instances_in_words(pods: list[Instance] | None, status: dict[str, tuple[str, str, str]], words: str,
                            tone: str) -> None:
    actual = 2 if status.get("Active", ("",))[0] == "True" else 0
    described = describe(_revision(actual=actual, desired=actual, **status), pods)
    assert (described.words, described.tone) == (words, tone)


def _service(conditions: dict[str, tuple[str, str, str]], traffic: list[dict[str, Any]] | None = None,
             latest_ready: str = "app-00001", annotations: dict[str, str] | None = None) -> Any:
    return service_from({
        "metadata": {"name": "app", "generation": 2, "annotations": annotations or {}},
        "status": {"observedGeneration": 2, "latestCreatedRevisionName": "app-00002",
                   "latestReadyRevisionName": latest_ready, "traffic": traffic or [],
                   "conditions": [{"type": k, "status": s, "reason": r, "message": m, "lastTransitionTime":
                                   "2025-01-01T00:00:00Z"} for k, (s, r, m) in conditions.items()]},
    })


@pytest.mark.parametrize(("pod", "state"), [
    (_pod("a", True), "ready"),
    (_pod("a", False, waiting="ContainerCreating"), "starting (ContainerCreating)"),
    (_pod("a", False, restarts=3, waiting="CrashLoopBackOff", code=2), "waiting to restart (CrashLoopBackOff)"),
    (_pod("a", False, waiting="ErrImagePull"), "its image cannot be pulled (ErrImagePull)"),
])
def test_each_instance_in_words(pod: Instance, state: str) -> None:
    assert pod.state == state


def test_an_instance_is_read_from_the_container_the_revision_named() -> None:
    """Knative keeps the revision's container name (deploy.go); the serving one carries the `user-port` port."""
    pod = {"metadata": {"name": "app-00001-deployment-x", "labels": {"serving.knative.dev/revision": "app-00001"}},
           "spec": {"containers": [{"name": "app", "ports": [{"name": "user-port", "containerPort": 8080}]},
                                   {"name": "queue-proxy", "ports": [{"name": "queue-port", "containerPort": 8012}]}]},
           "status": {"phase": "Running", "containerStatuses": [
               {"name": "queue-proxy", "restartCount": 0, "state": {"running": {}}},
               {"name": "app", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 3}}}]}}
    instance = instance_from(pod)
    assert (instance.container, instance.restarts, instance.waiting, instance.exit_code) == \
        ("app", 4, "CrashLoopBackOff", 3)
    assert instance_from({"spec": {"containers": [{"name": "queue-proxy"}]}}).container == "user-container"
    assert instance_from({"spec": {"containers": [{}, {"name": "queue-proxy"}]}}).container == "user-container"


def test_a_failed_service_in_one_line() -> None:
    failed = f'Revision "app-00002" failed with message: {MISSING}.'
    service = _service({"Ready": ("False", "RevisionFailed", failed)})
    assert service_problem(service) == ("Revision app-00002 failed: the image registry.invalid/app:v1 could not be "
                                        "resolved. Traffic stays on app-00001.")
    # A first revision that fails: Ready carries the Route's RevisionMissing (propagated last by Knative's
    # Service reconciler), ConfigurationsReady the revision's failure, which is the one told.
    crash = _service({"ConfigurationsReady": ("False", "RevisionFailed",
                                              'Revision "app-00002" failed with message: Container failed with: x.'),
                      "Ready": ("False", "RevisionMissing", 'Configuration "app" does not have any ready Revision.')},
                     latest_ready="")
    assert service_problem(crash) == "Revision app-00002 failed: its container exits as soon as it starts."
    assert service_problem(_service({"Ready": ("True", "", "")})) == ""
    missing = _service({"Ready": ("False", "RevisionMissing", 'Configuration "app" does not have any ready Revision.')})
    assert service_problem(missing) == 'Configuration "app" does not have any ready Revision.'
    # Every entry pinned by name: the failure moves no traffic, so nothing is said about where traffic stays.
    pinned = replace(service, raw_spec_traffic=[{"revisionName": "app-00001", "percent": 100}])
    assert service_problem(pinned) == "Revision app-00002 failed: the image registry.invalid/app:v1 could not be " \
                                      "resolved."


@pytest.mark.parametrize(("status", "why", "sentence"), [
    ("False", "failed to become ready",
     "The split asked for is not in effect: it gives app-00002 50%, and app-00002 failed to become ready, so Knative "
     "still routes as below, as it did before. Give app-00002 0% in Split Traffic (or create a revision that fixes it "
     "and give the share to that one)."),
    ("False", "referenced in traffic not found",
     "The split asked for is not in effect: it gives app-00002 50%, and app-00002 does not exist, so Knative still "
     "routes as below, as it did before. Give app-00002 0% in Split Traffic (or give the share to a revision that "
     "exists)."),
    ("Unknown", "is not yet ready",
     "The split asked for takes effect once app-00002 is Ready (it gives app-00002 50%): until then Knative routes as "
     "below, as it did before."),
])
def test_a_split_the_route_cannot_apply_yet(status: str, why: str, sentence: str) -> None:
    """The Route's RevisionMissing messages (route/traffic/errors.go) on RoutesReady: the split asked for is held."""
    held = replace(_service({"RoutesReady": (status, "RevisionMissing", f'Revision "app-00002" {why}.')},
                            traffic=[{"latestRevision": False, "percent": 100, "revisionName": "app-00001"}]),
                   raw_spec_traffic=[{"revisionName": "app-00002", "percent": 50},
                                     {"revisionName": "app-00001", "percent": 50}])
    found = held_split(held)
    assert found is not None and found.sentence == sentence and found.failed == (status == "False")
    # In a traffic form, whose "Now" column shows what is routed and whose rows are the way out.
    assert found.in_form == sentence.replace("as below, as it did before", "as it did before, as the Now column "
                                             "shows").replace("in Split Traffic", "below")
    # A tag alone (no share) names the revision too: the way out is to remove its row.
    tagged = replace(held, raw_spec_traffic=[{"revisionName": "app-00002", "percent": 0, "tag": "next"},
                                             {"revisionName": "app-00001", "percent": 100}])
    named = held_split(tagged)
    assert named is not None
    if status == "False" and why.startswith("failed"):
        assert named.sentence == (
            "The split asked for is not in effect: it names app-00002, and app-00002 failed to become ready, so "
            "Knative still routes as below, as it did before. Remove app-00002's row in Split Traffic.")
        assert named.in_form == (
            "The split asked for is not in effect: it names app-00002, and app-00002 failed to become ready, so "
            "Knative still routes as it did before, as the Now column shows. Clear app-00002's tag below.")
    # Not held: the Route applied the split, or it waits for a Configuration, not for a revision the split names.
    assert held_split(_service({"RoutesReady": ("True", "", "")})) is None
    assert held_split(_service({"RoutesReady": ("Unknown", "RevisionMissing",
                                                'Configuration "app" is waiting for a Revision to become ready.')},
                               traffic=[{"latestRevision": True, "percent": 100, "revisionName": "app-00001"}])) is None


def test_rollout_progress_from_the_service_status() -> None:
    rolling = _service({"RoutesReady": ("Unknown", "RolloutInProgress", "A gradual rollout ..."),
                        "Ready": ("Unknown", "RolloutInProgress", "")},
                       traffic=[{"latestRevision": True, "percent": 66, "revisionName": "app-00001"},
                                {"latestRevision": True, "percent": 34, "revisionName": "app-00002"}],
                       annotations={"serving.knative.dev/rollout-duration": "20s"})
    progress = rollout_progress(rolling)
    assert progress is not None
    assert (progress.revision, progress.share, progress.goal, progress.others) == ("app-00002", 34, 100,
                                                                                 (("app-00001", 66),))
    assert (progress.started, progress.duration, progress.ends) == ("2025-01-01T00:00:00Z", 20, "2025-01-01T00:00:20Z")
    settled = _service({"RoutesReady": ("True", "", "")},
                       traffic=[{"latestRevision": True, "percent": 100, "revisionName": "app-00002"}])
    assert rollout_progress(settled) is None


def test_a_rollout_to_a_revision_made_mid_rollout_is_timed_from_when_that_revision_became_ready() -> None:
    """A revision made while another rolls out starts a new rollout to it (knative/serving rollout.go: stepConfig
    stamps a new StartTime when the goal's revision is not the last of the previous rollout), while RoutesReady stays
    Unknown/RolloutInProgress with its first transition time: the end is timed from when the new revision became
    Ready, the later of the two (found by a walkthrough: the page said done 10 s before it was, and for a revision made
    late in a long rollout it would have said so long before)."""
    rolling = _service({"RoutesReady": ("Unknown", "RolloutInProgress", "A gradual rollout ...")},
                       traffic=[{"latestRevision": True, "percent": 96, "revisionName": "app-00001"},
                                {"latestRevision": True, "percent": 2, "revisionName": "app-00002"},
                                {"latestRevision": True, "percent": 2, "revisionName": "app-00003"}],
                       annotations={"serving.knative.dev/rollout-duration": "300s"})
    third = revision_from({"metadata": {"name": "app-00003"}, "spec": {"containers": [{"image": "x"}]},
                           "status": {"conditions": [{"type": "Ready", "status": "True",
                                                      "lastTransitionTime": "2025-01-01T00:02:00Z"}]}})
    progress = rollout_progress(rolling, [third])
    assert progress is not None and progress.revision == "app-00003"
    assert (progress.started, progress.ends) == ("2025-01-01T00:02:00Z", "2025-01-01T00:07:00Z")
    # A revision that became Ready before the rollout began (the first of it) does not move its start.
    early = replace(third, raw_status={"conditions": [{"type": "Ready", "status": "True",
                                                        "lastTransitionTime": "2024-12-31T23:59:00Z"}]})
    assert rollout_progress(rolling, [early]).started == "2025-01-01T00:00:00Z"  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "seconds"), [("20s", 20), ("1m30s", 90), ("2m", 120), ("1h", 3600), ("", 0),
                                               ("soon", 0), ("20", 0), ("1.5s", 1)])
def test_seconds_of(text: str, seconds: int) -> None:
    assert seconds_of(text) == seconds


def test_the_wizards_rollout_request() -> None:
    assert rollout_request("", 0) is None
    assert rollout_request(" 20 ", 100) == 20
    for text in ("0", "-3", "1.5", "86401", "ten"):
        with pytest.raises(RolloutError, match="Enter whole seconds from 1 to 86400"):
            rollout_request(text, 100)
    with pytest.raises(RolloutError, match="the latest-revision row's share"):
        rollout_request("20", 0)


def test_no_share_for_a_revision_that_is_not_ready() -> None:
    failed = _revision("app-00002", Ready=("False", "ContainerMissing", MISSING))
    deploying = _revision("app-00003", Ready=("Unknown", "Deploying", ""))
    ready = _revision("app-00001", Ready=("True", "", ""))
    why = traffic.unready([failed, deploying, ready])
    assert set(why) == {"app-00002", "app-00003"}
    rows = [traffic.RowInput(traffic.NAMED, "app-00001", "50"), traffic.RowInput(traffic.NAMED, "app-00002", "50"),
            traffic.RowInput(traffic.NAMED, "app-00003", "0")]
    with pytest.raises(traffic.TrafficError) as refused:
        traffic.parse_rows(rows, "app", ["app-00001", "app-00002", "app-00003"], not_ready=why)
    assert refused.value.fields == {"percent-1": "app-00002 has failed (ContainerMissing), so it cannot take traffic: "
                                                 "give it 0%, and create a new revision that fixes it."}
    rows[1] = traffic.RowInput(traffic.NAMED, "app-00002", "0")
    rows[2] = traffic.RowInput(traffic.NAMED, "app-00003", "50")
    with pytest.raises(traffic.TrafficError) as refused:
        traffic.parse_rows(rows, "app", ["app-00001", "app-00002", "app-00003"], not_ready=why)
    assert refused.value.fields["percent-2"].startswith("app-00003 is not Ready yet, so it cannot take traffic")
    rows[2] = traffic.RowInput(traffic.NAMED, "app-00003", "0", tag="next")  # a tag without a share is fine
    rows[0] = traffic.RowInput(traffic.NAMED, "app-00001", "100")
    assert [r.percent for r in traffic.parse_rows(rows, "app", None, not_ready=why)] == [100, 0, 0]


# -- property-based: whatever the cluster or the user hands these rules ---------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner,
                                                                                max_size=3), max_leaves=12)
STATUS_KEYS = ["phase", "conditions", "containerStatuses", "state", "waiting", "running", "terminated", "lastState",
               "restartCount", "exitCode", "reason", "message", "ready", "name", "type", "status"]
SHAPED = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(
    ["user-container", "True", "False", "Running", "CrashLoopBackOff", "Ready"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(STATUS_KEYS), inner, max_size=4),
    max_leaves=16)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["metadata", "status", "spec"]), SHAPED | JSON, max_size=3))
def test_any_pod_is_an_instance_in_words(pod: dict[str, Any]) -> None:
    instance = instance_from(pod)
    described = describe(_revision(actual=1, desired=1), [instance])
    assert described.words and described.tone


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30) | st.sampled_from(["30", "30s", "1h2m", "-5", "1e9", "٣", "9" * 400]), st.integers(0, 100))
def test_any_rollout_text_is_whole_seconds_or_a_message(text: str, share: int) -> None:
    try:
        seconds = rollout_request(text, share)
    except RolloutError as error:
        assert str(error)
    else:
        assert seconds is None or 1 <= seconds <= 86400
    assert seconds_of(text) >= 0


@settings(max_examples=200, deadline=None)
@given(st.lists(JSON | st.dictionaries(st.sampled_from(["type", "reason", "message", "involvedObject", "count",
                                                         "lastTimestamp", "source", "metadata"]), JSON, max_size=5),
                max_size=4))
def test_any_events_are_listed_newest_first(events: list[Any]) -> None:
    assert all(view.about and view.kind for view in newest_first(events))


def test_a_traffic_entry_whose_revision_was_deleted() -> None:
    obj = {"metadata": {"name": "hw"}, "spec": {"traffic": [{"revisionName": "hw-00002", "percent": 100}]},
           "status": {"traffic": [{"revisionName": "hw-00001", "percent": 50, "tag": "old"},
                                  {"revisionName": "hw-00002", "percent": 50},
                                  {"revisionName": "hw-00003", "percent": 0, "tag": "candidate"},
                                  {"latestRevision": True, "revisionName": "hw-00009", "percent": 0}]}}
    found = deleted_entries(service_from(obj), {"hw-00002"})
    assert [d.sentence for d in found] == [
        "hw-00001 was deleted, but the split still names it (50%, tag old): give it 0% and remove its tag old in "
        "Split Traffic.",
        "hw-00003 was deleted, but the split still names it (tag candidate): remove its tag candidate in Split "
        "Traffic."]
    # The spec alone may name a revision about to be made: only what the Route applied counts.
    assert deleted_entries(service_from({**obj, "status": {}}), set()) == ()


TIMED_OUT = 'ReplicaSet "app-00002-deployment-6d4b9" has timed out progressing.'


def _unready_pod(name: str = "p", queue: str = "running", user_ready: bool = True) -> Instance:
    """A Knative pod whose container runs while queue-proxy, which runs its readiness probe, is not ready (`queue`
    "waiting": queue-proxy not started yet, as in an ordinary start)."""
    statuses = [{"name": "user-container", "ready": user_ready, "restartCount": 0, "state": {"running": {}}},
                {"name": "queue-proxy", "ready": False, "restartCount": 0,
                 "state": {"running": {}} if queue == "running" else {"waiting": {"reason": "ContainerCreating"}}}]
    return instance_from({"metadata": {"name": name, "labels": {"serving.knative.dev/revision": "app-00002"}},
                          "status": {"phase": "Running", "containerStatuses": statuses,
                                     "conditions": [{"type": "Ready", "status": "False"}]}})


def test_an_instance_whose_readiness_probe_does_not_pass() -> None:
    assert _unready_pod().probe_failing and _unready_pod().state == \
        "running, not ready (its readiness probe does not pass)"
    assert _unready_pod(user_ready=False).probe_failing  # an exec probe: the kubelet runs it on the container itself
    starting = _unready_pod(queue="waiting")  # queue-proxy not started yet: starting, nothing said about a probe
    assert not starting.probe_failing and starting.state == "starting"
    assert not _pod("ready", True).probe_failing and not _pod("crash", False, waiting="CrashLoopBackOff").probe_failing
    deploying = _revision(Ready=("Unknown", "Deploying", ""))
    assert describe(deploying, [_unready_pod()]).words == "running, not ready (its readiness probe does not pass)"
    assert describe(deploying, [_unready_pod()]).tone == "starting"
    failed = _revision(Ready=("False", "ProgressDeadlineExceeded", TIMED_OUT))
    assert describe(failed, [_unready_pod()]).tone == "failing"
    assert describe(deploying, [_unready_pod(), _unready_pod("q", queue="waiting")]).words == \
        "starting, running, not ready (its readiness probe does not pass)"


def _probed(probe: dict[str, Any] | None, annotations: dict[str, str] | None = None, port: int | None = None,
            **conditions: tuple[str, str, str]) -> Any:
    container: dict[str, Any] = {"image": "ghcr.io/x/app:v1"}
    if probe is not None:
        container["readinessProbe"] = probe
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    status = {"conditions": [{"type": k, "status": s, "reason": r, "message": m} for k, (s, r, m) in conditions.items()]}
    return revision_from({"metadata": {"name": "app-00002", "annotations": annotations or {}},
                          "spec": {"containers": [container]}, "status": status})


def test_a_revision_deploying_whose_probe_does_not_pass_is_said_so() -> None:
    revision = _probed(None, {"serving.knative.dev/progress-deadline": "90s"}, Ready=("Unknown", "Deploying", ""))
    found = not_ready(revision, [_unready_pod()])
    assert found is not None
    assert found.what == "Its container runs but does not pass its readiness probe (a TCP connection to port 8080)"
    assert found.todo == ("Knative sends it no requests until it does, and fails the revision if it has not within its "
                          "progress deadline (90s): check that the app listens on port 8080 (the PORT environment "
                          "variable Knative sets), or change the readiness probe's settings; its logs are below")
    assert not_ready(revision, [_unready_pod(queue="waiting")]) is None  # an ordinary start
    assert not_ready(revision, [_unready_pod(), _pod("ok", True)]) is None  # one serves: it becomes Ready
    assert not_ready(revision, []) is None
    assert not_ready(_probed(None, Ready=("True", "", "")), [_unready_pod()]) is None
    assert not_ready(_probed(None, Ready=("False", "ProgressDeadlineExceeded", TIMED_OUT)), [_unready_pod()]) is None


def test_the_progress_deadline_with_the_probe_that_never_passed() -> None:
    failed = {"Ready": ("False", "ProgressDeadlineExceeded", TIMED_OUT),
              "ResourcesAvailable": ("False", "ProgressDeadlineExceeded", TIMED_OUT)}
    probe = {"httpGet": {"path": "/ready", "port": 0}, "periodSeconds": 3}
    found = diagnose(_probed(probe, {"serving.knative.dev/progressDeadline": "5m"}, port=9000, **failed),
                     [_unready_pod()])
    assert found is not None
    assert found.what == ("The revision did not become ready within its progress deadline (5m): its container runs "
                          "but never passed its readiness probe (an HTTP GET of /ready on port 9000, every 3s)")
    assert found.todo == ("check that the app answers /ready on port 9000 with a status from 200 to 399, or change "
                          "the readiness probe's settings, with its logs below for why, then create a new revision")
    assert (found.reason, found.message) == ("ProgressDeadlineExceeded", TIMED_OUT)
    # No instance left to say why (Knative's autoscaler scales it to zero once it gives up): what to look at.
    gone = diagnose(_probed(None, **failed))
    assert gone is not None and gone.what == "The revision did not become ready within its progress deadline"
    assert "readiness probe failures" in gone.todo and "(a TCP connection to port 8080)" in gone.todo


@pytest.mark.parametrize(("probe", "port", "words", "check"), [
    (None, None, "a TCP connection to port 8080",
     "check that the app listens on port 8080 (the PORT environment variable Knative sets)"),
    ({"tcpSocket": {"port": 0}, "successThreshold": 1}, 3000, "a TCP connection to port 3000",
     "check that the app listens on port 3000 (the PORT environment variable Knative sets)"),
    ({"tcpSocket": {"port": 8081}}, None, "a TCP connection to port 8081", "check that the app listens on port 8081"),
    ({"httpGet": {"scheme": "HTTPS"}}, None, "an HTTPS GET of / on port 8080",
     "check that the app answers / on port 8080 with a status from 200 to 399"),
    ({"grpc": {"port": 9090}, "periodSeconds": 2}, None, "a gRPC health check on port 9090, every 2s",
     "check that the app serves the gRPC health service on port 9090"),
    ({"exec": {"command": ["cat", "/tmp/ready"]}}, None, "the command cat /tmp/ready",
     "check that the command cat /tmp/ready succeeds in the container"),
    ({"httpGet": {"path": "/h", "port": True}, "periodSeconds": "5"}, None, "an HTTP GET of /h on port 8080",
     "check that the app answers /h on port 8080 with a status from 200 to 399"),
    # Not the shapes the API server lets through, but what a page may still be given: read as far as they go.
    ({"exec": {"command": "cat"}}, 1, "the command (none)", "check that the command (none) succeeds in the container"),
])
def test_a_readiness_probe_in_words(probe: dict[str, Any] | None, port: int | None, words: str, check: str) -> None:
    container: dict[str, Any] = {"image": "x"}
    if probe is not None:
        container["readinessProbe"] = probe
    if port is not None:
        container["ports"] = [{"containerPort": port}] if port > 1 else port
    said = readiness_probe({"containers": [container]})
    assert (said.words, said.check) == (words, check)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["containers", "x"]), st.lists(st.dictionaries(
    st.sampled_from(["readinessProbe", "ports", "name", "image"]),
    st.dictionaries(st.sampled_from(["httpGet", "tcpSocket", "grpc", "exec", "periodSeconds", "path", "port",
                                     "command", "scheme"]), SHAPED | JSON, max_size=3) | SHAPED | JSON,
    max_size=3), max_size=2) | JSON, max_size=2))
def test_any_spec_has_a_readiness_probe_in_words(spec: dict[str, Any]) -> None:
    said = readiness_probe(spec)
    assert said.words and said.check.startswith("check that ")


def test_a_service_whose_revision_missed_its_progress_deadline_in_one_line() -> None:
    failed = f'Revision "app-00002" failed with message: {TIMED_OUT}.'
    service = _service({"Ready": ("False", "RevisionMissing", 'Configuration "app" does not have any ready Revision.'),
                        "ConfigurationsReady": ("False", "RevisionFailed", failed)}, latest_ready="")
    assert service_problem(service) == "Revision app-00002 failed: it did not become ready within its progress deadline."
    scaled = _service({"Ready": ("False", "RevisionFailed",
                                 'Revision "app-00002" failed with message: Initial scale was never achieved.')})
    assert service_problem(scaled) == ("Revision app-00002 failed: it did not become ready within its progress "
                                       "deadline. Traffic stays on app-00001.")


# kube-scheduler's FitError messages (pkg/scheduler/framework/types.go) with the preemption plugin's PostFilter part.
PREEMPTION = " preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."


@pytest.mark.parametrize(("message", "what", "todo"), [
    ("0/1 nodes are available: 1 Insufficient cpu." + PREEMPTION,
     "No node can run its instances: no node has enough CPU left for their requests", "lower the revision's CPU"),
    ("0/1 nodes are available: 1 Insufficient memory." + PREEMPTION,
     "No node can run its instances: no node has enough memory left for their requests",
     "lower the revision's memory"),
    ("0/1 nodes are available: 1 Too many pods." + PREEMPTION,
     "No node can run its instances: every node already runs as many pods as it takes",
     "lower the revision's min-scale"),
    ("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods." + PREEMPTION,
     "No node can run its instances: no node has enough CPU and memory left, and none takes more pods",
     "lower the revision's CPU and memory requests or its min-scale"),
])
def test_unschedulable_says_what_ran_out_and_what_to_do(message: str, what: str, todo: str) -> None:
    found = diagnose(_revision(min_scale="20", ResourcesAvailable=("False", "Unschedulable", message),
                               Ready=("False", "Unschedulable", message)))
    assert found is not None and found.what == what
    assert found.todo.startswith(todo)
    assert found.message == message  # shown behind the words
    # Seen in a walkthrough: min-scale 20 lowered to 3 in a new revision that then waited too, the node's pods held
    # by the first revision (never Ready): the advice must name the Service's older revisions, and when they let go.
    assert ("this Service's older revisions too: one that never became Ready keeps its instances until Knative scales "
            "it to zero, after its progress deadline") in found.todo


def _pending(name: str, message: str) -> Instance:
    return instance_from({"metadata": {"name": name}, "spec": {}, "status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}]}})


def test_instances_no_node_has_room_for_are_said_so() -> None:
    message = "0/1 nodes are available: 1 Too many pods." + PREEMPTION
    running = [_pod(f"r{i}", True) for i in range(3)]
    pending = [_pending(f"p{i}", message) for i in range(5)]
    deploying = _revision(min_scale="8", Ready=("Unknown", "Deploying", ""))
    words = describe(deploying, [*running, *pending])
    assert (words.words, words.tone) == ("3 running, 5 pending (no node takes more pods)", "starting")
    assert pending[0].state == "pending: no node takes more pods"
    only = describe(deploying, pending)
    assert (only.words, only.tone) == ("5 pending (no node takes more pods)", "failing")
    waiting = not_ready(deploying, [*running, *pending])
    assert waiting is not None
    assert waiting.what == "5 of its 8 instances wait for a node: every node already runs as many pods as it takes"
    assert "lower the revision's min-scale" in waiting.todo
    cpu = _pending("c", "0/1 nodes are available: 1 Insufficient cpu." + PREEMPTION)
    assert cpu.state == "pending: no node has enough CPU"
    one = not_ready(deploying, [cpu])
    assert one is not None and one.what.startswith("Its instance waits for a node: no node has enough CPU")


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_scheduler_message_is_read_without_failing(message: str) -> None:
    found = short_of(message)
    assert len(found) == len(set(found))
    assert all(name and not name.endswith((".", ",")) for name in found)
    assert no_room(message)
    why, todo = unschedulable_words(message)
    assert why and todo
    assert unschedulable_words(message, (("cpu", "1025m", "1"), ("memory", "1Gi", "")))[0]


def test_the_room_s_holders_are_named_with_how_many_instances_each() -> None:
    message = "0/1 nodes are available: 1 Too many pods." + PREEMPTION
    _, todo = unschedulable_words(message, (), (("app-00003", 1), ("app-00001", 4)))
    assert "this Service's other revisions too, which hold 1 instance of app-00003 and 4 of app-00001: one that " \
        "never became Ready keeps its instances" in todo
    assert "this Service's older revisions too: one that never" in unschedulable_words(message)[1]


def test_one_instance_of_several_waiting_for_a_node_waits() -> None:
    message = "0/1 nodes are available: 1 Too many pods." + PREEMPTION
    deploying = _revision(Ready=("Unknown", "Deploying", ""))
    waiting = not_ready(deploying, [*(_pod(f"r{i}", True) for i in range(3)), _pending("p", message)])
    assert waiting is not None and waiting.what.startswith("1 of its 4 instances waits for a node: ")


def test_the_advice_drops_older_revisions_known_to_hold_nothing_and_says_waiting_instances_start_by_themselves() -> None:
    message = "0/1 nodes are available: 1 Insufficient cpu." + PREEMPTION
    _, todo = unschedulable_words(message, (), (), waiting=True)
    assert "older revisions" not in todo and "other revisions" not in todo
    assert todo.endswith("; once there is room, the waiting instances start by themselves")
    assert unschedulable_words(message)[1].endswith(", then create a new revision")  # failed: scaled to zero


def test_a_failed_revision_whose_instances_wait_starts_by_itself_and_min_scale_only_when_it_has_one() -> None:
    """Knative marks a revision whose pods no node takes Ready=False (Unschedulable) at once, but its pods stay and
    start once there is room, until its progress deadline (found by a walkthrough: "then create a new revision" for
    one that started by itself 4 s later, and "lower the revision's min-scale" for one that set none)."""
    message = "0/1 nodes are available: 1 Too many pods." + PREEMPTION
    failed = _revision(ResourcesAvailable=("False", "Unschedulable", message), Ready=("False", "Unschedulable", message))
    waiting = diagnose(failed, [_pending("p0", message)])
    assert waiting is not None and waiting.todo.endswith("; once there is room, the waiting instances start by themselves")
    assert "min-scale" not in waiting.todo and "its kubelet's --max-pods, 110 by default" in waiting.todo
    gone = diagnose(failed, [])  # scaled to zero (or its pods not readable): only a new revision starts
    assert gone is not None and gone.todo.endswith(", then create a new revision")
    scaled = diagnose(_revision(min_scale="5", ResourcesAvailable=("False", "Unschedulable", message),
                                Ready=("False", "Unschedulable", message)), [_pending("p0", message)])
    assert scaled is not None and scaled.todo.startswith("lower the revision's min-scale (a new revision), ")
