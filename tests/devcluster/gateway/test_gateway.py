"""The dev cluster's ingress gateways over real HTTP (httpx): choosing the route by Host (external,
tag, cluster-local and short forms, any port), cluster-local hosts only on the internal gateway (404 on
the external one, as Kourier), the `Hello <TARGET>!` answer with `X-Knative-Revision`, 404 for unknown
hosts and 503 for routes without a ready revision, traffic splits (50/50 over 2,000 requests, 100/0,
tags), following a traffic change within 100 ms, and HTTP/2 cleartext for an `h2c` revision."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.support import DevClusterProcess, ksvc_manifest, wait_for

SERVING = "/apis/serving.knative.dev/v1/namespaces/{ns}/{plural}"
IMAGE = "ghcr.io/knative/helloworld-go:latest"


def _ns(cluster: DevClusterProcess) -> str:
    return cluster.new_namespace("g")


def _path(ns: str, plural: str, name: str = "") -> str:
    path = SERVING.format(ns=ns, plural=plural)
    return f"{path}/{name}" if name else path


def _create(cluster: DevClusterProcess, ns: str, body: dict, plural: str = "services") -> None:
    code, _, obj = cluster.request("POST", _path(ns, plural), body)
    assert code == 201, obj


def _patch(cluster: DevClusterProcess, ns: str, name: str, body: dict) -> None:
    code, _, obj = cluster.request("PATCH", _path(ns, "services", name), body,
                                   content_type="application/merge-patch+json")
    assert code == 200, obj


def _conditions(obj: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def _settled(cluster: DevClusterProcess, ns: str, name: str, plural: str = "services") -> dict:
    def check() -> dict | None:
        obj = cluster.get(_path(ns, plural, name))
        if (obj.get("status") or {}).get("observedGeneration") != obj["metadata"]["generation"]:
            return None
        return obj if _conditions(obj).get("Ready", {}).get("status") == "True" else None

    return wait_for(check, message=f"{plural} {name} Ready")


def _two_revisions(cluster: DevClusterProcess, ns: str, name: str, traffic: list[dict]) -> dict:
    """`<name>-00001` says `Hello one!`, `<name>-00002` `Hello two!`; then the given traffic."""
    _create(cluster, ns, ksvc_manifest(name, ns, env={"TARGET": "one"}))
    _settled(cluster, ns, name)
    _patch(cluster, ns, name, {"spec": {"template": {"spec": {"containers": [
        {"image": IMAGE, "env": [{"name": "TARGET", "value": "two"}]}]}}}})
    _settled(cluster, ns, name)
    _patch(cluster, ns, name, {"spec": {"traffic": traffic}})
    return _settled(cluster, ns, name)


@pytest.fixture
def client(devcluster: DevClusterProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=devcluster.gateway_url, trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
def internal(devcluster: DevClusterProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=devcluster.internal_gateway_url, trust_env=False, timeout=10) as client:
        yield client


def _call(client: httpx.Client, host: str, path: str = "/") -> httpx.Response:
    return client.get(path, headers={"Host": host})


def _revisions(client: httpx.Client, host: str, count: int) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(count):
        response = _call(client, host)
        assert response.status_code == 200, response.text
        revision = response.headers["x-knative-revision"]
        assert response.text == ("Hello one!\n" if revision.endswith("-00001") else "Hello two!\n"), revision
        seen[revision] += 1
    return seen


def test_host_header_picks_the_route(devcluster: DevClusterProcess, client: httpx.Client,
                                     internal: httpx.Client) -> None:
    ns = _ns(devcluster)
    _create(devcluster, ns, ksvc_manifest("web", ns, env={"TARGET": "web"}))
    _create(devcluster, ns, ksvc_manifest("api", ns, env={"TARGET": "api"}))
    _create(devcluster, ns, ksvc_manifest("plain", ns))
    for name in ("web", "api", "plain"):
        _settled(devcluster, ns, name)
    public = {"web": [f"web.{ns}.example.com", f"web.{ns}.example.com:8080", f"WEB.{ns}.Example.com"],
              "api": [f"api.{ns}.example.com"]}
    local = {"web": [f"web.{ns}.svc.cluster.local", f"web.{ns}.svc.cluster.local:80", f"web.{ns}", f"web.{ns}.svc"],
             "api": [f"api.{ns}:80", f"api.{ns}.svc.cluster.local"]}
    # The internal gateway serves every host of a route; the external one only its public hosts.
    for gateway, hosts in ((client, public), (internal, public), (internal, local)):
        for name, forms in hosts.items():
            for host in forms:
                response = _call(gateway, host, "/some/path?q=1")
                assert response.status_code == 200, (host, response.text)
                assert response.text == f"Hello {name}!\n", host
                assert response.headers["x-knative-revision"] == f"{name}-00001", host
                assert response.headers["content-type"].startswith("text/plain"), host
    for forms in local.values():
        for host in forms:
            response = _call(client, host)
            assert response.status_code == 404, host
            assert response.text == f"no Knative route serves the host {host!r} on the external gateway: it is " \
                "cluster-local\n"
    # Without TARGET the sample greets the World.
    response = _call(client, f"plain.{ns}.example.com")
    assert (response.status_code, response.text) == (200, "Hello World!\n")
    assert client.post("/", headers={"Host": f"api.{ns}.example.com"}, content=b"x" * 100_000).text == "Hello api!\n"


def test_unknown_host_is_404_with_a_one_line_reason(devcluster: DevClusterProcess, client: httpx.Client) -> None:
    ns = _ns(devcluster)
    for host in (f"nope.{ns}.example.com", "example.com", "127.0.0.1"):
        response = _call(client, host)
        assert response.status_code == 404, host
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text.endswith("\n") and response.text.count("\n") == 1, response.text
        assert host in response.text
        assert "x-knative-revision" not in response.headers

    # A deleted Service's host goes away with it.
    _create(devcluster, ns, ksvc_manifest("brief", ns))
    _settled(devcluster, ns, "brief")
    assert _call(client, f"brief.{ns}.example.com").status_code == 200
    code, _, body = devcluster.request("DELETE", _path(ns, "services", "brief"))
    assert code == 200, body
    wait_for(lambda: _call(client, f"brief.{ns}.example.com").status_code == 404, message="brief gone")
    assert _call(client, f"brief.{ns}").status_code == 404


def test_route_without_a_ready_revision_is_503_with_the_reason(devcluster: DevClusterProcess,
                                                               client: httpx.Client) -> None:
    ns = _ns(devcluster)
    _create(devcluster, ns, ksvc_manifest("broken", ns, traffic=[{"revisionName": "broken-00009", "percent": 100}]))
    route = {"apiVersion": "serving.knative.dev/v1", "kind": "Route", "metadata": {"name": "lost", "namespace": ns},
             "spec": {"traffic": [{"configurationName": "ghost", "percent": 100}]}}
    _create(devcluster, ns, route, plural="routes")
    cases = {
        f"broken.{ns}.example.com": 'Revision "broken-00009" referenced in traffic not found.',
        f"lost.{ns}.example.com": 'Configuration "ghost" referenced in traffic not found.',
    }
    def assigned(name: str) -> str:
        """The route's AllTrafficAssigned message ("" while the Service's route is not created yet)."""
        code, _, route = devcluster.request("GET", _path(ns, "routes", name))
        assert code in (200, 404), route
        return _conditions(route).get("AllTrafficAssigned", {}).get("message", "") if code == 200 else ""

    for name, reason in (("broken", cases[f"broken.{ns}.example.com"]), ("lost", cases[f"lost.{ns}.example.com"])):
        wait_for(lambda n=name, r=reason: assigned(n) == r, message=f"route {name} fails")
    for host, reason in cases.items():
        response = _call(client, host)
        assert response.status_code == 503, (host, response.text)
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text.endswith("\n") and response.text.count("\n") == 1, response.text
        assert reason in response.text, response.text
        assert "x-knative-revision" not in response.headers


def test_deleted_revision_still_in_the_last_good_traffic_is_503(devcluster: DevClusterProcess,
                                                               client: httpx.Client) -> None:
    ns = _ns(devcluster)
    _two_revisions(devcluster, ns, "lapse", [{"revisionName": "lapse-00001", "percent": 100}])
    assert _call(client, f"lapse.{ns}.example.com").headers["x-knative-revision"] == "lapse-00001"
    code, _, body = devcluster.request("DELETE", _path(ns, "revisions", "lapse-00001"))
    assert code == 200, body
    wait_for(lambda: _call(client, f"lapse.{ns}.example.com").status_code == 503, message="503")
    response = _call(client, f"lapse.{ns}.example.com")
    assert response.text.endswith("\n") and response.text.count("\n") == 1, response.text
    assert "lapse-00001" in response.text


def test_private_service_answers_only_on_the_internal_gateway(devcluster: DevClusterProcess, client: httpx.Client,
                                                               internal: httpx.Client) -> None:
    ns = _ns(devcluster)
    manifest = ksvc_manifest("priv", ns, env={"TARGET": "inside"})
    manifest["metadata"]["labels"] = {"networking.knative.dev/visibility": "cluster-local"}
    _create(devcluster, ns, manifest)
    _settled(devcluster, ns, "priv")
    for host in (f"priv.{ns}.svc.cluster.local", f"priv.{ns}.svc", f"priv.{ns}"):
        assert _call(internal, host).text == "Hello inside!\n", host
        assert _call(client, host).status_code == 404, host
    assert _call(client, f"priv.{ns}.example.com").status_code == 404
    assert _call(internal, f"priv.{ns}.example.com").status_code == 404

    _patch(devcluster, ns, "priv", {"metadata": {"labels": {"networking.knative.dev/visibility": None}}})
    wait_for(lambda: _call(client, f"priv.{ns}.example.com").status_code == 200, message="public host")
    assert _call(internal, f"priv.{ns}.example.com").status_code == 200
    assert _call(internal, f"priv.{ns}.svc.cluster.local").status_code == 200
    assert _call(client, f"priv.{ns}.svc.cluster.local").status_code == 404


def test_fifty_fifty_split_over_2000_requests(devcluster: DevClusterProcess, client: httpx.Client) -> None:
    ns = _ns(devcluster)
    _two_revisions(devcluster, ns, "half", [{"revisionName": "half-00001", "percent": 50},
                                            {"latestRevision": True, "percent": 50}])
    seen = _revisions(client, f"half.{ns}.example.com", 2000)
    assert set(seen) == {"half-00001", "half-00002"}
    for count in seen.values():
        assert 0.45 <= count / 2000 <= 0.55, seen


def test_hundred_zero_sends_everything_to_one(devcluster: DevClusterProcess, client: httpx.Client) -> None:
    ns = _ns(devcluster)
    _two_revisions(devcluster, ns, "all", [{"revisionName": "all-00001", "percent": 100},
                                           {"latestRevision": True, "percent": 0}])
    assert _revisions(client, f"all.{ns}.example.com", 300) == Counter({"all-00001": 300})


def test_tags_route_to_their_revision(devcluster: DevClusterProcess, client: httpx.Client,
                                      internal: httpx.Client) -> None:
    ns = _ns(devcluster)
    service = _two_revisions(devcluster, ns, "tg", [{"revisionName": "tg-00001", "percent": 100, "tag": "old"},
                                                    {"latestRevision": True, "percent": 0, "tag": "new"}])
    assert [t["url"] for t in service["status"]["traffic"]] == [f"http://old-tg.{ns}.example.com",
                                                               f"http://new-tg.{ns}.example.com"]
    for host in (f"new-tg.{ns}.example.com", f"new-tg.{ns}.example.com:8080"):
        assert _revisions(client, host, 50) == Counter({"tg-00002": 50}), host
    for host in (f"new-tg.{ns}.svc.cluster.local", f"new-tg.{ns}"):
        assert _revisions(internal, host, 50) == Counter({"tg-00002": 50}), host
        assert _call(client, host).status_code == 404, host
    assert _revisions(client, f"old-tg.{ns}.example.com", 50) == Counter({"tg-00001": 50})
    assert _revisions(client, f"tg.{ns}.example.com", 100) == Counter({"tg-00001": 100})
    assert _call(client, f"gone-tg.{ns}.example.com").status_code == 404

    # Dropping a tag drops its host.
    _patch(devcluster, ns, "tg", {"spec": {"traffic": [{"revisionName": "tg-00001", "percent": 100, "tag": "old"}]}})
    _settled(devcluster, ns, "tg")
    wait_for(lambda: _call(client, f"new-tg.{ns}.example.com").status_code == 404, message="new tag gone")


def test_gateway_follows_a_traffic_patch_within_100ms(devcluster: DevClusterProcess, client: httpx.Client) -> None:
    ns = _ns(devcluster)
    host = f"flip.{ns}.example.com"
    # Both revisions routed (the new one by a tag) and kept at one instance: what is timed is the gateway following
    # the new split, not a cold start.
    manifest = ksvc_manifest("flip", ns, env={"TARGET": "one"})
    manifest["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/min-scale": "1"}}
    _create(devcluster, ns, manifest)
    _settled(devcluster, ns, "flip")
    _patch(devcluster, ns, "flip", {"spec": {"template": {"spec": {"containers": [
        {"image": IMAGE, "env": [{"name": "TARGET", "value": "two"}]}]}}, "traffic": [
        {"revisionName": "flip-00001", "percent": 100}, {"latestRevision": True, "percent": 0, "tag": "next"}]}})
    _settled(devcluster, ns, "flip")
    assert _revisions(client, f"next-flip.{ns}.example.com", 5) == Counter({"flip-00002": 5})
    assert _revisions(client, host, 20) == Counter({"flip-00001": 20})

    _patch(devcluster, ns, "flip", {"spec": {"traffic": [{"revisionName": "flip-00002", "percent": 100}]}})
    patched = time.monotonic()
    wait_for(lambda: _call(client, host).headers.get("x-knative-revision") == "flip-00002", timeout=5, interval=0,
             message="the new split")
    elapsed = time.monotonic() - patched
    assert elapsed < 0.1, f"the gateway took {elapsed * 1000:.0f} ms to follow the new traffic"
    assert _revisions(client, host, 100) == Counter({"flip-00002": 100})


def test_h2c_revision_answers_over_http2_cleartext(devcluster: DevClusterProcess) -> None:
    ns = _ns(devcluster)
    manifest = ksvc_manifest("grpc", ns, env={"TARGET": "h2c"})
    manifest["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "h2c", "containerPort": 8080}]
    _create(devcluster, ns, manifest)
    service = _settled(devcluster, ns, "grpc")
    assert service["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"] == "h2c"
    # http1=False with http2=True: prior-knowledge HTTP/2 on an http:// URL, no Upgrade dance.
    with httpx.Client(base_url=devcluster.gateway_url, http1=False, http2=True, trust_env=False, timeout=10) as h2:
        response = h2.get("/", headers={"Host": f"grpc.{ns}.example.com"})
        assert response.http_version == "HTTP/2"
        assert (response.status_code, response.text) == (200, "Hello h2c!\n")
        assert response.headers["x-knative-revision"] == "grpc-00001"
        missing = h2.get("/", headers={"Host": f"nope.{ns}.example.com"})
        assert (missing.http_version, missing.status_code) == ("HTTP/2", 404)
