"""The Knative docs' helloworld-go walk-through as a kubectl 1.27 and 1.33 session on a private dev
cluster: `kubectl apply` the Service, `kubectl get ksvc` shows it Ready at its example.com URL,
`kubectl get rev` lists `helloworld-go-00001` with the printer columns, and the gateway answers
`Hello Go Sample v1!` for the Service's host."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import KUBECTL_VERSIONS, DevClusterProcess, start_cluster, wait_for

# As in the Knative docs ("Deploying your first Knative Service"), with the namespace spelled out.
HELLOWORLD_GO = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: helloworld-go
  namespace: default
spec:
  template:
    spec:
      containers:
        - image: ghcr.io/knative/helloworld-go:latest
          env:
            - name: TARGET
              value: "Go Sample v1"
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[DevClusterProcess]:
    """A cluster of its own: the walk-through uses the `default` namespace and fixed names."""
    cluster = start_cluster(tmp_path / "cluster", "--revision-start-delay", "0.3")
    yield cluster
    assert cluster.stop() == 0, cluster.log()[-4000:]


def table(output: str) -> list[dict[str, str]]:
    """kubectl's table as rows keyed by header; cells are cut at the header's column starts."""
    lines = output.rstrip("\n").splitlines()
    headers = re.split(r" {2,}", lines[0].strip())
    starts, position = [], 0
    for header in headers:
        starts.append(lines[0].index(header, position))
        position = starts[-1] + len(header)
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    return [{h: line[a:b].strip() for h, (a, b) in zip(headers, bounds, strict=True)} for line in lines[1:]]


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_helloworld_go(cluster: DevClusterProcess, version: str, tmp_path: Path) -> None:
    manifest = tmp_path / "service.yaml"
    manifest.write_text(HELLOWORLD_GO)
    applied = cluster.kubectl(version, "apply", "-f", str(manifest)).stdout.strip()
    assert applied == "service.serving.knative.dev/helloworld-go created"
    waited = cluster.kubectl(version, "wait", "--for=condition=Ready", "ksvc/helloworld-go", "--timeout=30s")
    assert waited.stdout.strip() == "service.serving.knative.dev/helloworld-go condition met"

    services = cluster.kubectl(version, "get", "ksvc").stdout
    assert services.splitlines()[0].split() == ["NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"]
    assert table(services) == [{
        "NAME": "helloworld-go", "URL": "http://helloworld-go.default.example.com",
        "LATESTCREATED": "helloworld-go-00001", "LATESTREADY": "helloworld-go-00001", "READY": "True",
        "REASON": "",
    }]

    # The revision reports its replica once the route's traffic reaches it.
    expected = {"NAME": "helloworld-go-00001", "CONFIG NAME": "helloworld-go", "GENERATION": "1", "READY": "True",
                "REASON": "", "ACTUAL REPLICAS": "1", "DESIRED REPLICAS": "1"}
    revisions = wait_for(lambda: (out := cluster.kubectl(version, "get", "rev").stdout) and
                         table(out) == [expected] and out, message="kubectl get rev")
    assert list(table(revisions)[0]) == ["NAME", "CONFIG NAME", "GENERATION", "READY", "REASON", "ACTUAL REPLICAS",
                                         "DESIRED REPLICAS"]

    url = cluster.kubectl(version, "get", "ksvc", "helloworld-go", "-o", "jsonpath={.status.url}").stdout
    host = httpx.URL(url).host
    with httpx.Client(base_url=cluster.gateway_url, trust_env=False, timeout=10) as client:
        response = client.get("/", headers={"Host": host})
    assert response.status_code == 200
    assert response.text == "Hello Go Sample v1!\n"
    assert response.headers["x-knative-revision"] == "helloworld-go-00001"
