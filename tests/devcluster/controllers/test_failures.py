"""Revisions that fail on the dev cluster, as Knative reports it (revision_lifecycle.go, configuration_lifecycle.go,
service_lifecycle.go, route_lifecycle.go): an image `devcluster-system/images` lists as unresolvable gets ContainerMissing
and no Deployment; one listed as failing crash-loops with ExitCode<N>; both propagate to the Configuration, the Service
and the Route, while traffic stays on the last good revision. Edits to the ConfigMap apply to new revisions only."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import DevClusterProcess, ksvc_manifest, wait_for

SERVING = "/apis/serving.knative.dev/v1/namespaces/{ns}/{plural}"
IMAGES = "/api/v1/namespaces/devcluster-system/configmaps/images"
GOOD = "ghcr.io/knative/helloworld-go:latest"


def _path(ns: str, plural: str, name: str = "") -> str:
    return SERVING.format(ns=ns, plural=plural) + (f"/{name}" if name else "")


def _get(cluster: DevClusterProcess, ns: str, plural: str, name: str) -> dict:
    return cluster.get(_path(ns, plural, name))


def _found(cluster: DevClusterProcess, ns: str, plural: str, name: str) -> dict | None:
    """The object, or None while it does not exist yet (a revision the controller has still to create)."""
    code, _, obj = cluster.request("GET", _path(ns, plural, name))
    if code == 404:
        return None
    assert code == 200, (code, obj)
    return obj


def _conditions(obj: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def _create(cluster: DevClusterProcess, ns: str, name: str, image: str, **extra: object) -> None:
    code, _, body = cluster.request("POST", _path(ns, "services"), ksvc_manifest(name, ns, image=image, **extra))
    assert code == 201, body


def _patch(cluster: DevClusterProcess, ns: str, name: str, body: dict) -> None:
    code, _, answer = cluster.request("PATCH", _path(ns, "services", name), body,
                                      content_type="application/merge-patch+json")
    assert code == 200, answer


def _image(cluster: DevClusterProcess, ns: str, name: str, image: str) -> None:
    _patch(cluster, ns, name, {"spec": {"template": {"spec": {"containers": [{"image": image}]}}}})


def _condition(cluster: DevClusterProcess, ns: str, plural: str, name: str, kind: str, status: str,
               timeout: float = 15) -> dict:
    return wait_for(lambda: (obj := _found(cluster, ns, plural, name)) and
                    _conditions(obj).get(kind, {}).get("status") == status and obj,
                    timeout=timeout, message=f"{plural}/{name} {kind}={status}")


@pytest.fixture
def images(devcluster: DevClusterProcess) -> Iterator[dict]:
    """The images ConfigMap, put back as it was after the test."""
    before = devcluster.get(IMAGES)["data"]

    def set_data(**data: str) -> None:
        code, _, body = devcluster.request("PATCH", IMAGES, {"data": data},
                                           content_type="application/merge-patch+json")
        assert code == 200, body

    yield {"set": set_data}
    code, _, body = devcluster.request("PATCH", IMAGES, {"data": {k: before.get(k) for k in ("unresolvable",
                                                                                               "failing", "pushed")}},
                                       content_type="application/merge-patch+json")
    assert code == 200, body


def _message(image: str, registry: str) -> str:
    return (f'Unable to fetch image "{image}": failed to resolve image to digest: Get "https://{registry}/v2/": '
            f"dial tcp: lookup {registry}: no such host")


def test_the_seeded_configmap_lists_the_invalid_domain(devcluster: DevClusterProcess) -> None:
    data = devcluster.get(IMAGES)["data"]
    assert data["unresolvable"] == "*.invalid/*\n" and data["failing"] == "" and data["pushed"] == ""
    assert data["unready"] == ""
    assert "PATTERN [EXIT_CODE]" in data["_example"] and "PATTERN [TIMES]" in data["_example"]
    assert "\nunready: |\n" in data["_example"] and "never passes its\n# readiness probe" in data["_example"]


def test_an_unresolvable_image_fails_with_knatives_conditions(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("f")
    image = "registry.invalid/app:v1"
    _create(devcluster, ns, "missing", image)
    revision = _condition(devcluster, ns, "revisions", "missing-00001", "Ready", "False")
    conds = _conditions(revision)
    message = _message(image, "registry.invalid")
    assert (conds["ContainerHealthy"]["reason"], conds["ContainerHealthy"]["message"]) == ("ContainerMissing", message)
    assert (conds["Ready"]["reason"], conds["Ready"]["message"]) == ("ContainerMissing", message)
    assert conds["ResourcesAvailable"]["status"] == "Unknown" and "reason" not in conds["ResourcesAvailable"]
    assert "containerStatuses" not in revision["status"]

    configuration = _condition(devcluster, ns, "configurations", "missing", "Ready", "False")
    ready = _conditions(configuration)["Ready"]
    assert (ready["reason"], ready["message"]) == \
        ("RevisionFailed", f'Revision "missing-00001" failed with message: {message}.')
    # The Service reconciler propagates the Configuration's Ready, then the Route's (service.go): the
    # Route's MarkFalse comes last, so a first revision that fails leaves Ready with the Route's reason
    # (as in knative/serving issues #11809 and #14000) and ConfigurationsReady with the revision's.
    service = wait_for(lambda: (obj := _found(devcluster, ns, "services", "missing")) and
                       _conditions(obj).get("RoutesReady", {}).get("status") == "False" and obj, timeout=15)
    assert (_conditions(service)["ConfigurationsReady"]["reason"], _conditions(service)["ConfigurationsReady"]["message"]) \
        == ("RevisionFailed", ready["message"])
    assert _conditions(service)["Ready"]["message"] == 'Configuration "missing" does not have any ready Revision.'
    route = _condition(devcluster, ns, "routes", "missing", "AllTrafficAssigned", "False")
    assert (_conditions(route)["AllTrafficAssigned"]["reason"], _conditions(route)["AllTrafficAssigned"]["message"]) == \
        ("RevisionMissing", 'Configuration "missing" does not have any ready Revision.')

    # No digest, so no Deployment; the failure is told as Knative's reconciler tells it, in events.
    assert devcluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments")["items"] == []
    events = wait_for(lambda: (items := devcluster.get(f"/api/v1/namespaces/{ns}/events")["items"]) and
                      {(e["involvedObject"]["kind"], e["type"], e["reason"], e["message"]) for e in items}, timeout=5)
    assert ("Revision", "Warning", "InternalError", message) in events
    assert ("Configuration", "Warning", "LatestCreatedFailed", 'Latest created revision "missing-00001" has failed') \
        in events


def test_traffic_stays_on_the_last_good_revision(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("f")
    _create(devcluster, ns, "stay", GOOD)
    _condition(devcluster, ns, "services", "stay", "Ready", "True")
    _image(devcluster, ns, "stay", "registry.invalid/app:v2")
    _condition(devcluster, ns, "revisions", "stay-00002", "Ready", "False")
    service = _condition(devcluster, ns, "services", "stay", "ConfigurationsReady", "False")
    assert service["status"]["latestCreatedRevisionName"] == "stay-00002"
    assert service["status"]["latestReadyRevisionName"] == "stay-00001"
    assert service["status"]["traffic"] == [{"latestRevision": True, "percent": 100, "revisionName": "stay-00001"}]
    with httpx.Client(base_url=devcluster.gateway_url, trust_env=False, timeout=10) as gateway:
        response = gateway.get("/", headers={"Host": f"stay.{ns}.example.com"})
        assert response.headers["x-knative-revision"] == "stay-00001"

    # Pinning a share on the failed revision: the Route says why and keeps serving the last good split.
    _patch(devcluster, ns, "stay", {"spec": {"traffic": [{"revisionName": "stay-00001", "percent": 50},
                                                         {"revisionName": "stay-00002", "percent": 50}]}})
    route = _condition(devcluster, ns, "routes", "stay", "AllTrafficAssigned", "False")
    assert _conditions(route)["AllTrafficAssigned"]["message"] == 'Revision "stay-00002" failed to become ready.'
    assert route["status"]["traffic"] == [{"latestRevision": True, "percent": 100, "revisionName": "stay-00001"}]
    service = _condition(devcluster, ns, "services", "stay", "RoutesReady", "False")
    assert _conditions(service)["RoutesReady"]["reason"] == "RevisionMissing"


def test_a_failing_image_crash_loops(devcluster: DevClusterProcess, images: dict) -> None:
    ns = devcluster.new_namespace("f")
    images["set"](failing=f"ghcr.io/{ns}/crash:* 4\n")
    _create(devcluster, ns, "crash", f"ghcr.io/{ns}/crash:v1")
    revision = _condition(devcluster, ns, "revisions", "crash-00001", "Ready", "False")
    healthy = _conditions(revision)["ContainerHealthy"]
    assert healthy["reason"] == "ExitCode4"
    assert healthy["message"].startswith("Container failed with: ")
    assert "exiting with code 4" in healthy["message"]
    assert _conditions(revision)["ResourcesAvailable"]["reason"] == "Deploying"
    configuration = _condition(devcluster, ns, "configurations", "crash", "Ready", "False")
    assert _conditions(configuration)["Ready"]["message"] == \
        f'Revision "crash-00001" failed with message: {healthy["message"]}.'

    def crash_looping() -> dict | None:
        pods = devcluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]
        user = [s for p in pods for s in p["status"].get("containerStatuses", []) if s["name"] == "user-container"]
        return user[0] if user and user[0]["restartCount"] >= 2 and \
            user[0]["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff" else None

    status = wait_for(crash_looping, timeout=20, message="CrashLoopBackOff with two restarts")
    assert status["lastState"]["terminated"]["exitCode"] == 4
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert status["ready"] is False and status["started"] is False
    assert status["state"]["waiting"]["message"].startswith("back-off ")
    [pod] = devcluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]
    assert pod["status"]["phase"] == "Running"
    # EnsureImageExists runs on every start (image_manager.go): each restart says the image is there again, the same
    # Event each time, counted (client-go's event correlator), not a new one.
    said = [(e["reason"], e["message"], e["count"]) for e in devcluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
            if e["involvedObject"]["name"] == pod["metadata"]["name"]]
    [started] = [count for reason, message, count in said if (reason, message) == ("Started", "Started container "
                                                                                   "user-container")]
    [pulled] = [count for reason, message, count in said if reason == "Pulled" and message.startswith(
        f'Container image "ghcr.io/{ns}/crash') and message.endswith('" already present on machine')]
    assert started >= 3 and pulled == started, said
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")
    # Its last words, where `kubectl logs --previous` finds them.
    code, _, text = devcluster.request("GET", f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}/log"
                                              "?container=user-container&previous=true")
    assert code == 200 and "helloworld: exiting with code 4" in text, text
    # PodLogOptions are checked as kube-apiserver checks them, before it looks for the pod.
    log = f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}/log?container=user-container&previous=true"
    code, _, text = devcluster.request("GET", log + "&tailLines=1&limitBytes=1000")
    assert code == 200 and text.count("\n") == 1 and "exiting with code 4" in text, text
    for query, message in [
        ("tailLines=-1", "tailLines: Invalid value: -1: must be greater than or equal to 0"),
        ("limitBytes=0", "limitBytes: Invalid value: 0: must be greater than 0"),
        ("sinceSeconds=0", "sinceSeconds: Invalid value: 0: must be greater than 0"),
        # field.NewPath("") prints as "[]" (apimachinery field/path.go).
        ("sinceSeconds=5&sinceTime=2025-01-01T00:00:00Z",
         "[]: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"),
    ]:
        code, _, status = devcluster.request("GET", f"/api/v1/namespaces/{ns}/pods/nothing/log?{query}")
        assert code == 422 and status["message"] == f'PodLogOptions "nothing" is invalid: {message}', status
    assert status["details"]["causes"][0]["field"] == "[]"


def test_a_named_container_crash_loops_and_logs_under_its_own_name(devcluster: DevClusterProcess, images: dict) -> None:
    """Knative keeps the name the revision gives its container (deploy.go makeContainer(rev.Spec.GetContainer()));
    `user-container` is only the default for a container without one."""
    ns = devcluster.new_namespace("f")
    images["set"](failing=f"ghcr.io/{ns}/crash:* 3\n")
    for name, image in (("named", f"ghcr.io/{ns}/crash:v1"), ("works", GOOD)):
        manifest = ksvc_manifest(name, ns, image=image)
        manifest["spec"]["template"]["spec"]["containers"][0]["name"] = "app"
        code, _, body = devcluster.request("POST", _path(ns, "services"), manifest)
        assert code == 201, body
    revision = _condition(devcluster, ns, "revisions", "named-00001", "Ready", "False")
    assert _conditions(revision)["ContainerHealthy"]["reason"] == "ExitCode3"

    def pod_of(revision: str) -> dict | None:
        pods = devcluster.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=serving.knative.dev/revision={revision}")
        return pods["items"][0] if pods["items"] else None

    def crash_looping() -> dict | None:
        pod = pod_of("named-00001")
        states = {s["name"]: s for s in (pod or {}).get("status", {}).get("containerStatuses", [])}
        app = states.get("app", {})
        return pod if app.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff" else None

    pod = wait_for(crash_looping, timeout=20, message="the container named app crash-looping")
    assert {s["name"] for s in pod["status"]["containerStatuses"]} == {"app", "queue-proxy"}
    log = f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}/log?container=app&previous=true"
    code, _, text = devcluster.request("GET", log)
    assert code == 200 and "helloworld: exiting with code 3" in text, text

    _condition(devcluster, ns, "revisions", "works-00001", "Ready", "True")
    with httpx.Client(base_url=devcluster.gateway_url, trust_env=False, timeout=30) as gateway:
        assert gateway.get("/", headers={"Host": f"works.{ns}.example.com"}).status_code == 200
    pod = pod_of("works-00001")
    assert pod is not None
    code, _, text = devcluster.request("GET", f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}/log?container=app")
    assert code == 200 and "helloworld: starting server..." in text and \
        text.endswith("helloworld: received a request\n"), text


def test_configmap_edits_apply_to_revisions_created_afterwards(devcluster: DevClusterProcess, images: dict) -> None:
    ns = devcluster.new_namespace("f")
    image = f"ghcr.io/{ns}/app:v1"
    _create(devcluster, ns, "later", image)
    _condition(devcluster, ns, "revisions", "later-00001", "Ready", "True")
    images["set"](unresolvable=f"*.invalid/*\nghcr.io/{ns}/*\n")
    _patch(devcluster, ns, "later", {"spec": {"template": {"metadata": {"annotations": {"x": "2"}}}}})
    _condition(devcluster, ns, "revisions", "later-00002", "Ready", "False")
    assert _conditions(_get(devcluster, ns, "revisions", "later-00001"))["Ready"]["status"] == "True"

    images["set"](unresolvable="*.invalid/*\n")
    _patch(devcluster, ns, "later", {"spec": {"template": {"metadata": {"annotations": {"x": "3"}}}}})
    _condition(devcluster, ns, "revisions", "later-00003", "Ready", "True")
    # The failure decided for -00002 stays, whatever reconciles since.
    failed = _get(devcluster, ns, "revisions", "later-00002")
    assert _conditions(failed)["ContainerHealthy"]["reason"] == "ContainerMissing"
    assert _conditions(failed)["Ready"]["status"] == "False"


def test_a_tag_pushed_again_resolves_new_revisions_to_another_digest(devcluster: DevClusterProcess,
                                                                    images: dict) -> None:
    ns = devcluster.new_namespace("f")
    image = f"ghcr.io/{ns}/app:latest"
    _create(devcluster, ns, "moved", image)
    _condition(devcluster, ns, "revisions", "moved-00001", "Ready", "True")

    def digest(name: str) -> str:
        return _get(devcluster, ns, "revisions", name)["status"]["containerStatuses"][0]["imageDigest"]

    first = digest("moved-00001")
    # Lines it cannot read are skipped (logged); the one it can applies to the revisions made afterwards.
    images["set"](pushed=f"ghcr.io/{ns}/app:latest x\nghcr.io/{ns}/app:latest -1\nghcr.io/{ns}/app:* 2\n")
    _patch(devcluster, ns, "moved", {"spec": {"template": {"metadata": {"annotations": {"x": "2"}}}}})
    _condition(devcluster, ns, "revisions", "moved-00002", "Ready", "True")
    second = digest("moved-00002")
    assert first.startswith(f"ghcr.io/{ns}/app@sha256:") and second.startswith(f"ghcr.io/{ns}/app@sha256:")
    assert second != first and digest("moved-00001") == first  # a revision keeps the digest it was made with
    deployment = devcluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/moved-00002-deployment")
    assert [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]
            if c["name"] == "user-container"] == [second]
    images["set"](pushed="")
    _patch(devcluster, ns, "moved", {"spec": {"template": {"metadata": {"annotations": {"x": "3"}}}}})
    _condition(devcluster, ns, "revisions", "moved-00003", "Ready", "True")
    assert digest("moved-00003") == first  # the same image and pushes, the same digest


def test_a_pod_whose_image_cannot_be_pulled_backs_off_as_the_kubelet_does(devcluster: DevClusterProcess) -> None:
    """kubelet ≥ 1.32 (pkg/kubelet/images/image_manager.go, kuberuntime_container.go): Pulling, then Failed with the
    pull's error and `Error: ErrImagePull`; during the back-off ImagePullBackOff, its message carrying the pull's
    error; once the back-off ends (0.5 s here, doubling), another pull."""
    ns = devcluster.new_namespace("f")
    image = "registry.invalid/app:v1"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nopull", "namespace": ns},
           "spec": {"containers": [{"name": "app", "image": image}]}}
    code, _, body = devcluster.request("POST", f"/api/v1/namespaces/{ns}/pods", pod)
    assert code == 201, body

    def events() -> list[dict]:
        found = devcluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
        return [e for e in found if e["involvedObject"]["name"] == "nopull" and e["source"]["component"] == "kubelet"]

    def pulled_twice() -> list[dict] | None:
        found = events()
        return found if sum(e["count"] for e in found if e["reason"] == "Pulling") >= 2 else None

    # The second pull is the first's Event again, counted (client-go's event correlator), as each of the others is
    # once the back-off cycles.
    found = wait_for(pulled_twice, timeout=20, message="a second pull after the back-off")
    said = [(e["type"], e["reason"], e["message"]) for e in found]
    error = f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": not found'
    assert said == [
        ("Normal", "Pulling", f'Pulling image "{image}"'),
        ("Warning", "Failed", f'Failed to pull image "{image}": {error}'),
        ("Warning", "Failed", "Error: ErrImagePull"),
        ("Normal", "BackOff", f'Back-off pulling image "{image}"'),
        ("Warning", "Failed", "Error: ImagePullBackOff"),
    ], said
    assert found[0]["count"] >= 2 and found[0]["lastTimestamp"] >= found[0]["firstTimestamp"], found[0]

    def backing_off() -> dict | None:
        [status] = devcluster.get(f"/api/v1/namespaces/{ns}/pods/nopull")["status"]["containerStatuses"]
        return status if status["state"].get("waiting", {}).get("reason") == "ImagePullBackOff" else None

    status = wait_for(backing_off, timeout=20, message="ImagePullBackOff")
    assert status["state"]["waiting"]["message"] == f'Back-off pulling image "{image}": ErrImagePull: {error}'
    assert status["ready"] is False and status["restartCount"] == 0
    # kubectl logs says which of the two it is (the back-off cycles between them).
    code, _, answer = devcluster.request("GET", f"/api/v1/namespaces/{ns}/pods/nopull/log")
    assert code == 400 and answer["message"] in (
        'container "app" in pod "nopull" is waiting to start: trying and failing to pull image',
        'container "app" in pod "nopull" is waiting to start: image can\'t be pulled'), answer
