"""Every form handler and query string under hypothesis (the review pages' included: diff, history and restore, the
traffic check, YAML, the list's filter and sort, its read-your-writes cookie): whatever is typed, no 5xx, the page
comes back with a message (each field's message tied to its field, for a screen reader), and nothing is written. Each drawn form has at least one field no valid form has (so a
write would be a bug); the other fields are anything at all, hostile values included (Unicode digits, 4,300-digit
integers, 1e400, 1Ei, control characters, markup)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web import written
from app.web.security import COOKIE, token_for
from tests.support import DevClusterProcess, ksvc_manifest
from tests.web.conftest import KSVC, SECRET
from tests.web.fuzzing import examples, fuzzes

HOSTILE = st.sampled_from(["", " ", "²", "٣", "１", "1" * 4300, "1e400", "1Ei", "8Ei", "-1", "NaN", "inf", "0x10",
                           "\x00", "\t", "<script>x</script>", "50%", "a" * 300, "latest", "@latest", "1_000"])
UNESCAPED = "<script>x</script>"  # one of HOSTILE: a page that shows it as typed did not escape it
ANY = st.one_of(HOSTILE, st.text(max_size=30), st.integers(-10, 10**6).map(str))
MESSAGE = re.compile(r'role="alert"|class="error"')
EXAMPLES = settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", params=["kubeconfig", "token"])
def app(request: pytest.FixtureRequest, devcluster: DevClusterProcess) -> Iterator[tuple[TestClient, str]]:
    """The console as the kubeconfig's user, or signed in with a token (alice, who may edit the namespace)."""
    ns = devcluster.new_namespace("fuzz")
    code, _, body = devcluster.request("POST", KSVC.format(ns=ns), ksvc_manifest("fz", ns))
    assert code == 201, body
    application = create_app(Settings(kubeconfig=str(devcluster.kubeconfig), secret_key=SECRET,
                                      allowed_hosts="testserver", auth=request.param))
    with TestClient(application, raise_server_exceptions=False) as client:
        client.get("/healthz")
        if request.param == "token":
            devcluster.bind(ns, "edit", user="alice")
            signed = client.post("/signin", data={"csrf_token": token_for(SECRET, client.cookies[COOKIE]),
                                                  "token": devcluster.user_tokens["alice"], "next": "/"},
                                 follow_redirects=False)
            assert signed.status_code == 303, signed.text[:2000]
        yield client, ns


