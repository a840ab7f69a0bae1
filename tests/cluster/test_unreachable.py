"""When the API server cannot be reached, or stops answering halfway: real sockets that refuse, stay silent, close
mid-answer or speak something else, and a dev cluster killed while a watch streams. Each failure is said in a user's
words (what happened and what to check), never in the client library's ("Response payload is not completed:
<TransferEncodingError: 400 …>", "Connect call failed", an empty TimeoutError); that text goes to the console's log."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from app.cluster import errors
from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import Unreachable
from tests.support import DevClusterProcess

# What the client library (aiohttp, ssl, the OS) says, which a user must never be shown.
LIBRARY_WORDS = ("payload", "TransferEncodingError", "ContentLengthError", "400", "Server disconnected", "ssl:",
                 "SSL:", "Connect call failed", "Errno", "Cannot connect to host", "message=", "_ssl.c",
                 "Name or service", "url=")

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def kubeconfig(path: Path, server: str, ca: Path | None = None) -> Path:
    authority = f"    certificate-authority: {ca}\n" if ca else ""
    path.write_text(f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n{authority}"
                    "contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n"
                    "users:\n- name: u\n  user: {}\n")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answering(raw: bytes) -> Handler:
    """A server that reads a request's headers, sends `raw` and closes the connection."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(raw)
        await writer.drain()
        writer.close()

    return handler


