"""A followed pod log whose client went away ends quietly: the dev cluster notices the closed connection and stops
following (kube-apiserver's proxied stream ends with its client), rather than keeping the stream open until the
next line or the pod's end and then logging an internal error for the write that failed."""

from __future__ import annotations

import http.client
import time

from tests.support import DevClusterProcess, ksvc_manifest, wait_for


def _running_pod(devcluster: DevClusterProcess, ns: str) -> str:
    def ready() -> str | None:
        for pod in devcluster.get(f"/api/v1/namespaces/{ns}/pods")["items"]:
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            if statuses and all(s.get("ready") for s in statuses):
                return str(pod["metadata"]["name"])
        return None

    return wait_for(ready, timeout=20, message="a ready pod")


def test_a_follow_whose_client_left_ends_without_an_internal_error(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("follow")
    code, _, body = devcluster.request("POST", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services",
                                       ksvc_manifest("lines", ns))
    assert code == 201, body
    pod = _running_pod(devcluster, ns)
    host, port = devcluster.api_url.removeprefix("https://").rsplit(":", 1)
    connection = http.client.HTTPSConnection(host.strip("[]"), int(port), context=devcluster.tls(), timeout=10)
    path = f"/api/v1/namespaces/{ns}/pods/{pod}/log?container=user-container&follow=true"
    connection.request("GET", path, headers={"Authorization": f"Bearer {devcluster.token}"})
    response = connection.getresponse()
    assert response.status == 200
    assert b"helloworld: starting server..." in response.readline()
    connection.close()  # the client goes away while the log is followed
    time.sleep(2.5)  # the server has noticed by now (it looks every second)
    code, _, body = devcluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{pod}?gracePeriodSeconds=0")
    assert code == 200, body
    time.sleep(1)
    assert f"internal error serving GET /api/v1/namespaces/{ns}/pods/" not in devcluster.log()
