"""Initial scale 0 against the dev cluster, as Knative allows it: the revision annotation
`autoscaling.knative.dev/initial-scale: "0"` is refused with Knative's message unless knative-serving/config-autoscaler
has `allow-zero-initial-scale: "true"` (its webhook reads the current config-autoscaler, max-scale-limit too); with it,
the revision is Ready with no instance (Active=False, NoTraffic, as Knative's KPA reports it) until a request through
the gateway starts one. config-autoscaler's own `initial-scale: "0"` does the same for every new revision. Each test
puts back the keys of config-autoscaler it changed: the session's other tests share the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

from tests.support import KUBECTL_VERSIONS, DevClusterProcess, ksvc_manifest, wait_for

SERVICES = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"
CONFIG_AUTOSCALER = "/api/v1/namespaces/knative-serving/configmaps/config-autoscaler"
ZERO = {"autoscaling.knative.dev/initial-scale": "0"}
# knative/serving pkg/apis/autoscaling/annotation_validation.go, validateInitialScale, through the webhook's denial.
REFUSED = ('admission webhook "validation.webhook.serving.knative.dev" denied the request: validation failed: '
           "invalid value: 0: spec.template.metadata.annotations.autoscaling.knative.dev/initial-scale=0 not allowed "
           "by cluster")


@contextmanager
def autoscaler_config(cluster: DevClusterProcess, **data: str) -> Iterator[None]:
    """config-autoscaler with these keys set, and afterwards as it was (a key it did not have removed again)."""
    before = cluster.get(CONFIG_AUTOSCALER).get("data") or {}
    cluster.configure_autoscaler(**data)
    try:
        yield
    finally:
        restored = {key: before.get(key) for key in data}  # None: a merge patch removes the key
        code, _, body = cluster.request("PATCH", CONFIG_AUTOSCALER, {"data": restored},
                                        content_type="application/merge-patch+json")
        assert code == 200, body


def _manifest(ns: str, name: str, annotations: dict[str, str]) -> dict:
    manifest = ksvc_manifest(name, ns, env={"TARGET": name})
    if annotations:
        manifest["spec"]["template"]["metadata"] = {"annotations": annotations}
    return manifest


def _create(cluster: DevClusterProcess, ns: str, name: str, annotations: dict[str, str]) -> tuple[int, dict]:
    code, _, body = cluster.request("POST", SERVICES.format(ns=ns), _manifest(ns, name, annotations))
    return code, body


def _conditions(obj: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}


def _revision(cluster: DevClusterProcess, ns: str, name: str) -> dict:
    code, _, body = cluster.request("GET", f"/apis/serving.knative.dev/v1/namespaces/{ns}/revisions/{name}")
    assert code in (200, 404), body
    return body if code == 200 else {}


def _pods(cluster: DevClusterProcess, ns: str, revision: str) -> list[dict]:
    return cluster.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=serving.knative.dev/revision%3D{revision}")["items"]


def _ready_without_instances(cluster: DevClusterProcess, ns: str, name: str) -> dict:
    """The Service's first revision once Ready, checked to have started no instance, as Knative reports it."""
    revision = wait_for(lambda: (r := _revision(cluster, ns, f"{name}-00001")) and
                        _conditions(r).get("Ready", {}).get("status") == "True" and r, message=f"{name} Ready")
    conditions = _conditions(revision)
    assert (conditions["ResourcesAvailable"]["status"], conditions["ContainerHealthy"]["status"]) == ("True", "True")
    # kpa.go computeActiveCondition: with an initial scale of 0 the PodAutoscaler is inactive from the start.
    active = conditions["Active"]
    assert (active["status"], active["reason"], active["message"]) == \
        ("False", "NoTraffic", "The target is not receiving traffic.")
    assert revision["status"]["actualReplicas"] == 0
    assert _pods(cluster, ns, f"{name}-00001") == []
    deployment = cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}-00001-deployment")
    assert deployment["spec"]["replicas"] == 0  # Knative's MakeDeployment: the initial scale
    service = wait_for(lambda: (s := cluster.get(SERVICES.format(ns=ns) + f"/{name}")) and
                       _conditions(s).get("Ready", {}).get("status") == "True" and s, message=f"ksvc {name} Ready")
    assert service["status"]["latestReadyRevisionName"] == f"{name}-00001"
    return revision


