"""Every route's path segments, every route's headers (Host, Cookie, HX-*, Last-Event-ID, Origin, X-CSRF-Token, the
proxy's and the cache's), the sign-out form and the static files' paths under hypothesis, against the console served
over real HTTP on the dev cluster, as the kubeconfig's user and as a user signed in with a token (alice, who may edit
the namespace). Whatever they hold: no 5xx, a 4xx says what is wrong, nothing a request sent comes back unescaped,
and nothing is written. Then the CSRF check and the Host allow-list on every unsafe method of every route.

`FUZZ_EXAMPLES=3000` makes each property run long (tests.web.fuzzing.examples)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from app.settings import Settings
from app.web.render import STATIC
from app.web.security import COOKIE, token_for
from tests.support import DevClusterProcess, ksvc_manifest
from tests.web.conftest import KSVC, SECRET, Console, EventStream, form_fields, live_settings, served
from tests.web.fuzzing import examples, fuzzes
from tests.web.test_inputs import ANY, MESSAGE

MARK = '<i data-fuzz="1">'  # sent in every drawn value: a page that shows it as it was sent did not escape it
SEGMENT = st.one_of(st.sampled_from(["..", ".", "%2F", "%00", "a" * 300, "Bad_Name", "-x", "x-", "fz-00009", MARK,
                                     "default", "kube-system", "new", "\u212a", "fz\n"]), ANY)
FUZZ = settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
S, D = "/namespaces/{namespace}/services", "/namespaces/{namespace}/services/{name}"
PATH_ROUTES = [  # every route with path parameters but the live ones (tests/web/test_live_inputs.py)
    ("GET", S), ("POST", S), ("GET", S + "/new"), ("GET", D), ("GET", D + "/delete"), ("POST", D + "/delete"),
    ("GET", D + "/revisions/new"), ("POST", D + "/revisions/new"), ("GET", S + "/{service}/revisions/{name}"),
    ("GET", D + "/diff"), ("GET", D + "/history"), ("GET", D + "/traffic"), ("POST", D + "/traffic"),
    ("GET", D + "/check"), ("POST", D + "/check"), ("GET", D + "/revisions/{revision}/logs")]
VALID = {"namespace": "NS", "name": "fz", "service": "fz", "revision": "fz-00001"}


def _routes() -> list[tuple[str, str]]:
    app = create_app(Settings(secret_key="routes"))
    return [(method, route.path) for route in app.routes if hasattr(route, "methods")
            for method in sorted(route.methods - {"HEAD"})]


ROUTES = _routes()
UNSAFE = [(method, path) for method, path in ROUTES if method not in ("GET", "HEAD", "OPTIONS")]


class Site:
    """The console served over HTTP on the session's dev cluster, a browser of it (signed in, under --auth token) and
    a namespace holding one Service, fz."""

    def __init__(self, url: str, http: httpx.AsyncClient, cluster: DevClusterProcess, ns: str, auth: str) -> None:
        self.url, self.http, self.cluster, self.ns, self.auth = url, http, cluster, ns, auth

    async def sign_in(self) -> None:
        """As alice, under --auth token (again, after a property signed her out)."""
        if self.auth != "token":
            return
        signed = await self.http.post("/signin", data={"csrf_token": self.token, "next": "/",
                                                       "token": self.cluster.user_tokens["alice"]})
        assert signed.status_code == 303, signed.text[:2000]

    @property
    def token(self) -> str:
        return token_for(SECRET, self.http.cookies[COOKIE])

    def state(self) -> list[Any]:
        """What a write would change: every Service of the namespace and of `default`, and the namespaces."""
        return [[(i["metadata"]["name"], i["metadata"].get("labels"), i["metadata"].get("annotations"), i["spec"])
                 for i in self.cluster.get(KSVC.format(ns=ns))["items"]] for ns in (self.ns, "default")] + \
            [sorted(i["metadata"]["name"] for i in self.cluster.get("/api/v1/namespaces")["items"])]

    def fill(self, path: str, segments: dict[str, str]) -> str:
        return path.format(**{key: self.ns if value == "NS" else quote(value, safe="")
                              for key, value in segments.items()})


@pytest.fixture(scope="module", params=["kubeconfig", "token"])
async def site(request: pytest.FixtureRequest, devcluster: DevClusterProcess) -> AsyncIterator[Site]:
    admin = Console(httpx.AsyncClient(), devcluster)
    ns = devcluster.new_namespace("fuzzall")
    admin.create_ksvc(ns, "fz")
    await admin.settled(ns, "fz")
    async with served(live_settings(devcluster, auth=request.param)) as server, \
            httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        await http.get("/livez")
        if request.param == "token":
            devcluster.bind(ns, "edit", user="alice")
        site = Site(server.url, http, devcluster, ns, request.param)
        await site.sign_in()
        yield site
    await admin.http.aclose()


async def answer(site: Site, method: str, path: str, **kwargs: Any) -> tuple[int, str, dict[str, str]]:
    """The status, body (a live stream's first event) and headers of a request, however it is answered."""
    async with site.http.stream(method, path, **kwargs) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            first = await EventStream(response).next(within=15)
            return response.status_code, first.data, dict(response.headers)
        return response.status_code, (await response.aread()).decode("utf-8", "replace"), dict(response.headers)


def judged(method: str, path: str, status: int, body: str, sent: Any) -> None:
    assert status < 500, (method, path, sent, status, body[:3000])
    assert MARK not in body, ("sent markup came back unescaped", method, path, sent, body[:3000])
    if status >= 400 and status not in (405,):  # 405: Starlette's own, for a method a route does not take
        assert MESSAGE.search(body) or status == 400 and "does not answer to this host name" in body or \
            status == 403 and ("security token" in body or "another site" in body), (method, path, sent, status,
                                                                                     body[:3000])


def junk_form(draw: Any) -> list[tuple[str, str]]:
    """A form that no page posts, with the browser's own fields: never a name (with a name, an image such as "latest"
    is a valid Create Service form), nor the rows or basis another write needs."""
    names = st.one_of(st.sampled_from(["image", "action", "step", "row_percent", "requests", "token", "next",
                                       "restore", "resource_version", "basis_generation", "csrf_token", "basis_rows"]),
                      st.text(max_size=10).filter(lambda name: name != "name"))
    return draw(st.lists(st.tuples(names, st.one_of(ANY, st.just(MARK))), max_size=5))


@fuzzes("MOUNT /static", "path")
@fuzzes("POST /signout", "form")
@FUZZ
@given(data=st.data())
async def test_any_path_segment(site: Site, data: st.DataObject) -> None:
    """Every route's path parameters (a valid value or anything at all), with a form of junk fields on a POST."""
    method, route = data.draw(st.sampled_from(PATH_ROUTES))
    names = re.findall(r"\{(\w+)\}", route)
    segments = {key: data.draw(st.one_of(st.just(VALID[key]), SEGMENT)) for key in names}
    if method == "POST" and all(segments[key] == VALID[key] for key in names):
        segments[names[-1]] = data.draw(SEGMENT)  # a valid Service's form needs fields junk never has; still, no write
    path = site.fill(route, segments)
    before = site.state()
    form = [*junk_form(data.draw), ("csrf_token", site.token)] if method == "POST" else None
    kwargs: dict[str, Any] = {"content": urlencode(form).encode(), "headers": {
        "Content-Type": "application/x-www-form-urlencoded"}} if form else {}
    status, body, headers = await answer(site, method, path, **kwargs)
    if status in (301, 302, 303, 307, 308):  # a path ending in "/" (Starlette's redirect_slashes), or sign-in
        assert MARK not in headers.get("location", ""), headers
    else:
        judged(method, path, status, body, segments)
    assert site.state() == before, (method, path, segments)


for _method, _route in PATH_ROUTES:
    test_any_path_segment = fuzzes(f"{_method} {_route}", "path")(test_any_path_segment)


HEADER_TEXT = st.one_of(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
                        st.sampled_from(["", "true", "false", "dialog", "1" * 5000, MARK, "é", "\t", "0", "-1",
                                         "services:abcdef", "x:y;z", "http://evil.example", "null"]))
HOSTS = st.one_of(st.sampled_from(["127.0.0.1", "localhost", "[::1]", "127.0.0.1:1", "LOCALHOST", "localhost.",
                                   "[::1", "evil.example", "127.0.0.1:80:80", "", " ", "127.0.0.1 "]), HEADER_TEXT)
HEADERS = ("HX-Request", "HX-Target", "HX-Trigger", "HX-Current-URL", "HX-Boosted", "HX-History-Restore-Request",
           "Last-Event-ID", "Origin", "X-CSRF-Token", "Cache-Control", "X-Forwarded-Proto", "X-Forwarded-Access-Token",
           "Authorization", "X-Request-ID", "Accept", "Referer")
COOKIES = ("kc_csrf", "kc_session", "kc_written", "other")


@FUZZ
@given(data=st.data())
async def test_any_header_on_any_route(site: Site, data: st.DataObject) -> None:
    """Any route (its path filled with valid names, a POST with a junk form and maybe a valid token) with any Host,
    cookies and request headers."""
    method, route = data.draw(st.sampled_from(ROUTES))
    path = site.fill(route, {key: VALID[key] for key in re.findall(r"\{(\w+)\}", route)})
    path = path.replace("/static", "/static/app.css") if route == "/static" else path
    headers = {name: data.draw(HEADER_TEXT) for name in data.draw(st.lists(st.sampled_from(HEADERS), max_size=5,
                                                                           unique=True))}
    if data.draw(st.booleans()):
        headers["Host"] = data.draw(HOSTS)
    cookies = {name: data.draw(HEADER_TEXT.filter(lambda v: ";" not in v and v == v.strip() and "\t" not in v))
               for name in data.draw(st.lists(st.sampled_from(COOKIES), max_size=3, unique=True))}
    if cookies:
        kept = {name: value for name, value in site.http.cookies.items() if name not in cookies}
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in {**kept, **cookies}.items())
    kwargs: dict[str, Any] = {"headers": {k: v.encode("latin-1", "replace") for k, v in headers.items()}}
    if method == "POST":
        form = [*junk_form(data.draw), *([("csrf_token", site.token)] if data.draw(st.booleans()) else [])]
        kwargs = {"content": urlencode(form).encode(),
                  "headers": {"Content-Type": "application/x-www-form-urlencoded", **kwargs["headers"]}}
    before = site.state()
    try:
        status, body, answered = await answer(site, method, path, **kwargs)
    except httpx.LocalProtocolError:  # a value h11 will not send (it is no HTTP): nothing reached the console
        return
    if status in (301, 302, 303, 307, 308):
        assert MARK not in answered.get("location", ""), answered
    else:
        judged(method, path, status, body, headers)
    assert site.state() == before, (method, path, headers)
    if "kc_session" not in site.http.cookies:  # a sign-out, or a forged session cookie the console told it to forget
        await site.sign_in()


