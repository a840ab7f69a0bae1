"""The read-your-writes cookie (app.web.written): what a create or patch answered (the newest resourceVersion per
namespace), what a delete answered (a Status: the name and uid), bounded; whatever it holds, parsing it never fails
and keeps only well-formed entries."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import Response

from app.cluster.versions import comparable
from app.web import written


def request_with(cookie: str) -> Request:
    headers = [(b"cookie", f"{written.COOKIE}={cookie}".encode("latin-1"))] if cookie else []
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b"",
                    "scheme": "http", "server": ("console.test", 80)})


def after(cookie: str, namespace: str, answer: dict[str, Any]) -> str:
    """The cookie's value once `answer` is remembered."""
    response = written.remember(request_with(cookie), Response(), namespace, answer)
    headers = [v for k, v in response.headers.items() if k == "set-cookie"]
    if not headers:
        return cookie
    assert "HttpOnly" in headers[0] and "SameSite=Lax" in headers[0] and "Path=/" in headers[0]
    return headers[0].split(";")[0].removeprefix(f"{written.COOKIE}=")


def obj(rv: str) -> dict[str, Any]:
    return {"kind": "Service", "metadata": {"name": "x", "resourceVersion": rv}}


def test_the_newest_version_of_each_namespace_and_each_delete() -> None:
    value = after("", "blue", obj("120"))
    value = after(value, "blue", obj("95"))  # an answer that came late: the newer one stands
    value = after(value, "green", obj("7"))
    value = after(value, "blue", {"kind": "Status", "apiVersion": "v1", "status": "Success",
                                  "details": {"name": "gone", "group": "serving.knative.dev", "kind": "services",
                                              "uid": "0b5c2a6e-1111-4a0e-9f6e-2c1d0e0f0a0b"}})
    writes = written.parse(value)
    assert writes.floor("blue") == comparable("120") and writes.floor("green") == comparable("7")
    assert writes.floor("red") is None
    assert writes.gone("blue") == [("gone", "0b5c2a6e-1111-4a0e-9f6e-2c1d0e0f0a0b")] and writes.gone("green") == []
    for index in range(40):
        value = after(value, f"ns-{index}", obj(str(1000 + index)))
    writes = written.parse(value)
    assert len(writes.versions) + len(writes.deleted) == written.MAX_ENTRIES  # the newest kept
    assert writes.floor("ns-39") == comparable("1039") and writes.floor("blue") is None


def test_answers_it_cannot_use_change_nothing() -> None:
    assert after("", "blue", obj("0012")) == ""
    assert after("", "blue", {"metadata": {}}) == ""
    assert after("", "Not_A_Namespace", obj("5")) == ""
    assert after("", "blue", {"kind": "Status", "details": {"name": "x", "uid": "a;b"}}) == ""


COOKIE_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=';"\\,'), max_size=400)


@given(COOKIE_TEXT | st.lists(st.sampled_from(["a.1", "a.b.c", "a", "a.01", "A.1", "a.b.c.d", ".", "_", "a-.1"]),
                              max_size=30).map("_".join),
       st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True), st.integers(1, 10**30))
def test_whatever_the_cookie_holds(cookie: str, namespace: str, version: int) -> None:
    writes = written.parse(cookie)
    assert all(comparable(rv) is not None for _, rv in writes.versions)
    value = after(cookie, namespace, obj(str(version)))
    again = written.parse(value)
    floor = again.floor(namespace)
    assert floor is not None and floor >= comparable(str(version))  # type: ignore[operator]
    assert len(value.split("_")) <= written.MAX_ENTRIES
