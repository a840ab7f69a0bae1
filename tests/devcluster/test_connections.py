"""What the dev cluster's two listeners accept before any handler runs: the API answers only the names it is
reached by (its bound address, loopback, `--advertise-host`) and the gateway only Knative hosts and its own
address, so a DNS-rebinding page gets a 400 and nothing is written; and 300 connections that never finish their
request headers (slowloris), or never even finish the API's TLS handshake, are closed within the header timeout,
while real requests keep working."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import DevClusterProcess, closed_by_peer, hold_connections, ksvc_manifest, wait_for

HELD = 300
KSVC = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterProcess]:
    args = ["--revision-start-delay", "0", "--header-timeout", "1", "--advertise-host", "devcluster.test"]
    cluster = DevClusterProcess(Path(tmp_path_factory.mktemp("connections")), args, connect_host="127.0.0.1").start()
    yield cluster
    assert cluster.stop() == 0, cluster.log()[-3000:]


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_the_api_answers_only_its_own_names(cluster: DevClusterProcess) -> None:
    port = _port(cluster.api_url)
    ns = cluster.new_namespace("hosts")
    with httpx.Client(base_url=cluster.api_url, trust_env=False, timeout=10, verify=cluster.tls(),
                      headers=cluster.auth) as http:
        for host in ("127.0.0.1", f"127.0.0.1:{port}", "localhost", f"LOCALHOST:{port}", f"[::1]:{port}", "[::1]",
                     "devcluster.test", f"devcluster.test:{port}", "localhost."):
            assert http.get("/readyz", headers={"Host": host}).text == "ok", host
        for host in ("rebind.evil.example", f"rebind.evil.example:{port}", "127.0.0.2", "localhost:http", "[::2]",
                     "127.0.0.1.evil.example"):
            response = http.post(KSVC.format(ns=ns), json=ksvc_manifest("rebound", ns), headers={"Host": host})
            status = response.json()
            assert (response.status_code, status["kind"], status["reason"]) == (400, "Status", "BadRequest"), host
            assert status["message"].startswith(f'the Host header "{host}" is not an address of this server')
            assert "--advertise-host" in status["message"]
        assert http.get(KSVC.format(ns=ns) + "/rebound").status_code == 404  # nothing was written


def test_the_gateway_answers_knative_hosts_and_its_own_address(cluster: DevClusterProcess) -> None:
    ns = cluster.new_namespace("gw")
    code, _, body = cluster.request("POST", KSVC.format(ns=ns), ksvc_manifest("hi", ns, env={"TARGET": "gateway"}))
    assert code == 201, body
    port = _port(cluster.gateway_url)
    with httpx.Client(base_url=cluster.gateway_url, trust_env=False, timeout=10) as gateway:
        wait_for(lambda: gateway.get("/", headers={"Host": f"hi.{ns}.example.com"}).status_code == 200,
                 message="the route")
        assert gateway.get("/", headers={"Host": f"hi.{ns}.example.com:{port}"}).text == "Hello gateway!\n"
        with httpx.Client(base_url=cluster.internal_gateway_url, trust_env=False, timeout=10) as internal:
            for host in (f"hi.{ns}.example.com", f"hi.{ns}.svc.cluster.local", f"hi.{ns}"):
                assert internal.get("/", headers={"Host": host}).text == "Hello gateway!\n", host
        for host in (f"nope.{ns}.example.com", "nope.other", "x.y.svc", "127.0.0.1", f"localhost:{port}",
                     "devcluster.test", "[::1]"):
            response = gateway.get("/", headers={"Host": host})
            assert (response.status_code, response.text) == (404, f"no Knative route serves the host {host!r}\n")
        for host in ("rebind.evil.example", "evil.example.org:80", "a.b.c", "-x.y", "127.0.0.2"):
            response = gateway.get("/", headers={"Host": host})
            assert response.status_code == 400, host
            assert response.text.startswith(f"the gateway does not serve the host {host!r}")


@pytest.mark.parametrize("listener", ["api", "api-handshake", "gateway"])
def test_connections_that_never_finish_their_headers_are_closed(cluster: DevClusterProcess, listener: str) -> None:
    url = cluster.gateway_url if listener == "gateway" else cluster.api_url
    partial = b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    if listener == "api-handshake":  # connected, and not a byte of the TLS handshake sent
        held = hold_connections(_port(url), HELD, b"")
    else:
        held = hold_connections(_port(url), HELD, partial, cluster.tls() if listener == "api" else None)
    started = time.monotonic()
    try:
        open_ones = list(held)
        while open_ones and time.monotonic() - started < 30:
            open_ones = [sock for sock in open_ones if not closed_by_peer(sock)]
            time.sleep(0.1)
        assert open_ones == [], f"{len(open_ones)} of {HELD} held connections still open"
    finally:
        for sock in held:
            sock.close()
    with httpx.Client(trust_env=False, timeout=10, verify=cluster.tls()) as http:
        assert http.get(cluster.api_url + "/readyz").text == "ok"
        assert http.get(cluster.gateway_url + "/", headers={"Host": "127.0.0.1"}).status_code == 404