# A watch's answer (chunked) that stops mid-chunk: what a killed API server leaves.
cut_chunked = answering(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"40\r\n{\"kind\":")
cut_sized = answering(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"kind\":")
hang_up = answering(b"")
not_http = answering(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A plain-HTTP server, whatever it is sent (a TLS ClientHello, say). It reads all that has come before it answers
    and closes: a socket closed with bytes unread sends a reset, which the client may take before the answer (the
    connection then "broke off", not "could not set up TLS": seen once in a suite run)."""
    await reader.read(65536)
    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()
    writer.close()


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def failure(config: Path, watch: bool = False) -> Unreachable:
    client = await Cluster.connect(str(config), request_timeout=1)
    try:
        with pytest.raises(Unreachable) as caught:
            if watch:
                async with client.watch(r.CONFIGMAP, "default") as events:
                    async for _ in events:
                        pass
            else:
                await client.list(r.CONFIGMAP, "default")
        return caught.value
    finally:
        await client.close()


def assert_plain(error: Unreachable, server: str, cause: str, caplog: pytest.LogCaptureFixture,
                 logged: bool = True) -> None:
    """Said in a user's words; with `logged`, the library's words went to the log (a failure in an outage already
    said is only counted: tests/cluster/test_outage_log.py)."""
    assert error.cause == cause, (error.cause, error.detail)
    assert error.message == f"Cannot reach the Kubernetes API server at {server}: {errors.CAUSES[cause]}".format(
        within="in time")
    said = error.message.replace(server, "")  # the address may hold a library word: port 40023 holds "400"
    assert not [word for word in LIBRARY_WORDS if word in said], error.message
    assert error.detail  # the library's own account, for the log
    assert not logged or any(error.detail in record.getMessage() and server in record.getMessage() for record in caplog.records
               if record.name == "knative_console.cluster"), [record.getMessage() for record in caplog.records]


@pytest.mark.parametrize(("handler", "watch", "cause"), [
    (cut_chunked, True, errors.CUT_OFF),
    (cut_chunked, False, errors.CUT_OFF),
    (cut_sized, False, errors.CUT_OFF),
    (hang_up, False, errors.CUT_OFF),
    (not_http, False, errors.NOT_KUBERNETES),
], ids=["watch-cut-mid-chunk", "list-cut-mid-chunk", "list-cut-short-of-its-length", "hangs-up", "not-http"])
async def test_a_server_that_breaks_off_or_speaks_something_else(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                                  handler: Handler, watch: bool, cause: str) -> None:
    caplog.set_level(logging.WARNING, "knative_console.cluster")
    async with serving(handler) as address:
        error = await failure(kubeconfig(tmp_path / "kubeconfig", f"http://{address}"), watch)
    assert_plain(error, f"http://{address}", cause, caplog)


async def test_nothing_listens_silence_and_no_such_host(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "knative_console.cluster")
    refused = f"http://127.0.0.1:{free_port()}"
    assert_plain(await failure(kubeconfig(tmp_path / "refused", refused)), refused, errors.REFUSED, caplog)
    with socket.socket() as listener:  # accepts (the kernel does) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        silent = f"http://127.0.0.1:{listener.getsockname()[1]}"
        error = await failure(kubeconfig(tmp_path / "silent", silent))
    assert error.cause == errors.TIMEOUT
    assert error.message == f"Cannot reach the Kubernetes API server at {silent}: it did not answer within 1 s (it " \
                            "may be overloaded, or the network may be dropping the connection)"
    unknown = "https://no-such-host.invalid:6443"  # .invalid never resolves (RFC 6761)
    assert_plain(await failure(kubeconfig(tmp_path / "unknown", unknown)), unknown, errors.NO_SUCH_HOST, caplog)


async def test_tls_that_does_not_match(tmp_path: Path, devcluster: DevClusterProcess,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "knative_console.cluster")
    untrusted = devcluster.api_url  # the dev cluster's certificate, without its CA
    assert_plain(await failure(kubeconfig(tmp_path / "untrusted", untrusted)), untrusted, errors.CERTIFICATE, caplog)
    async with serving(plain_http) as address:  # https:// to a server that speaks plain HTTP
        assert_plain(await failure(kubeconfig(tmp_path / "plain", f"https://{address}")), f"https://{address}",
                     errors.TLS, caplog)


async def test_a_dev_cluster_killed_while_a_watch_streams(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "knative_console.cluster")
    cluster = DevClusterProcess(tmp_path / "killed", ["--bookmark-interval", "0.2"]).start()
    client = await Cluster.connect(str(cluster.kubeconfig), request_timeout=2)
    try:
        with pytest.raises(Unreachable) as caught:
            async with client.watch(r.CONFIGMAP, "default") as events:
                async for kind, _ in events:
                    if kind == "BOOKMARK" and cluster.process is not None:
                        cluster.stop(signal.SIGKILL)
        assert_plain(caught.value, cluster.api_url, errors.CUT_OFF, caplog)
        with pytest.raises(Unreachable) as again:
            await client.list(r.CONFIGMAP, "default")
        assert_plain(again.value, cluster.api_url, errors.REFUSED, caplog, logged=False)  # the same outage
    finally:
        await client.close()
        cluster.stop()


PROXY_PAGE = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
              b"<hr><center>nginx</center></body></html>\r\n")
# What a reverse proxy in front of the API server answers when its upstream is down: an HTML page, no Status.
bad_gateway = answering(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: "
                        + str(len(PROXY_PAGE)).encode() + b"\r\nConnection: close\r\n\r\n" + PROXY_PAGE)


async def test_an_error_answer_that_is_not_the_api_servers_own(tmp_path: Path) -> None:
    """A proxy's 502 with an HTML page (no Kubernetes Status) is said to come from something in front of the API
    server, with what to check: never "Bad Gateway: Bad Gateway" (found by a walkthrough)."""
    async with serving(bad_gateway) as address:
        client = await Cluster.connect(str(kubeconfig(tmp_path / "kubeconfig", f"http://{address}")), request_timeout=2)
        try:
            with pytest.raises(errors.NotFromApiServer) as caught:
                await client.list(r.CONFIGMAP, "default")
        finally:
            await client.close()
    error = caught.value
    assert (error.code, error.reason) == (502, "Bad Gateway")
    assert error.message == (
        f"http://{address} answered 502 Bad Gateway with an HTML page, not with the Kubernetes API server's own "
        "answer (a Status): something in front of the API server (a proxy, load balancer or tunnel) answered for it. "
        "Check that the API server behind it is running and that it can reach it, or that the kubeconfig's address "
        "is the API server's.")
    assert "nginx" not in error.message and "<" not in error.message
