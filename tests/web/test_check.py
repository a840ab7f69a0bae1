"""Check traffic: requests through the dev cluster's gateway counted per revision against the configured split
(exact at 50/50 over whole decks of 100), a tag's host, progress as server-sent events, a clear message when the
gateway cannot be reached, the cap on checks running at once, and cancelling: the requests stop with the stream."""

from __future__ import annotations

import asyncio
import html
import re
import socket
from pathlib import Path

import httpx

from app.settings import Settings
from app.web.check import MAX_RUNNING
from tests.support import DevClusterProcess
from tests.web.conftest import KSVC, SECRET, Console, served
from tests.web.test_writes import _two_revisions


def rows(page: str) -> dict[str, tuple[str, str, str]]:
    """The results table: label → (configured, observed, answers)."""
    found = {}
    for label, attributes, count in re.findall(
            r'<tr data-check-row="([^"]+)"([^>]*)>.*?<td class="num">([\d,]+)</td>', page, re.S):
        configured = re.search(r'data-configured="([^"]+)"', attributes)
        observed = re.search(r'data-observed="([^"]+)"', attributes)
        found[html.unescape(label)] = (configured.group(1) if configured else "", observed.group(1), count)
    return found


def events(body: str) -> list[tuple[str, str]]:
    parsed = []
    for block in body.split("\n\n"):
        name = re.search(r"^event: (.*)$", block, re.M)
        if name:
            parsed.append((name.group(1), "\n".join(re.findall(r"^data: (.*)$", block, re.M))))
    return parsed


async def fifty_fifty(console: Console, ns: str, name: str) -> None:
    await _two_revisions(console, ns, name)
    split = {"spec": {"traffic": [{"revisionName": f"{name}-00001", "percent": 50},
                                  {"revisionName": f"{name}-00002", "percent": 50, "tag": "candidate"}]}}
    code, _, body = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/{name}", split,
                                            content_type="application/merge-patch+json")
    assert code == 200, body
    await console.settled(ns, name, revisions=2)  # a new split starts a new deck of 100 at the gateway


async def test_the_counts_follow_the_split(console: Console) -> None:
    ns = console.namespace()
    await fifty_fifty(console, ns, "chk")
    form = await console.get(f"/namespaces/{ns}/services/chk/check")
    assert form.status_code == 200 and 'name="requests"' in form.text and 'value="200"' in form.text
    assert f'<option value="candidate">candidate-chk.{ns}.example.com (tag candidate)</option>' in form.text
    gateway = console.cluster.gateway_url.removeprefix("http://")
    assert f'for i in $(seq 200); do curl -s -H &#34;Host: chk.{ns}.example.com&#34; http://{gateway}; echo; done' \
           in form.text
    done = await console.post(f"/namespaces/{ns}/services/chk/check", {"requests": "200"})
    assert done.status_code == 200 and "200 of 200 requests" in done.text and "Done." in done.text
    # The dev cluster's gateway deals a fresh deck of 100 cards per split: 200 requests are two whole decks.
    assert rows(done.text) == {"00001": ("50", "50.0", "100"), "00002": ("50", "50.0", "100")}
    assert "Attributed by the gateway's X-Knative-Revision header." in done.text
    tagged = await console.post(f"/namespaces/{ns}/services/chk/check", {"requests": "30", "target": "candidate"})
    assert rows(tagged.text) == {"00002": ("100", "100.0", "30")}
    tag_loop = f'for i in $(seq 30); do curl -s -H &#34;Host: candidate-chk.{ns}.example.com&#34; http://{gateway}'
    assert tag_loop in tagged.text
    # With JavaScript only the results are swapped in: the curl loop beside them comes along, out of band, so that
    # it is the check that runs (before, it went on naming the Service's host and 200 requests).
    frame = await console.post(f"/namespaces/{ns}/services/chk/check", {"requests": "30", "target": "candidate"},
                               headers={"HX-Request": "true"})
    line = re.search(r'<[^>]+id="check-curl-line"[^>]*>.*?</p>\s*</div>', frame.text, re.S)
    assert line and 'hx-swap-oob="true"' in line.group(0) and tag_loop in line.group(0), frame.text


