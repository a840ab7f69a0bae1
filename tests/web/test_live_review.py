"""The new pages are live too (over real HTTP): an Event about a revision reaches its open page, a change made outside
the console reaches the open history page, and the details page's History section follows a split."""

from __future__ import annotations

import html
import uuid

import httpx

from tests.web.conftest import KSVC, Console, live_settings, open_stream, served
from tests.web.test_live import stream_path


async def test_revision_and_history_pages_follow_the_cluster(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "lv")
    await console.settled(ns, "lv")
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        revision = await http.get(f"/namespaces/{ns}/services/lv/revisions/lv-00001")
        history = await http.get(f"/namespaces/{ns}/services/lv/history")
        async with open_stream(http, stream_path(revision)) as revision_events, \
                open_stream(http, stream_path(history)) as history_events:
            assert (await revision_events.next()).name == ""  # current: heartbeats only
            event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"lv-00001.{uuid.uuid4().hex[:8]}"},
                     "involvedObject": {"kind": "Revision", "name": "lv-00001", "namespace": ns},
                     "reason": "Pulled", "message": "Image pulled", "type": "Normal"}
            code, _, _ = console.cluster.request("POST", f"/api/v1/namespaces/{ns}/events", event)
            assert code == 201
            got = await revision_events.until(lambda e: e.name == "events" and "Image pulled" in e.data)
            assert {e.name for e in got if e.name} <= {"events"}  # only the region that changed
            console.cluster.bind(ns, "edit", user="carol")
            code, _, _ = console.cluster.request(
                "PATCH", f"{KSVC.format(ns=ns)}/lv", {"spec": {"traffic": [{"revisionName": "lv-00001",
                                                                             "percent": 100, "tag": "pin"}]}},
                content_type="application/merge-patch+json", token=console.cluster.user_tokens["carol"])
            assert code == 200
            seen = await history_events.until(lambda e: e.name == "history" and "Changed outside the console"
                                              in e.data and "carol" in e.data)
            assert "traffic now: 00001 100% (tag pin)" in html.unescape(seen[-1].data)
