"""app.web.forms.posted: a posted form, read once per request, split exactly as Starlette's own parser splits it."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.web import forms
from app.web.forms import MAX_FIELD, MAX_FIELDS, MAX_FORM, TOO_LARGE, posted


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


async def test_other_bodies_are_not_read_and_a_form_is_read_once() -> None:
    multipart = (b"--b\r\nContent-Disposition: form-data; name=\"csrf_token\"; filename=\"big\"\r\n\r\n1\r\n--b--\r\n")
    for content_type in ("multipart/form-data; boundary=b", "text/plain", "application/json", ""):
        pulled: list[int] = []
        request = _streamed(iter([multipart]), pulled)
        request.scope["headers"] = [(b"content-type", content_type.encode())]
        assert (await posted(request)).multi_items() == [] and pulled == [], content_type
    request = _request(b"a=1")
    first = await posted(request)
    assert isinstance(first, FormData) and await posted(request) is first
    assert await posted(Request(request.scope, request.receive)) is first  # the request's, not the object's


async def test_a_field_without_a_value_one_byte_over_the_limit_is_refused_as_starlette_refuses_it() -> None:
    mine, starlettes = await _both(b"n" * (MAX_FIELD + 1))
    assert mine == starlettes == (400, "Field exceeded maximum size of 1024KB.")
    mine, starlettes = await _both(b"n" * MAX_FIELD + b"&x=1")
    assert mine == starlettes == [("n" * MAX_FIELD, ""), ("x", "1")]


CHUNK = 64 * 1024  # what uvicorn hands over at a time


def _streamed(chunks: Iterator[bytes], pulled: list[int]) -> Request:
    """A posted urlencoded body that arrives chunk by chunk, as uvicorn passes it on; `pulled` counts the chunks read."""

    async def receive() -> dict[str, Any]:
        chunk = next(chunks, None)
        pulled.append(len(chunk or b""))
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    return Request(_request(b"").scope, receive)


def _endless(pattern: bytes) -> Callable[[], Iterator[bytes]]:
    return lambda: iter([pattern * (CHUNK // len(pattern))] * 4096)  # 256 MB, were it all read


@pytest.mark.parametrize("pattern", [b"v", b"a=b&", b"n=v"], ids=["one endless name", "endless fields", "endless value"])
async def test_a_body_over_the_limits_is_refused_having_read_no_more_of_it_than_starlette(pattern: bytes) -> None:
    """Anyone can post such a body (the CSRF check reads the form to find the token): read whole, 256 MB would be
    held in memory twice over before the answer."""
    answers = []
    for read in (posted, lambda request: request.form()):
        pulled: list[int] = []
        with pytest.raises(HTTPException) as refused:
            await read(_streamed(_endless(pattern)(), pulled))
        answers.append((refused.value.status_code, refused.value.detail, len(pulled)))
    assert answers[0] == answers[1]
    assert answers[0][2] <= MAX_FIELD // CHUNK + 2


@pytest.mark.parametrize("first, last", [(b"", b""), (b"a=1", b""), (b"", b"b")], ids=["none", "first", "last"])
async def test_a_body_of_empty_fields_is_read_in_little_memory(first: bytes, last: bytes) -> None:
    """Starlette's parser skips empty fields without keeping them, and reads on; so does forms.posted."""
    chunks = [first + b"&" * CHUNK, *[b"&" * CHUNK] * 60, b"&" * (CHUNK - 8) + last]  # just under 4 MB
    starlettes = (await _streamed(iter(chunks), []).form()).multi_items()
    tracemalloc.start()
    try:
        mine = (await posted(_streamed(iter(chunks), []))).multi_items()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert mine == starlettes
    assert peak < 1024 * 1024, f"{peak / 2**20:.1f} MB held to read 4 MB of empty fields"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"&", b"&&", b"=", b"a", b"bb", b"%3D", b"+", b"\xff"]), max_size=40),
       st.lists(st.integers(min_value=1, max_value=12), max_size=10), st.integers(1, 4), st.integers(1, 10))
def test_the_limits_are_crossed_where_starlettes_parser_crosses_them_however_the_body_arrives(
        pieces: list[bytes], cuts: list[int], max_fields: int, max_field: int) -> None:
    """With small limits, so that bodies reach them: the same answer, and no more of the body read, in any chunks."""
    body, chunks = b"".join(pieces), []
    for cut in cuts:
        chunks.append(body[sum(map(len, chunks)):sum(map(len, chunks)) + cut])
    chunks.append(body[sum(map(len, chunks)):])

    async def both() -> list[Any]:
        answers = []
        for read in (posted, lambda request: request.form(max_fields=max_fields, max_part_size=max_field)):
            pulled: list[int] = []
            try:
                answer: Any = (await read(_streamed(iter(chunks), pulled))).multi_items()
            except HTTPException as error:
                answer = (error.status_code, error.detail)
            answers.append((answer, len(pulled)))
        return answers

    with patch.object(forms, "MAX_FIELDS", max_fields), patch.object(forms, "MAX_FIELD", max_field):
        mine, starlettes = asyncio.run(both())
    assert mine[0] == starlettes[0]
    assert mine[1] <= starlettes[1]


async def test_a_form_over_4_mb_is_refused_when_its_length_says_so_or_when_it_gets_there() -> None:
    """Starlette has no limit on a whole urlencoded form: 1,000 fields of 1 MB each, or an endless run of `&` (empty
    fields, skipped), were read to their end. Nothing the console's pages post comes near 4 MB."""
    pulled: list[int] = []
    declared = _streamed(_endless(b"&")(), pulled)
    declared.scope["headers"] = [*declared.scope["headers"], (b"content-length", str(MAX_FORM + 1).encode())]
    with pytest.raises(HTTPException) as refused:
        await posted(declared)
    assert (refused.value.status_code, refused.value.detail, pulled) == (413, TOO_LARGE, [])
    assert "4 MB" in TOO_LARGE and "shorten what was typed" in TOO_LARGE
    field = [b"a=" + b"v" * (CHUNK - 2), *[b"v" * CHUNK] * 6, b"v" * (CHUNK - 1) + b"&"]  # 512 KB: under each limit
    for endless in (_endless(b"&")(), iter(field * 4096)):
        pulled = []
        with pytest.raises(HTTPException) as refused:
            await posted(_streamed(endless, pulled))
        assert (refused.value.status_code, refused.value.detail) == (413, TOO_LARGE)
        assert sum(pulled) <= MAX_FORM + CHUNK
    exactly = b"a=1" + b"&" * (MAX_FORM - 3)
    assert (await posted(_streamed(iter([exactly[i:i + CHUNK] for i in range(0, MAX_FORM, CHUNK)]), []))
            ).multi_items() == [("a", "1")]
    one_more = _streamed(iter([exactly, b"&"]), [])
    with pytest.raises(HTTPException):
        await posted(one_more)
