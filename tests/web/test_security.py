"""Security: every POST needs the CSRF token (forms or the htmx header) and a same-origin Origin; headers
(CSP without inline scripts, frame-ancestors 'none', nosniff); everything from the cluster is escaped."""

from __future__ import annotations

import asyncio
import re

from tests.support import DevClusterProcess
from tests.web.conftest import KSVC, Console, live_settings, served
from tests.web.test_writes import _create_form


async def test_post_without_token_is_refused_and_changes_nothing(console: Console) -> None:
    ns = console.namespace()
    response = await console.post(f"/namespaces/{ns}/services", _create_form("sneaky"), csrf=False)
    assert response.status_code == 403
    assert "The form is missing its security token or it has expired." in response.text
    forged = await console.post(f"/namespaces/{ns}/services", dict(_create_form("sneaky"), csrf_token="forged"))
    assert forged.status_code == 403
    assert console.cluster.get(KSVC.format(ns=ns))["items"] == []


async def test_post_from_another_origin_is_refused(console: Console) -> None:
    ns = console.namespace()
    response = await console.post(f"/namespaces/{ns}/services", _create_form("crossed"),
                                  headers={"Origin": "http://evil.example"})
    assert response.status_code == 403 and "The request came from another site." in response.text
    same = await console.post(f"/namespaces/{ns}/services", _create_form("allowed"),
                              headers={"Origin": "http://console.test"})
    assert same.status_code == 303


async def test_htmx_header_carries_the_token(console: Console) -> None:
    ns = console.namespace()
    page = await console.get(f"/namespaces/{ns}/services")
    token = re.search(r'hx-headers=\'\{"X-CSRF-Token": "([^"]+)"\}\'', page.text).group(1)
    assert token == console.token
    response = await console.http.post(f"/namespaces/{ns}/services", data=_create_form("viahtmx"),
                                       headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/namespaces/{ns}/services/viahtmx"


async def test_security_headers(console: Console) -> None:
    response = await console.get("/namespaces/default/services")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in response.text.replace('<script src="/static/', "")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


async def test_cluster_values_are_escaped(console: Console) -> None:
    ns = console.namespace()
    payload = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    console.create_ksvc(ns, "xss", env={"TARGET": payload}, image="ghcr.io/knative/helloworld-go:latest")
    await console.settled(ns, "xss")
    for path in (f"/namespaces/{ns}/services/xss", f"/namespaces/{ns}/services/xss/revisions/new",
                 f"/namespaces/{ns}/services"):
        page = await console.get(path)
        assert payload not in page.text
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    details = await console.get(f"/namespaces/{ns}/services/xss")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in details.text


async def test_a_huge_post_without_a_token_is_refused_before_it_is_all_sent(devcluster: DevClusterProcess) -> None:
    """Anyone may post (the CSRF check reads the form to find its token): a body over the form limits is refused once
    the limit is crossed, not held whole in memory first (256 MB here, several times over). Sent in chunks, without a
    Content-Length, which would have it refused at once (the next test)."""
    total = 256 * 1024 * 1024
    async with served(live_settings(devcluster)) as server:
        host, port = server.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"POST /namespaces/default/services HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: kc_csrf=x\r\n"
                     f"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        sent = 0

        async def send() -> None:  # chunked: no length to refuse it by before it is read
            nonlocal sent
            chunk = b"10000\r\n" + b"v" * 65536 + b"\r\n"
            while sent < total:
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)

        sending = asyncio.create_task(send())
        try:
            status = await asyncio.wait_for(reader.readline(), 60)
        finally:
            sending.cancel()
            writer.transport.abort()
        assert status.startswith(b"HTTP/1.1 400"), status
        assert sent < total // 4, f"{sent / 2**20:.0f} MB of {total / 2**20:.0f} were read before the answer"


async def test_a_post_that_says_it_is_over_4_mb_is_refused_before_its_body(devcluster: DevClusterProcess) -> None:
    async with served(live_settings(devcluster)) as server:
        host, port = server.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"POST /namespaces/default/services HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: kc_csrf=x\r\n"
                     f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {5 * 2**20}\r\n\r\n".encode())
        try:
            answer = await asyncio.wait_for(reader.read(65536), 30)
        finally:
            writer.transport.abort()
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"The form is larger than 4 MB" in answer


async def test_a_multipart_post_is_not_read(console: Console) -> None:
    """The console's pages post urlencoded forms only; a multipart body (whose files Starlette would write to disk
    for the CSRF check to look among) is not read: its token is not seen, and nothing is written."""
    ns = console.namespace()
    await console.get("/healthz")
    fields = {**_create_form("parted"), "csrf_token": console.token}
    answer = await console.http.post(f"/namespaces/{ns}/services", files={"big": ("big", b"x" * 4096)}, data=fields)
    assert answer.request.headers["content-type"].startswith("multipart/form-data")
    assert answer.status_code == 403
    assert "The form is missing its security token or it has expired." in answer.text
    assert console.cluster.get(KSVC.format(ns=ns))["items"] == []
