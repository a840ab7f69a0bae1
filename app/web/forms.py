"""Posted forms → the typed inputs of app.knative.forms and app.knative.traffic (strings, as typed)."""

from __future__ import annotations

import re
from typing import cast
from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.knative.basis import Basis
from app.knative.forms import EnvInput, ServiceInput, TemplateInput
from app.knative.traffic import RowInput

TEMPLATE_FIELDS = ("image", "protocol", "port", "cpu_request", "cpu_limit", "memory_request", "memory_limit",
                   "min_scale", "max_scale", "target")


URLENCODED = "application/x-www-form-urlencoded"  # what the console's pages post
MAX_FIELDS = 1000  # Starlette's limits on a form, kept
MAX_FIELD = 1024 * 1024  # bytes of a field's name and value, as posted
# bytes of a whole form as posted: Starlette has no such limit (1,000 fields of 1 MB could be held for one request, and
# an endless run of `&` read for ever). A form of the console's pages is far smaller: what it writes goes to the
# Kubernetes API, which takes at most 3 MB in a request (kube-apiserver's MaxRequestBodyBytes, as the dev cluster).
MAX_FORM = 4 * 1024 * 1024
TOO_LARGE = (f"The form is larger than {MAX_FORM // 2**20} MB, more than any page of the console sends: shorten what "
             "was typed and send it again.")


async def posted(request: Request) -> FormData:
    """The request's form, parsed once however many ask (the CSRF check, the write counter, the handler).

    A urlencoded form is split by the standard library (`parse_qsl`) as Starlette's parser splits it (on `&`, a name
    without `=` has an empty value, `+` and %-escapes decoded as UTF-8, Latin-1 bytes taken as they are), with the
    same limits and messages (a property test holds the two to the same answers). Starlette feeds python-multipart's
    byte-level parser through callbacks: 48 µs for a Split Traffic form in a loop against 14 here, and 0.24 against
    0.17 ms at p50 inside the console's POSTs. Any other body is not read at all and makes an empty form, as Starlette
    makes of a body it does not know: the console's pages post nothing else, and Starlette would write a multipart
    body's files to disk (without a limit on their size) for the CSRF check to look for its token among them.

    The body is read as it arrives and refused at the chunk where Starlette's parser would stop (a field over its size,
    one field too many), and runs of `&` (empty fields, which both skip) are kept as one: anyone may post, since the
    CSRF check reads the form to find its token, and a body read whole before its limits were checked held whatever
    was sent, several times over. A body over MAX_FORM bytes is refused (413) too, before it is read when its
    Content-Length says so.
    """
    form: FormData | None = getattr(request.state, "posted_form", None)
    if form is not None:
        return form
    if request.headers.get("content-type", "").partition(";")[0].strip().lower() != URLENCODED:
        form = FormData()
    else:
        body = await _urlencoded(request)
        form = FormData(cast(list[tuple[str, str | UploadFile]], parse_qsl(body, keep_blank_values=True)))
    request.state.posted_form = form
    return form


_SEPARATORS = re.compile(b"&&+")


async def _urlencoded(request: Request) -> str:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM:
        raise HTTPException(413, TOO_LARGE)
    body, separators, limits, received = bytearray(), 0, None, 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > MAX_FORM:
            raise HTTPException(413, TOO_LARGE)
        if b"&&" in chunk:
            chunk = _SEPARATORS.sub(b"&", chunk)
        body += chunk
        separators += chunk.count(b"&")
        if limits is None and (len(body) > MAX_FIELD or separators >= MAX_FIELDS):
            limits = _Limits()  # only a body this large can be over them
        if limits is not None:
            limits.read(body, final=False)
    if limits is not None:  # else at most MAX_FIELDS fields, none longer than the body
        limits.read(body, final=True)
    return body.decode("latin-1")


class _Limits:
    """Starlette's limits on a urlencoded body, checked as it arrives: a field's name and value (without the `=`) at
    most MAX_FIELD bytes, at most MAX_FIELDS fields that are not empty; the first one crossed, in the body's order."""

    def __init__(self) -> None:
        self.start = 0  # where the field being read begins
        self.fields = 0  # fields read to their end
        self.scanned = 0  # where to look for the next `&`

    def read(self, body: bytearray, final: bool) -> None:
        while (end := body.find(b"&", self.scanned)) != -1:
            self._field(body, end, ended=True)
            self.start = self.scanned = end + 1
        self.scanned = len(body)
        self._field(body, len(body), ended=final)

    def _field(self, body: bytearray, end: int, ended: bool) -> None:
        size = end - self.start
        if size > MAX_FIELD and (size > MAX_FIELD + 1 or body.find(b"=", self.start, end) == -1):
            raise HTTPException(400, f"Field exceeded maximum size of {MAX_FIELD // 1024}KB.")
        if ended and size:
            self.fields += 1
            if self.fields > MAX_FIELDS:
                raise HTTPException(400, f"Too many fields. Maximum number of fields is {MAX_FIELDS}.")


def text(form: FormData, key: str, default: str = "") -> str:
    value = form.get(key, default)
    return value if isinstance(value, str) else default


def texts(form: FormData, key: str) -> list[str]:
    return [v for v in form.getlist(key) if isinstance(v, str)]


def env_rows(form: FormData) -> tuple[EnvInput, ...]:
    names, values = texts(form, "env_name"), texts(form, "env_value")
    values += [""] * (len(names) - len(values))
    return tuple(EnvInput(n, v) for n, v in zip(names, values, strict=False))


def template_input(form: FormData) -> TemplateInput:
    values = {key: text(form, key) for key in TEMPLATE_FIELDS}
    values["protocol"] = values["protocol"] or "http"
    return TemplateInput(env=env_rows(form), **values)


def service_input(form: FormData) -> ServiceInput:
    return ServiceInput(text(form, "name"), text(form, "visibility", "public"), template_input(form))


def row_inputs(form: FormData) -> list[RowInput]:
    kinds, revisions = texts(form, "row_kind"), texts(form, "row_revision")
    percents, tags = texts(form, "row_percent"), texts(form, "row_tag")
    count = len(kinds)
    revisions += [""] * (count - len(revisions))
    percents += [""] * (count - len(percents))
    tags += [""] * (count - len(tags))
    return [RowInput(kinds[i], revisions[i], percents[i], tags[i]) for i in range(count)]


def basis(form: FormData) -> Basis:
    """What the posted form was built from (its hidden fields)."""
    return Basis(text(form, "resource_version"), text(form, "basis_uid"), text(form, "basis_generation"),
                 text(form, "basis_traffic"), text(form, "basis_template"), text(form, "basis_history"),
                 text(form, "basis_template_digest")[:64])