class _Errors(HTMLParser):
    """The ids of a page's field messages (class "error") and the ids its controls name in aria-describedby."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str | None] = []
        self.described: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "error" in (found.get("class") or "").split():
            self.errors.append(found.get("id"))
        self.described.update((found.get("aria-describedby") or "").split())


def untied_errors(html: str) -> list[str | None]:
    """Field messages that no control points to: a screen reader user on the field would not hear them."""
    parser = _Errors()
    parser.feed(html)
    return [error for error in parser.errors if error is None or error not in parser.described]


def state(cluster: DevClusterProcess, ns: str) -> list[Any]:
    return [(i["metadata"]["name"], i["metadata"].get("labels"), i["spec"])
            for i in cluster.get(KSVC.format(ns=ns))["items"]]


def post(client: TestClient, cluster: DevClusterProcess, ns: str, path: str, fields: list[tuple[str, str]]) -> None:
    before = state(cluster, ns)
    # A form that carries the Service's resourceVersion (a drawn number can be it) may be a valid write: not junk.
    versions = {i["metadata"]["resourceVersion"] for i in cluster.get(KSVC.format(ns=ns))["items"]}
    assume(not any(name == "resource_version" and value.strip() in versions for name, value in fields))
    token = token_for(SECRET, client.cookies[COOKIE])
    response = client.post(path, content=_encode([*fields, ("csrf_token", token)]),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code < 500, response.text[:2000]
    assert UNESCAPED not in response.text, "typed markup came back unescaped"
    assert response.status_code in (200, 400, 404, 409, 422), response.status_code
    if response.status_code == 200:  # a button that edits the form (Add Variable, Previous, add a row): shown again,
        # or "What will be sent" for what is typed (a preview writes nothing)
        assert 'method="post"' in response.text or "data-preview-problem" in response.text or \
            'id="sent-body"' in response.text, response.text[:2000]
    else:
        assert MESSAGE.search(response.text), response.text[:2000]
    assert untied_errors(response.text) == [], re.findall(r"<[^>]*class=\"error[^>]*>[^<]*", response.text)
    assert state(cluster, ns) == before, "a refused form wrote to the cluster"


def _encode(fields: list[tuple[str, str]]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


def template_fields(draw: Any) -> list[tuple[str, str]]:
    names = ("image", "protocol", "port", "cpu_request", "cpu_limit", "memory_request", "memory_limit", "min_scale",
             "max_scale", "target", "env_name", "env_value", "rollout")
    return [(name, draw(ANY)) for name in names if draw(st.booleans())]


def row_fields(draw: Any) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(0, 4))):
        fields += [("row_kind", draw(st.one_of(st.sampled_from(["latest", "revision", "new"]), ANY))),
                   ("row_revision", draw(st.one_of(st.sampled_from(["fz-00001", "fz-00002", ""]), ANY))),
                   ("row_percent", draw(st.one_of(st.sampled_from(["0", "50", "100"]), ANY))),
                   ("row_tag", draw(st.one_of(st.just(""), ANY)))]
    basis = ("resource_version", "basis_uid", "basis_generation", "basis_traffic", "basis_template", "stamp",
             "new_revision", "target", "show_all", "kept", "kept_on", "add_revision", "basis_rows", "basis_ready")
    return fields + [(name, draw(ANY)) for name in basis if draw(st.booleans())]


@fuzzes("POST /namespaces/{namespace}/services", "form")
@EXAMPLES
@given(st.data())
def test_create_service(app: tuple[TestClient, str], devcluster: DevClusterProcess, data: st.DataObject) -> None:
    client, ns = app
    bad_name = data.draw(st.one_of(HOSTILE, st.text(min_size=1, max_size=70).filter(
        lambda s: not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", s.strip()))))
    fields = [("name", bad_name), ("visibility", data.draw(ANY)), ("action", data.draw(st.sampled_from(
        ["create", "add-env", "", "x"]))), *template_fields(data.draw)]
    post(client, devcluster, ns, f"/namespaces/{ns}/services", fields)


@fuzzes("POST /namespaces/{namespace}/services/{name}/revisions/new", "form")
@EXAMPLES
@given(st.data())
def test_create_revision(app: tuple[TestClient, str], devcluster: DevClusterProcess, data: st.DataObject) -> None:
    client, ns = app
    fields = [("step", data.draw(st.one_of(st.sampled_from(["1", "2", "3"]), ANY))),
              ("action", data.draw(st.one_of(st.sampled_from(["next", "previous", "create", "add-env", "add-latest",
                                                              "remove-0", "add-row", "show-all"]), ANY))),
              ("image", data.draw(HOSTILE)),  # never a valid image: nothing may be written
              *template_fields(data.draw), *row_fields(data.draw)]
    post(client, devcluster, ns, f"/namespaces/{ns}/services/fz/revisions/new", fields)


@fuzzes("POST /namespaces/{namespace}/services/{name}/traffic", "form")
@EXAMPLES
@given(st.data())
def test_split_traffic(app: tuple[TestClient, str], devcluster: DevClusterProcess, data: st.DataObject) -> None:
    client, ns = app
    fields = [("row_kind", "revision"), ("row_revision", "fz-00001"), ("row_tag", ""),
              ("row_percent", data.draw(HOSTILE.filter(lambda s: s.strip().removesuffix("%").strip() != "100"))),
              *row_fields(data.draw),
              ("action", data.draw(st.one_of(st.sampled_from(["ok", "add-latest", "remove-0", "add-row"]), ANY)))]
    post(client, devcluster, ns, f"/namespaces/{ns}/services/fz/traffic", fields)


@fuzzes("POST /namespaces/{namespace}/services/{name}/delete", "form")
@EXAMPLES
@given(st.data())
def test_delete(app: tuple[TestClient, str], devcluster: DevClusterProcess, data: st.DataObject) -> None:
    client, ns = app
    fields = [("resource_version", data.draw(ANY)), ("basis_uid", data.draw(ANY)),
              ("basis_generation", data.draw(ANY.filter(lambda s: s != "1"))), ("basis_traffic", data.draw(ANY))]
    post(client, devcluster, ns, f"/namespaces/{ns}/services/fz/delete", fields)


@fuzzes("GET /namespaces/{namespace}/services/{name}", "query")
@fuzzes("GET /namespaces/{namespace}/services/{name}/traffic", "query")
@fuzzes("GET /namespaces/{namespace}/services", "query")
@fuzzes("GET /namespace", "query")
@EXAMPLES
@given(st.sampled_from(["", "/traffic", "/revisions/new", "/delete", "/revisions/fz-00001/logs", "/revisions/x/logs"]),
       st.sampled_from(["revision", "start", "continue", "partial", "all", "namespace"]), ANY)
def test_query_strings(app: tuple[TestClient, str], path: str, key: str, value: str) -> None:
    client, ns = app
    for page in (f"/namespaces/{ns}/services/fz{path}", f"/namespaces/{ns}/services", "/namespace"):
        response = client.get(page, params={key: value})
        assert response.status_code < 500, (page, key, value, response.text[:2000])
        assert UNESCAPED not in response.text, (page, key, value)


REVIEW_KEYS = ("from", "to", "rev", "restore", "revision", "requests", "target", "run", "format", "everything",
               "download", "filter", "sort", "start", "continue", "all", "revisions", "partial")
SMALL = st.integers(-5, 40).map(str)  # a valid number of requests stays small: each one goes to the gateway


@fuzzes("GET /namespaces/{namespace}/services/{name}/diff", "query")
@fuzzes("GET /namespaces/{namespace}/services/{name}/history", "query")
@fuzzes("GET /namespaces/{namespace}/services/{name}/check", "query")
@fuzzes("GET /namespaces/{namespace}/services/{service}/revisions/{name}", "query")
@fuzzes("GET /namespaces/{namespace}/services/{name}/traffic", "query")
@fuzzes("GET /namespaces/{namespace}/services/{name}", "query")
@fuzzes("GET /namespaces/{namespace}/services", "query")
@fuzzes("GET /services", "query")
@EXAMPLES
@given(st.sampled_from(["/diff", "/history", "/check", "/revisions/fz-00001", "/revisions/fz-00009", "/traffic",
                        "", "LIST", "ALL"]),
       st.lists(st.tuples(st.sampled_from(REVIEW_KEYS), st.one_of(ANY, SMALL, st.sampled_from(
           ["fz-00001", "fz-00002", "yaml", "1", "-created", "team=x", "=x", "a!=b"]))), max_size=4))
def test_review_query_strings(app: tuple[TestClient, str], devcluster: DevClusterProcess, path: str,
                              params: list[tuple[str, str]]) -> None:
    """The diff's, history's, restore's, traffic check's, YAML's and the list's query strings: whatever they hold,
    no 5xx, a message with any 4xx, and nothing written."""
    client, ns = app
    before = state(devcluster, ns)
    page = {"LIST": f"/namespaces/{ns}/services", "ALL": "/services"}.get(path, f"/namespaces/{ns}/services/fz{path}")
    response = client.get(page, params=params)
    assert response.status_code < 500, (page, params, response.text[:2000])
    assert UNESCAPED not in response.text, (page, params)
    if response.status_code >= 400:
        assert MESSAGE.search(response.text), (page, params, response.text[:2000])
    assert state(devcluster, ns) == before


@fuzzes("POST /namespaces/{namespace}/services/{name}/traffic", "form")
@EXAMPLES
@given(st.data())
def test_restore(app: tuple[TestClient, str], devcluster: DevClusterProcess, data: st.DataObject) -> None:
    """A restore posted with any history id and rows that do not add up: refused with a message, nothing written."""
    client, ns = app
    fields = [("restore", data.draw(st.one_of(ANY, st.text(max_size=80)))),
              ("restore_at", data.draw(ANY)), ("write_kind", data.draw(st.one_of(st.sampled_from(
                  ["restore", "split", "promote", "rollback", "delete"]), ANY))),
              ("basis_history", data.draw(st.one_of(ANY, st.just('[{"id":"x","do":"split","to":[["fz-00001",100]]}]')))),
              ("row_kind", "revision"), ("row_revision", "fz-00001"), ("row_tag", ""),
              ("row_percent", data.draw(HOSTILE.filter(lambda s: s.strip().removesuffix("%").strip() != "100"))),
              *row_fields(data.draw), ("action", data.draw(st.sampled_from(["ok", "preview", ""])))]
    post(client, devcluster, ns, f"/namespaces/{ns}/services/fz/traffic", fields)


@fuzzes("POST /namespaces/{namespace}/services/{name}/check", "form")
@EXAMPLES
@given(st.one_of(ANY, SMALL), st.one_of(ANY, st.sampled_from(["", "candidate"])))
@example("²", "")  # isdigit() says yes, int() says no: found by hypothesis
def test_check_traffic(app: tuple[TestClient, str], devcluster: DevClusterProcess, requests: str, target: str) -> None:
    """The traffic check's form, whatever it holds: no 5xx, a message when it cannot run, nothing written."""
    client, ns = app
    post(client, devcluster, ns, f"/namespaces/{ns}/services/fz/check", [("requests", requests), ("target", target)])


@EXAMPLES
@given(st.one_of(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=';"\\,'),
                         max_size=300), ANY.filter(lambda s: s.isascii() and s.isprintable() and ";" not in s)),
       st.sampled_from(["", "?start=50", "?filter=fz", "?sort=-name", "?partial=rows"]))
def test_the_read_your_writes_cookie(app: tuple[TestClient, str], cookie: str, query: str) -> None:
    """The list with any read-your-writes cookie (app.web.written: a browser's own, or one made up): the list, never
    a 5xx."""
    client, ns = app
    client.cookies.set(written.COOKIE, cookie)
    try:
        response = client.get(f"/namespaces/{ns}/services{query}")
    finally:
        client.cookies.delete(written.COOKIE)
    assert response.status_code == 200, (cookie, query, response.text[:2000])
    assert 'data-service="fz"' in response.text
