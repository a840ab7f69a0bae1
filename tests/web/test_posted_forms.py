"""app.web.forms.posted: a posted form, read once per request, split exactly as Starlette's own parser splits it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.web.forms import MAX_FIELD, MAX_FIELDS, posted


def _request(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> Request:
    chunks = [body]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": chunks.pop() if chunks else b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "state": {}, "app": None,
             "headers": [(b"content-type", content_type.encode())]}
    return Request(scope, receive)


async def _both(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> tuple[Any, Any]:
    """What forms.posted and what Starlette's Request.form make of the same body: (items or error, same)."""
    answers: list[Any] = []
    for read in (posted, lambda request: request.form()):
        try:
            form = await read(_request(body, content_type))
            answers.append(form.multi_items())
        except HTTPException as error:
            answers.append((error.status_code, error.detail))
    return answers[0], answers[1]


_piece = st.one_of(st.sampled_from(["&", "=", "+", "%", "%2", "%26", "%3D", "%C3%A9", "%e2%82%ac", "%FF", "%zz", ";",
                                    "a", "row_percent", "csrf_token", " ", "é", "\x00"]),
                   st.text(max_size=6))


@settings(max_examples=400, deadline=None)
@given(st.lists(_piece, max_size=30), st.sampled_from(["utf-8", "latin-1"]))
def test_any_body_is_split_as_starlette_splits_it(pieces: list[str], encoding: str) -> None:
    body = "".join(pieces).encode(encoding, errors="replace")
    mine, starlettes = asyncio.run(_both(body))
    assert mine == starlettes


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded; charset=UTF-8",
                                          "Application/X-WWW-Form-Urlencoded"])
async def test_the_content_type_is_read_as_starlette_reads_it(content_type: str) -> None:
    mine, starlettes = await _both(b"a=1&b=%C3%A9&c", content_type)
    assert mine == starlettes == [("a", "1"), ("b", "é"), ("c", "")]


async def test_the_limits_and_their_messages_are_starlettes() -> None:
    at_limit = "&".join(f"f{i}=v" for i in range(MAX_FIELDS)).encode()
    mine, starlettes = await _both(at_limit + b"&&&")
    assert mine == starlettes and len(mine) == MAX_FIELDS
    over = await _both(at_limit + b"&one=more")
    assert over[0] == over[1] == (400, f"Too many fields. Maximum number of fields is {MAX_FIELDS}.")
    largest = b"n=" + b"v" * (MAX_FIELD - 1)
    mine, starlettes = await _both(largest + b"&x=1")
    assert mine == starlettes and len(mine[0][1]) == MAX_FIELD - 1
    too_large = await _both(largest + b"v&x=1")
    assert too_large[0] == too_large[1] == (400, "Field exceeded maximum size of 1024KB.")


async def test_other_forms_go_to_starlette_and_each_is_read_once() -> None:
    multipart = (b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n")
    mine, starlettes = await _both(multipart, "multipart/form-data; boundary=b")
    assert mine == starlettes == [("a", "1")]
    request = _request(b"a=1")
    first = await posted(request)
    assert isinstance(first, FormData) and await posted(request) is first
    assert await posted(Request(request.scope, request.receive)) is first  # the request's, not the object's