async def test_progress_comes_as_events_until_done(console: Console) -> None:
    ns = console.namespace()
    await fifty_fifty(console, ns, "ev")
    frame = await console.post(f"/namespaces/{ns}/services/ev/check", {"requests": "400"},
                               headers={"HX-Request": "true"})
    stream = html.unescape(re.search(r'sse-connect="([^"]+)"', frame.text).group(1))
    assert stream.startswith(f"/live/namespaces/{ns}/services/ev/check?requests=400&target=&sig=")
    assert 'sse-swap="check,done" sse-close="done"' in frame.text
    running = console.http._transport.app.state.checks  # type: ignore[attr-defined]
    for forged in (stream.split("&sig=")[0], stream.replace("requests=400", "requests=2000")):
        # Linked to from elsewhere, or changed: the console sends nothing through the gateway.
        refused = events((await console.get(forged)).text)
        assert [name for name, _ in refused] == ["done"] and "not started from this console" in refused[0][1]
        assert running.count == 0 and "requests to" not in refused[0][1]
    answer = await console.get(stream)
    assert answer.headers["content-type"].startswith("text/event-stream")
    got = events(answer.text)
    names = [name for name, _ in got]
    assert names[0] == "check" and names[-1] == "done" and names.count("done") == 1
    first = re.search(r"([\d,]+) of 400 requests", got[0][1])
    assert first and int(first.group(1)) < 400 and "data-cancel-check" in got[0][1]  # still running, cancellable
    assert rows(got[-1][1]) == {"00001": ("50", "50.0", "200"), "00002": ("50", "50.0", "200")}
    again = await console.get(stream, headers={"Last-Event-ID": "3"})  # a reconnect does not run it again
    assert [name for name, _ in events(again.text)] == ["done"] and "start it again" in again.text


async def test_the_terminal_line_follows_the_check_started(console: Console) -> None:
    """The dialog's "The same in a terminal" curl loop is the check that was started (its host and count), not the
    Service's host at 200 that the dialog opened with (found by a walkthrough: a tag's check showed the other loop)."""
    ns = console.namespace()
    await fifty_fifty(console, ns, "term")
    gateway = console.cluster.gateway_url.removeprefix("http://")
    loop = (f'<code class="copy" id="check-curl">for i in $(seq 30); do curl -s -H '
            f'&#34;Host: candidate-term.{ns}.example.com&#34; http://{gateway}; echo; done | sort | uniq -c</code>')
    frame = await console.post(f"/namespaces/{ns}/services/term/check", {"requests": "30", "target": "candidate"},
                               headers={"HX-Request": "true"})
    assert frame.status_code == 200, frame.text
    swapped = re.search(r'<div id="check-curl-line" hx-swap-oob="true">.*?</div>', frame.text, re.S)
    assert swapped and loop in swapped.group(0), frame.text  # beside the results, in place of the dialog's line
    plain = await console.post(f"/namespaces/{ns}/services/term/check", {"requests": "30", "target": "candidate"})
    assert loop in plain.text and 'hx-swap-oob' not in plain.text.split('id="check-curl-line"')[1][:40]


async def test_bad_parameters_and_the_cap(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "bad")
    await console.settled(ns, "bad")
    page = await console.post(f"/namespaces/{ns}/services/bad/check", {"requests": "5000", "target": "nope"})
    assert page.status_code == 422
    assert "Enter a number of requests from 1 to 2,000." in page.text and 'value="5000"' in page.text
    assert "The Service has no tag &#34;nope&#34;" in page.text
    partial = await console.post(f"/namespaces/{ns}/services/bad/check", {"requests": "0"},
                                 headers={"HX-Request": "true"})
    assert partial.status_code == 422 and "<html" not in partial.text and "Nothing was sent." in partial.text
    running = console.http._transport.app.state.checks  # type: ignore[attr-defined]
    running.count = MAX_RUNNING
    try:
        full = await console.post(f"/namespaces/{ns}/services/bad/check", {"requests": "5"})
        assert f"{MAX_RUNNING} traffic checks are running in this console already" in full.text
    finally:
        running.count = 0


