"""deploy/: the kustomize base and its overlays apply to a cluster (`kubectl apply --dry-run=server -k`, kubectl 1.27
and 1.33, against the dev cluster: every object decoded, validated, admitted and not stored), and the Deployment is
the hardened one the README describes (numeric non-root UID, read-only root filesystem, probes, resources)."""

from __future__ import annotations

import re

import pytest
import yaml

from app.cli import SHUTDOWN_SECONDS
from tests.support import KUBECTL_VERSIONS, ROOT, DevClusterProcess

NAMESPACE = "knative-console"


def _ensure_namespace(cluster: DevClusterProcess) -> None:
    code, _, body = cluster.request("POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
    assert code in (201, 409), body  # a real dry run also needs the namespace to exist already


def _applied(out: str, what: str) -> bool:
    """kubectl's line for an object of a dry run (created, or unchanged/configured where it exists already)."""
    return re.search(rf"^{re.escape(what)} (created|unchanged|configured) \(server dry run\)$", out, re.M) is not None


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_the_base_applies_as_a_server_dry_run(devcluster: DevClusterProcess, version: str) -> None:
    _ensure_namespace(devcluster)
    name = f"dry-run-{version.replace('.', '-')}"
    manifests = devcluster.kubectl(version, "kustomize", str(ROOT / "deploy")).stdout.replace(
        "name: knative-console\n  namespace: knative-console\nspec:\n  replicas", f"name: {name}\n  namespace: "
        "knative-console\nspec:\n  replicas")
    assert name in manifests
    out = devcluster.kubectl(version, "apply", "--dry-run=server", "-f", "-", input=manifests).stdout
    for what in ("serviceaccount/knative-console", "clusterrole.rbac.authorization.k8s.io/knative-console",
                 "role.rbac.authorization.k8s.io/knative-console-gateway",
                 "rolebinding.rbac.authorization.k8s.io/knative-console-config", f"deployment.apps/{name}",
                 "service/knative-console"):
        assert _applied(out, what), out
    assert devcluster.kubectl(version, "apply", "--dry-run=server", "-k", str(ROOT / "deploy")).returncode == 0
    code, _, _ = devcluster.request("GET", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}")
    assert code == 404  # a dry run stores nothing


@pytest.mark.parametrize("overlay", ["proxy", "kubeconfig"])
def test_the_overlays_apply_as_a_server_dry_run(devcluster: DevClusterProcess, overlay: str) -> None:
    _ensure_namespace(devcluster)
    out = devcluster.kubectl(KUBECTL_VERSIONS[-1], "apply", "--dry-run=server", "-k",
                             str(ROOT / "deploy" / "overlays" / overlay)).stdout
    assert _applied(out, "deployment.apps/knative-console"), out
    if overlay == "kubeconfig":
        assert _applied(out, "clusterrolebinding.rbac.authorization.k8s.io/knative-console"), out


def test_the_deployment_is_hardened() -> None:
    deployment = yaml.safe_load((ROOT / "deploy" / "base" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    (console,) = pod["containers"]
    assert console["securityContext"]["readOnlyRootFilesystem"] is True
    assert console["securityContext"]["allowPrivilegeEscalation"] is False
    assert console["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert console["readinessProbe"]["httpGet"]["path"] == "/livez"  # not the cluster's: tests/web/test_health.py
    assert console["resources"]["requests"] and console["resources"]["limits"]
    assert console["args"][:2] == ["--auth", "token"]
    assert pod["serviceAccountName"] == "knative-console"


def test_a_replica_is_taken_out_of_the_service_before_it_stops() -> None:
    """SIGTERM closes the console's port at once (its live pages end, the browsers reconnect); a Service keeps sending
    to a deleted pod for a moment, so a preStop pause comes first, and the pause and the console's own shutdown fit
    in the grace period (found by a walkthrough: a reconnect meeting a closed port)."""
    pod = yaml.safe_load((ROOT / "deploy" / "base" / "deployment.yaml").read_text())["spec"]["template"]["spec"]
    (console,) = pod["containers"]
    command = console["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and len(command) == 2
    pause = float(command[1])
    assert pause >= 3
    assert pause + SHUTDOWN_SECONDS < pod.get("terminationGracePeriodSeconds", 30)