@fuzzes("MOUNT /static", "path")
@FUZZ
@given(st.lists(st.one_of(SEGMENT, st.sampled_from(["..", "app.css", "htmx", "%2e%2e", "..%2F..%2Fapp"])),
                min_size=1, max_size=4))
async def test_any_static_path(site: Site, segments: list[str]) -> None:
    """/static/… answers a file under the static directory or 404, whatever the path: never anything outside it."""
    path = "/static/" + "/".join(quote(s, safe="%") for s in segments)
    response = await site.http.get(path)
    assert response.status_code < 500 and MARK not in response.text, (path, response.status_code)
    if response.url.path.startswith("/static/"):  # httpx resolves "." and ".." before sending, as a browser does
        assert response.status_code in (200, 404, 405, 307), (path, response.status_code)
        if response.status_code == 200:
            assert response.text in STATIC_FILES, path


STATIC_FILES = {f.read_text(errors="replace") for f in Path(STATIC).rglob("*") if f.is_file()}


# -- the CSRF check and the Host allow-list, on every unsafe method of every route


def unsafe_requests(site: Site) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Each unsafe route with a form that would write (or end the session) were it accepted."""
    forms = {S: [("name", "csrfprobe"), ("image", "ghcr.io/knative/helloworld-go:latest"), ("protocol", "http"),
                 ("port", "8080"), ("visibility", "external"), ("action", "create")],
             D + "/delete": [], D + "/traffic": [("row_kind", "revision"), ("row_revision", "fz-00001"),
                                                 ("row_percent", "100"), ("row_tag", "csrf"), ("action", "ok")],
             D + "/revisions/new": [("step", "3"), ("action", "create"), ("image", "ghcr.io/knative/other:v2")],
             D + "/check": [("requests", "3")], "/signin": [("token", site.cluster.token)], "/signout": []}
    return [(method, site.fill(route, {key: VALID[key] for key in re.findall(r"\{(\w+)\}", route)}),
             forms.get(route, [])) for method, route in UNSAFE]


async def test_every_unsafe_route_needs_the_token_the_origin_and_a_known_host(site: Site) -> None:
    assert {path for _, path in UNSAFE} == {S, D + "/delete", D + "/traffic", D + "/revisions/new", D + "/check",
                                            "/signin", "/signout"}, "a new unsafe route: give it a form below"
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    for method, path, form in unsafe_requests(site):
        before, token = site.state(), site.token
        refusals = [
            ({}, form, 403, "The form is missing its security token or it has expired."),
            ({}, [*form, ("csrf_token", "forged")], 403, "The form is missing its security token or it has expired."),
            ({}, [*form, ("csrf_token", token_for("another secret", site.http.cookies[COOKIE]))], 403,
             "The form is missing its security token or it has expired."),
            ({"X-CSRF-Token": token[:-1]}, form, 403, "The form is missing its security token or it has expired."),
            ({"Origin": "http://evil.example"}, [*form, ("csrf_token", token)], 403,
             "The request came from another site."),
            ({"Origin": "null"}, [*form, ("csrf_token", token)], 403, "The request came from another site."),
            ({"Host": "evil.example", "Origin": "http://evil.example"}, [*form, ("csrf_token", token)], 400,
             "does not answer to this host name"),
            ({"Host": "rebind.example:8000"}, [*form, ("csrf_token", token)], 400, "does not answer to this host name"),
        ]
        for headers, fields, code, message in refusals:
            response = await site.http.request(method, path, content=urlencode(fields).encode(),
                                               headers={**form_type, **headers})
            assert (response.status_code, message in response.text) == (code, True), (path, headers, response.text)
            assert site.state() == before, (path, headers)
        for other in ("PUT", "PATCH", "DELETE"):  # the console takes no other unsafe method, on any route
            response = await site.http.request(other, path, content=urlencode([*form, ("csrf_token", token)]).encode(),
                                               headers=form_type)
            assert response.status_code in (403, 405), (other, path, response.status_code)
            assert site.state() == before, (other, path)
    listed = await site.http.get(f"/namespaces/{site.ns}/services")
    assert listed.status_code == 200 and 'data-service="fz"' in listed.text, "refused writes leave the session as it was"


# -- a write whose required fields are valid, with anything at all in the others: written with a 303 or refused with
# a message (never the cluster's 5xx for a value the form let through), and every page of what was written renders

TEMPLATE_FIELDS = ("protocol", "port", "cpu_request", "cpu_limit", "memory_request", "memory_limit", "min_scale",
                   "max_scale", "target", "env_name", "env_value", "visibility")
LIKELY = st.sampled_from(["http", "grpc", "8080", "1", "100m", "0.5", "1Gi", "256Mi", "0", "3", "50", "TARGET", "A_B",
                          "public", "cluster-local", MARK, "x" * 5000, "\x00", "é\u202e", "1e3", "00010"])
_written = iter(range(10**9))


# A min scale the form takes (any up to 2^31-1, as Knative's webhook does) is that many simulated pods on the dev
# cluster: a few thousand keep its API busy past the console's timeout. The scales drawn stay small or invalid.
SCALES = st.sampled_from(["", "0", "1", "2", " 1 ", "-1", "1e3", "²", "x", MARK, "9" * 30, "2147483648"])


def _other_fields(draw: Any) -> list[tuple[str, str]]:
    return [(name, draw(SCALES if name.endswith("_scale") else st.one_of(LIKELY, ANY)))
            for name in TEMPLATE_FIELDS if draw(st.booleans())]


async def _pages_of(site: Site, name: str) -> None:
    """Every page of a Service the console wrote: no 5xx and nothing typed shown unescaped."""
    base = f"/namespaces/{site.ns}/services/{name}"
    for path in (base, f"{base}?format=yaml", f"{base}?format=yaml&everything=1", f"{base}/revisions/{name}-00001",
                 f"{base}/revisions/{name}-00001?format=yaml", f"{base}/history", f"{base}/traffic",
                 f"{base}/revisions/new", f"/namespaces/{site.ns}/services", f"/services?filter={name}"):
        status, body, _ = await answer(site, "GET", path)
        judged("GET", path, status, body, name)


@fuzzes("POST /namespaces/{namespace}/services", "form")
@FUZZ
@given(data=st.data())
async def test_a_valid_create_with_anything_in_its_other_fields(site: Site, data: st.DataObject) -> None:
    name = f"ok-{next(_written)}"
    fields = [("name", name), ("image", "ghcr.io/knative/helloworld-go:latest"), *_other_fields(data.draw),
              ("action", "create"), ("csrf_token", site.token)]
    before = site.state()
    status, body, headers = await answer(site, "POST", f"/namespaces/{site.ns}/services",
                                         content=urlencode(fields).encode(),
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    if status == 303:
        assert headers["location"] == f"/namespaces/{site.ns}/services/{name}#region-status", headers
        await _pages_of(site, name)
        code, _, gone = site.cluster.request("DELETE", f"{KSVC.format(ns=site.ns)}/{name}")
        assert code == 200, gone
    else:
        judged("POST", "create", status, body, fields)
        assert status in (200, 422), (status, fields, body[:3000])
        assert site.state() == before, fields


@fuzzes("POST /namespaces/{namespace}/services/{name}/revisions/new", "form")
@FUZZ
@given(data=st.data())
async def test_a_valid_new_revision_with_anything_in_its_other_fields(site: Site, data: st.DataObject) -> None:
    name = f"wz-{next(_written)}"
    code, _, made = site.cluster.request("POST", KSVC.format(ns=site.ns), ksvc_manifest(name, site.ns))
    assert code == 201, made
    path = f"/namespaces/{site.ns}/services/{name}/revisions/new"
    status, page, _ = await answer(site, "GET", path)
    assert status == 200, page[:2000]
    drawn = dict(_other_fields(data.draw))
    drawn.pop("visibility", None)
    fields = [(key, drawn.pop(key, value)) for key, value in form_fields(page, "wizard") if key != "action"]
    fields = [*fields, *drawn.items(), ("image", "ghcr.io/knative/helloworld-go:v2"), ("step", "3"),
              ("action", "create")]
    fields = [*[(k, v) for k, v in fields if k not in ("image", "step", "csrf_token")],
              ("image", "ghcr.io/knative/helloworld-go:v2"), ("step", "3"), ("csrf_token", site.token)]
    status, body, headers = await answer(site, "POST", path, content=urlencode(fields).encode(),
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    if status == 303:
        await _pages_of(site, name)
    else:
        judged("POST", path, status, body, fields)
        assert status in (200, 409, 422), (status, fields, body[:3000])
    code, _, gone = site.cluster.request("DELETE", f"{KSVC.format(ns=site.ns)}/{name}")
    assert code == 200, gone