async def test_a_gateway_out_of_reach_is_said_so_and_cancelling_stops_the_requests(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "far")
    await console.settled(ns, "far")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    settings = Settings(kubeconfig=str(console.cluster.kubeconfig), secret_key=SECRET, gateway=f"127.0.0.1:{closed}")
    async with served(settings) as server, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        form = await http.get(f"/namespaces/{ns}/services/far/check")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        page = await http.post(f"/namespaces/{ns}/services/far/check", data={"requests": "50", "csrf_token": token})
        assert page.status_code == 200
        assert f"The console could not reach the gateway at 127.0.0.1:{closed} from where it runs: connection " \
               "refused (nothing listens at that address)." in page.text
        assert "run the curl loop below from inside its network" in page.text and "8 of 50 requests" in page.text

    accepted = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        while await reader.read(1024):
            pass
        writer.close()

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    settings = Settings(kubeconfig=str(console.cluster.kubeconfig), secret_key=SECRET, gateway=f"127.0.0.1:{port}")
    try:
        async with served(settings) as server, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            running = server.app.state.checks
            form = await http.get(f"/namespaces/{ns}/services/far/check")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
            frame = await http.post(f"/namespaces/{ns}/services/far/check", data={"requests": "100", "csrf_token": token},
                                    headers={"HX-Request": "true"})
            stream = html.unescape(re.search(r'sse-connect="([^"]+)"', frame.text).group(1))
            async with http.stream("GET", stream):
                await asyncio.wait_for(accepted.wait(), 10)
                assert running.count == 1
            for _ in range(200):  # the browser went: the check ends and its requests with it, well before 5 s each
                if running.count == 0:
                    break
                await asyncio.sleep(0.01)
            assert running.count == 0
    finally:
        silent.close()
        await silent.wait_closed()


async def test_without_a_known_gateway_start_says_why_and_a_check_posted_anyway_is_refused(
        devcluster: DevClusterProcess, tmp_path: Path) -> None:
    """A console whose credentials may not read knative-serving/config-network does not know the gateway: Start is
    disabled (aria-disabled, so that it is still reached) with the reason tied to it, and a check posted anyway (no
    JavaScript, or by hand) is refused with the reason, nothing sent through the gateway."""
    ns = devcluster.new_namespace("blind")
    devcluster.bind(ns, "view", user="bob")
    admin = Console(None, devcluster)  # type: ignore[arg-type] - only its API helpers are used
    admin.create_ksvc(ns, "blind")
    await admin.settled(ns, "blind")
    kubeconfig = devcluster.kubeconfig_for(tmp_path / "bob.kubeconfig", devcluster.user_tokens["bob"])
    settings = Settings(kubeconfig=str(kubeconfig), secret_key=SECRET)
    why = "The console may not read knative-serving/config-network; set the gateway address with --gateway or " \
          "KNATIVE_CONSOLE_GATEWAY."
    async with served(settings) as server, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        form = await http.get(f"/namespaces/{ns}/services/blind/check")
        assert form.status_code == 200
        assert '<button type="submit" data-start-check aria-disabled="true" aria-describedby="no-gateway">Start' \
            in form.text
        notice = re.search(r'<p class="alert" role="alert" id="no-gateway">(.*?)</p>', form.text, re.S)
        assert notice and html.unescape(notice.group(1)) == \
            f"The gateway's address is not known, so the console cannot check the traffic: {why}"
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        page = await http.post(f"/namespaces/{ns}/services/blind/check", data={"requests": "5", "csrf_token": token})
        assert page.status_code == 200
        assert "The gateway&#39;s address is not known, so the console cannot send requests through it: " \
               f"{html.escape(why)}" in page.text
        assert not rows(page.text)  # nothing was sent, so nothing counted