def _cold_start(cluster: DevClusterProcess, ns: str, name: str) -> None:
    """A request through the gateway starts the first instance and is answered by it."""
    with httpx.Client(base_url=cluster.gateway_url, trust_env=False, timeout=30) as gateway:
        response = gateway.get("/", headers={"Host": f"{name}.{ns}.example.com"})
    assert (response.status_code, response.text) == (200, f"Hello {name}!\n")
    revision = wait_for(lambda: (r := _revision(cluster, ns, f"{name}-00001")) and
                        _conditions(r)["Active"]["status"] == "True" and r["status"]["actualReplicas"] == 1 and r,
                        message=f"{name} active with one instance")
    assert revision["status"]["desiredReplicas"] == 1
    assert len(_pods(cluster, ns, f"{name}-00001")) == 1


def test_zero_initial_scale_is_refused_unless_config_autoscaler_allows_it(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("z")
    with autoscaler_config(devcluster, **{"allow-zero-initial-scale": "false"}):
        code, body = _create(devcluster, ns, "refused", ZERO)
        assert (code, body["reason"], body["message"]) == (400, "BadRequest", REFUSED)
        # The alias is refused the same way, under the name it was given.
        code, body = _create(devcluster, ns, "alias", {"autoscaling.knative.dev/initialScale": "0"})
        assert (code, body["message"]) == (400, REFUSED.replace("initial-scale=0", "initialScale=0"))
        assert devcluster.get(SERVICES.format(ns=ns))["items"] == []  # nothing written

    with autoscaler_config(devcluster, **{"allow-zero-initial-scale": "true"}):
        code, body = _create(devcluster, ns, "zero", ZERO)
        assert code == 201, body
        _ready_without_instances(devcluster, ns, "zero")
        _cold_start(devcluster, ns, "zero")

    # Allowed no more: a new revision with the annotation is refused again (the stored one stays as it is).
    code, _, body = devcluster.request(
        "PATCH", SERVICES.format(ns=ns) + "/zero",
        {"spec": {"template": {"metadata": {"annotations": {**ZERO, "v": "2"}}}}},
        content_type="application/merge-patch+json")
    assert (code, body["message"]) == (400, REFUSED)


def test_kubectl_is_told_why_and_applies_once_allowed(devcluster: DevClusterProcess, tmp_path: Path) -> None:
    ns = devcluster.new_namespace("z")
    path = tmp_path / "zero.yaml"
    path.write_text(yaml.safe_dump(_manifest(ns, "applied", ZERO)))
    version = KUBECTL_VERSIONS[-1]
    with autoscaler_config(devcluster, **{"allow-zero-initial-scale": "false"}):
        refused = devcluster.kubectl(version, "apply", "-f", str(path), check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error from server (BadRequest): ")
    assert REFUSED in refused.stderr
    with autoscaler_config(devcluster, **{"allow-zero-initial-scale": "true"}):
        applied = devcluster.kubectl(version, "apply", "-f", str(path))
    assert applied.stdout.strip() == "service.serving.knative.dev/applied created"
    _ready_without_instances(devcluster, ns, "applied")


def test_config_autoscalers_own_zero_initial_scale(devcluster: DevClusterProcess) -> None:
    """What bench/console.py relies on to make thousands of Services without Pods."""
    ns = devcluster.new_namespace("z")
    with autoscaler_config(devcluster, **{"initial-scale": "0", "allow-zero-initial-scale": "true"}):
        code, body = _create(devcluster, ns, "quiet", {})
        assert code == 201, body
        _ready_without_instances(devcluster, ns, "quiet")
        # A revision's own initial-scale still wins over the ConfigMap's.
        code, body = _create(devcluster, ns, "one", {"autoscaling.knative.dev/initial-scale": "1"})
        assert code == 201, body
        one = wait_for(lambda: (r := _revision(devcluster, ns, "one-00001")) and
                       _conditions(r).get("Ready", {}).get("status") == "True" and r, message="one Ready")
        assert one["status"]["actualReplicas"] == 1
    _cold_start(devcluster, ns, "quiet")


def test_max_scale_limit_of_config_autoscaler_is_enforced(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("z")
    # max-scale-limit comes with a max-scale within it, or config-autoscaler is not valid and is not taken up.
    with autoscaler_config(devcluster, **{"max-scale-limit": "10", "max-scale": "10"}):
        code, body = _create(devcluster, ns, "wide", {"autoscaling.knative.dev/max-scale": "11"})
        assert (code, body["message"]) == (400, (
            'admission webhook "validation.webhook.serving.knative.dev" denied the request: validation failed: '
            "expected 1 <= 11 <= 10: spec.template.metadata.annotations.autoscaling.knative.dev/max-scale"))
        code, body = _create(devcluster, ns, "narrow", {"autoscaling.knative.dev/max-scale": "10"})
        assert code == 201, body
    code, body = _create(devcluster, ns, "wide", {"autoscaling.knative.dev/max-scale": "11"})
    assert code == 201, body  # no limit once the ConfigMap sets none
