"""deploy/: the kustomize base and its overlays apply to a cluster (`kubectl apply --dry-run=server -k`, kubectl 1.27
and 1.33, against the dev cluster: every object decoded, validated, admitted and not stored), and the Deployment is
the hardened one the README describes (numeric non-root UID, read-only root filesystem, probes, resources)."""

from __future__ import annotations

import pytest
import yaml

from tests.support import KUBECTL_VERSIONS, ROOT, DevClusterProcess

NAMESPACE = "knative-console"


def _ensure_namespace(cluster: DevClusterProcess) -> None:
    code, _, body = cluster.request("POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
    assert code in (201, 409), body  # a real dry run also needs the namespace to exist already


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_the_base_applies_as_a_server_dry_run(devcluster: DevClusterProcess, version: str) -> None:
    _ensure_namespace(devcluster)
    out = devcluster.kubectl(version, "apply", "--dry-run=server", "-k", str(ROOT / "deploy")).stdout
    for line in ("serviceaccount/knative-console created (server dry run)",
                 "clusterrole.rbac.authorization.k8s.io/knative-console created (server dry run)",
                 "role.rbac.authorization.k8s.io/knative-console-gateway created (server dry run)",
                 "rolebinding.rbac.authorization.k8s.io/knative-console-config created (server dry run)",
                 "deployment.apps/knative-console created (server dry run)",
                 "service/knative-console created (server dry run)"):
        assert line in out, out
    code, _, _ = devcluster.request("GET", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/knative-console")
    assert code == 404  # a dry run stores nothing


@pytest.mark.parametrize("overlay", ["proxy", "kubeconfig"])
def test_the_overlays_apply_as_a_server_dry_run(devcluster: DevClusterProcess, overlay: str) -> None:
    _ensure_namespace(devcluster)
    out = devcluster.kubectl(KUBECTL_VERSIONS[-1], "apply", "--dry-run=server", "-k",
                             str(ROOT / "deploy" / "overlays" / overlay)).stdout
    assert "deployment.apps/knative-console created (server dry run)" in out, out
    if overlay == "kubeconfig":
        assert "clusterrolebinding.rbac.authorization.k8s.io/knative-console created (server dry run)" in out


def test_the_deployment_is_hardened() -> None:
    deployment = yaml.safe_load((ROOT / "deploy" / "base" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    (console,) = pod["containers"]
    assert console["securityContext"]["readOnlyRootFilesystem"] is True
    assert console["securityContext"]["allowPrivilegeEscalation"] is False
    assert console["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert console["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert console["resources"]["requests"] and console["resources"]["limits"]
    assert console["args"][:2] == ["--auth", "token"]
    assert pod["serviceAccountName"] == "knative-console"
