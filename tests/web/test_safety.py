"""What the review found, one test each: the Host allow-list (DNS rebinding), security headers on error pages,
form attributes that are real attributes, errors inside a dialog, a namespace that does not exist, links only for
http(s), and a cluster that does not answer during a POST (everything typed kept, a create that landed found)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import httpx

from app.main import create_app
from app.settings import Settings
from app.web.render import templates
from app.web.security import COOKIE, token_for
from tests.support import start_cluster
from tests.web.conftest import KSVC, SECRET, Console, form_fields, form_values
from tests.web.test_writes import _create_form, split_path, wizard_path

HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


async def test_unknown_hosts_get_400_before_any_handler(console: Console) -> None:
    ns = console.namespace()
    rebound = await console.post(f"/namespaces/{ns}/services", _create_form("rebound"),
                                 headers={"Host": "rebind.evil.example", "Origin": "http://rebind.evil.example"})
    assert rebound.status_code == 400 and "does not answer to this host name" in rebound.text
    assert all(h in rebound.headers for h in HEADERS)
    assert (await console.get("/namespaces/default/services", headers={"Host": "evil.example:8000"})).status_code == 400
    assert console.cluster.get(KSVC.format(ns=ns))["items"] == []
    for probe in ("/healthz", "/livez", "/metrics"):  # kubelet and Prometheus ask by the pod's IP
        assert (await console.get(probe, headers={"Host": "10.0.0.7:8000"})).status_code == 200, probe


async def test_default_hosts_and_the_opt_out(console: Console) -> None:
    settings = Settings(kubeconfig=str(console.cluster.kubeconfig), host="127.0.0.1")
    assert settings.hosts == {"127.0.0.1", "localhost", "[::1]"}
    assert Settings(host="::1").hosts == {"[::1]", "localhost", "127.0.0.1"}
    assert Settings(allowed_hosts="Console.Example.com, other").hosts == {"console.example.com", "other"}
    assert Settings(allowed_hosts="*").hosts == frozenset()
    for base, code in (("http://localhost:8000", 200), ("http://[::1]:8000", 200), ("http://console.test", 400)):
        app = create_app(settings)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=base) as http:
            assert (await http.get("/namespaces/default/services")).status_code == code, base


async def test_error_pages_carry_the_security_headers(console: Console) -> None:
    for path, code in (("/no/such/page", 404), ("/namespaces/Bad_Name/services", 404),
                       ("/namespaces/default/services/nothing-here", 404), ("/namespaces/default/services?start=x", 400)):
        response = await console.get(path)
        assert response.status_code == code, path
        assert all(h in response.headers for h in HEADERS), (path, response.headers)
    refused = await console.post("/namespaces/default/services", {}, csrf=False)
    assert refused.status_code == 403 and all(h in refused.headers for h in HEADERS)


async def test_form_attributes_are_attributes(console: Console) -> None:
    page = await console.get("/namespaces/default/services/new")
    assert "&#34;" not in re.sub(r'value="[^"]*"', "", page.text)
    name = re.search(r'<input id="f-name"[^>]*>', page.text).group(0)
    assert 'maxlength="63"' in name and " required" in name and 'spellcheck="false"' in name
    assert 'autocomplete="off"' in name
    port = re.search(r'<input id="f-port"[^>]*>', page.text).group(0)
    assert 'min="1"' in port and 'max="65535"' in port


async def test_errors_in_a_dialog_stay_in_the_dialog(console: Console) -> None:
    ns = console.namespace()
    dialog = {"HX-Request": "true", "HX-Target": "dialog"}
    gone = await console.get(split_path(ns, "deleted-meanwhile"), headers=dialog)
    assert gone.status_code == 404 and "<html" not in gone.text and 'class="dialog-body"' in gone.text
    assert '<h2 id="dialog-title">Service not found</h2>' in gone.text and "data-close-dialog" in gone.text
    poll = await console.get(f"/namespaces/{ns}/services/deleted-meanwhile?partial=live", headers={"HX-Request": "true"})
    assert poll.status_code == 404 and poll.headers["HX-Reswap"] == "none"  # a refresh never swaps in an error page


async def test_a_namespace_that_does_not_exist_is_a_404(console: Console) -> None:
    for path in ("/namespaces/no-such-namespace/services", "/namespaces/no-such-namespace/services/new"):
        page = await console.get(path)
        assert page.status_code == 404, path
        assert 'There is no namespace &#34;no-such-namespace&#34; in this cluster.' in page.text
    assert (await console.get(f"/namespaces/{console.namespace()}/services")).status_code == 200


def test_only_http_urls_become_links() -> None:
    link = templates().env.get_template("_macros.html").module.link  # type: ignore[attr-defined]
    assert str(link("http://hello.default.example.com")) == \
        '<a href="http://hello.default.example.com" rel="noopener noreferrer">http://hello.default.example.com</a>'
    assert str(link("HTTPS://x.example")).startswith('<a href="HTTPS://x.example"')
    for url in ("javascript:alert(1)", "data:text/html,<b>x</b>", "//evil.example", "ftp://x"):
        assert "<a" not in str(link(url)) and "href" not in str(link(url)), url


async def test_cluster_down_during_a_post_keeps_everything(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "c", "--revision-start-delay", "0.1")
    try:
        code, _, _ = cluster.request("POST", KSVC.format(ns="default"), {
            "apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "kept"},
            "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest"}]}}}})
        assert code == 201
        app = create_app(Settings(kubeconfig=str(cluster.kubeconfig), secret_key=SECRET, request_timeout=2,
                                  allowed_hosts="console.test"))
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://console.test") as http:
            wizard = await http.get(wizard_path("default", "kept"))
            assert cluster.stop() == 0
            typed = {"csrf_token": token_for(SECRET, http.cookies[COOKIE]), "step": "3", "action": "create",
                     "image": "example.com/app:7", "env_name": "TARGET", "env_value": "typed", "cpu_request": "250m",
                     "min_scale": "2"}
            fields = [(n, v) for n, v in form_fields(wizard.text, "wizard") if n not in typed] + list(typed.items())
            response = await http.post(wizard_path("default", "kept"), content=urlencode(fields).encode(),
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert response.status_code == 503
            assert "Nothing you typed is lost" in response.text and "data-retry" in response.text
            for name in ("image", "env_value", "cpu_request", "min_scale"):
                assert form_values(response.text, name) == [typed[name]], name
            assert form_values(response.text, "row_percent") == form_values(wizard.text, "row_percent")
            created = await http.post("/namespaces/default/services", data={
                **_create_form("later"), "csrf_token": typed["csrf_token"], "create_id": "abc"})
            assert created.status_code == 503 and form_values(created.text, "name") == ["later"]
    finally:
        cluster.stop()


async def test_a_create_that_landed_is_not_already_there(console: Console) -> None:
    ns = console.namespace()
    # What a create that timed out on the way back leaves: the Service exists, made by this very form.
    body = {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
            "metadata": {"name": "landed", "annotations": {"knative-console/create-id": "form-1"}},
            "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest"}]}}}}
    code, _, _ = console.cluster.request("POST", KSVC.format(ns=ns), body)
    assert code == 201
    retry = await console.post(f"/namespaces/{ns}/services", {**_create_form("landed"), "create_id": "form-1"})
    assert retry.status_code == 303 and retry.headers["location"] == \
        f"/namespaces/{ns}/services/landed#region-status"
    other = await console.post(f"/namespaces/{ns}/services", {**_create_form("landed"), "create_id": "form-2"})
    assert other.status_code == 409 and "already exists" in other.text
