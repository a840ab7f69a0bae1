"""Every console page renders against the dev cluster, with what a user needs on it: the list (and its empty
state), Create Service, details, the wizard's steps, Split Traffic (page and dialog), promote, delete, 404s."""

from __future__ import annotations

import html
import re

import httpx

from app.main import create_app
from app.settings import Settings
from tests.support import wait_for
from tests.web.conftest import KSVC, SECRET, Console, form_values


async def test_home_redirects_to_the_default_namespace(console: Console) -> None:
    response = await console.get("/")
    assert response.status_code == 307 and response.headers["location"] == "/namespaces/default/services"


async def test_empty_list_says_what_to_do(console: Console) -> None:
    ns = console.namespace()
    page = await console.get(f"/namespaces/{ns}/services")
    assert page.status_code == 200
    assert f"There are no Knative Services in the namespace <strong>{ns}</strong> yet." in page.text
    assert f'href="/namespaces/{ns}/services/new">Create Service</a>' in page.text
    assert f'<option value="{ns}" selected>{ns}</option>' in page.text  # the selector lists the namespaces


async def test_list_shows_status_domain_gateway_revision_traffic(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "listed")
    await console.settled(ns, "listed")
    page = await console.get(f"/namespaces/{ns}/services")
    row = re.search(r'<tr data-service="listed">(.*?)</tr>', page.text, re.S).group(1)
    assert "Success" in row
    assert f"listed.{ns}.example.com" in row
    assert console.cluster.gateway_url.removeprefix("http://") in row
    assert "listed-00001" in row
    traffic = re.search(r"<td data-traffic>(.*?)</td>", row, re.S).group(1)
    assert " ".join(re.sub(r"<[^>]+>", " ", traffic).split()) == "latest ready revision (now 00001) 100%"
    assert 'hx-trigger="every' not in page.text  # settled: no polling


async def test_namespace_selector_works_without_javascript(console: Console) -> None:
    response = await console.get("/namespace?namespace=kourier-system")
    assert response.status_code == 303 and response.headers["location"] == "/namespaces/kourier-system/services"
    bad = await console.get("/namespace?namespace=Not_Valid")
    assert bad.status_code == 404 and "is not a valid namespace name" in bad.text


async def test_create_form_labels_every_input(console: Console) -> None:
    page = await console.get("/namespaces/default/services/new")
    assert page.status_code == 200
    for label in ("Service Name", "Image Name", "Access Protocol", "Container Port", "CPU Request", "CPU Limit",
                  "Memory Request", "Memory Limit", "Min Scale", "Max Scale", "Concurrency Target"):
        match = re.search(rf'<label for="([^"]+)">{label}</label>', page.text)
        assert match, label
        assert f'id="{match.group(1)}"' in page.text
    ids = set(re.findall(r'<input id="([^"]+)"', page.text)) | set(re.findall(r'<select id="([^"]+)"', page.text))
    labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', page.text))
    assert ids <= labelled, ids - labelled
    assert 'name="csrf_token"' in page.text


async def test_details_page(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "shown", env={"TARGET": "Details"})
    await console.settled(ns, "shown")
    page = await console.get(f"/namespaces/{ns}/services/shown")
    assert page.status_code == 200
    text = page.text
    assert f"http://shown.{ns}.example.com" in text
    gateway = console.cluster.gateway_url.removeprefix("http://")
    assert f'curl -H &#34;Host: shown.{ns}.example.com&#34; http://{gateway}' in text
    assert "devcluster-admin" in text  # the creator
    for column in ("Name", "Traffic %", "Tags", "Image", "Environment Variables", "Port/Protocol", "Scaling",
                   "Created", "Status"):
        assert f'<th scope="col">{column}</th>' in text
    assert "TARGET=Details" in text and "shown-00001" in text
    assert "ConfigurationsReady" in text and "RoutesReady" in text
    assert "Create Revision" in text and "Split Traffic" in text
    live = await console.get(f"/namespaces/{ns}/services/shown?partial=live")
    assert live.text.lstrip().startswith('<div id="live"') and "<html" not in live.text


async def test_missing_service_is_a_404_page(console: Console) -> None:
    page = await console.get("/namespaces/default/services/nothing-here")
    assert page.status_code == 404
    assert 'There is no Service &#34;nothing-here&#34; in the namespace default. It may have been deleted.' in page.text
    unknown = await console.get("/no/such/page")
    assert unknown.status_code == 404 and "There is no page at this address." in unknown.text


async def test_wizard_steps_are_prefilled(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "wiz", image="example.com/app:1", env={"TARGET": "One"})
    await console.settled(ns, "wiz")
    first = await console.get(f"/namespaces/{ns}/services/wiz/revisions/new")
    assert first.status_code == 200 and 'aria-current="step"' in first.text and "Basic Information" in first.text
    assert form_values(first.text, "image") == ["example.com/app:1"]
    assert form_values(first.text, "env_name") == ["TARGET"]  # carried as hidden fields
    assert "wiz-00002" in first.text  # the name the new revision will get


async def test_split_page_and_dialog(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "split")
    await console.settled(ns, "split")
    page = await console.get(f"/namespaces/{ns}/services/split/traffic")
    assert page.status_code == 200 and "<html" in page.text
    assert "Traffic Ratio (%) for split-00001" in page.text and "Total: 100%" in page.text
    dialog = await console.get(f"/namespaces/{ns}/services/split/traffic",
                               headers={"HX-Request": "true", "HX-Target": "dialog"})
    assert "<html" not in dialog.text and 'class="dialog-body"' in dialog.text
    assert 'hx-post="/namespaces/' in dialog.text and "data-close-dialog" in dialog.text


async def test_promote_confirmation_shows_before_and_after(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "promo")
    await console.settled(ns, "promo")
    page = await console.get(f"/namespaces/{ns}/services/promo/traffic?revision=promo-00001")
    assert "Send 100% of traffic to promo-00001" in page.text
    missing = await console.get(f"/namespaces/{ns}/services/promo/traffic?revision=promo-00009")
    assert missing.status_code == 404 and "is not one of this Service" in missing.text


async def test_delete_confirmation_says_what_goes(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "doomed")
    await console.settled(ns, "doomed")
    page = await console.get(f"/namespaces/{ns}/services/doomed/delete")
    assert "Delete Service doomed?" in page.text
    assert "its Route, its Configuration and" in page.text and "doomed-00001" in page.text
    assert f"Requests to http://doomed.{ns}.example.com will stop being served." in page.text


async def test_static_assets_and_health(console: Console) -> None:
    for path in ("/static/app.css", "/static/app.js", "/static/htmx-2.0.11.min.js", "/static/favicon.svg",
                 "/static/htmx-ext-sse-2.2.4.min.js"):
        response = await console.get(path)
        assert response.status_code == 200, path
    assert (await console.get("/healthz")).text == "ok"


async def test_pages_follow_the_cluster_without_polling_and_keep_a_refresh_link(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "moving")
    listing = await console.get(f"/namespaces/{ns}/services")
    details = await console.get(f"/namespaces/{ns}/services/moving")
    for page, path in ((listing, f"/namespaces/{ns}/services"), (details, f"/namespaces/{ns}/services/moving")):
        assert "hx-trigger" not in page.text  # nothing polls: the stream pushes changes
        assert f'hx-ext="sse" sse-connect="/live{path}?seen=' in page.text
        assert f'<a class="button secondary" href="{path}" data-refresh' in page.text  # without JavaScript
        assert '<div id="connection" class="alert" role="status" sse-swap="connection"></div>' in page.text
        # What a live update changes is said in a sentence here (app.js), not by reading the regions out.
        assert '<div id="announce" class="visually-hidden" role="status"></div>' in page.text
        assert "aria-live" not in page.text
    for region in ("status", "conditions", "traffic", "revisions"):
        assert f'<div id="region-{region}" class="region" sse-swap="{region}">' in details.text
    assert '<section id="services" sse-swap="services">' in listing.text
    assert "In progress" in listing.text


async def test_the_list_is_paged(console: Console) -> None:
    ns = console.namespace()
    for name in ("page-a", "page-b", "page-c"):
        console.create_ksvc(ns, name)
    app = create_app(Settings(kubeconfig=str(console.cluster.kubeconfig), secret_key=SECRET, page_size=2,
                              allowed_hosts="console.test"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://console.test"
    ) as http:
        first = await http.get(f"/namespaces/{ns}/services")
        assert re.findall(r'<tr data-service="([^"]+)">', first.text) == ["page-a", "page-b"]
        assert "Services 1–2 of 3" in html.unescape(first.text)
        following = html.unescape(re.search(r'<a href="([^"]+)" rel="next">Next page', first.text).group(1))
        second = await http.get(following)
        assert re.findall(r'<tr data-service="([^"]+)">', second.text) == ["page-c"]
        assert "Services 3–3 of 3" in html.unescape(second.text) and 'rel="next"' not in second.text
        assert "« First page" in html.unescape(second.text)
        assert following == f"/namespaces/{ns}/services?start=2"  # counted: the same from the cache or a LIST
        stream = html.unescape(re.search(r'sse-connect="([^"]+)"', second.text).group(1))
        assert stream.startswith(f"/live/namespaces/{ns}/services?start=2&seen=")  # this page
        # A link from before, with the API's continue token, is still followed; a stale one starts again.
        token = console.cluster.get(f"{KSVC.format(ns=ns)}?limit=2")["metadata"]["continue"]
        linked = await http.get(f"/namespaces/{ns}/services", params={"continue": token, "start": "2"})
        assert re.findall(r'<tr data-service="([^"]+)">', linked.text) == ["page-c"]
        assert "Services 3–3 of 3" in html.unescape(linked.text)
        stale = await http.get(f"/namespaces/{ns}/services?continue=not-a-token&start=2")
        assert stale.status_code == 303 and stale.headers["location"] == f"/namespaces/{ns}/services"


async def test_many_revisions_show_the_serving_ones_and_the_newest_first(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "many")
    # Its first revision first: a template changed before the controller has seen the Service would be its first.
    wait_for(lambda: console.ksvc(ns, "many").get("status", {}).get("latestCreatedRevisionName") == "many-00001",
             message="revision 1")
    for index in range(2, 26):  # 25 revisions in all, each made before the next template change
        patch = {"spec": {"template": {"spec": {"containers": [
            {"image": "ghcr.io/knative/helloworld-go:latest", "env": [{"name": "TARGET", "value": f"v{index}"}]}]}}}}
        if index == 25:  # the oldest keeps a share: it stays in the table however old it is
            patch["spec"]["traffic"] = [{"revisionName": "many-00001", "percent": 10},
                                        {"latestRevision": True, "percent": 90}]
        code, _, body = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/many", patch,
                                                content_type="application/merge-patch+json")
        assert code == 200, body
        wait_for(lambda index=index: console.ksvc(ns, "many").get("status", {}).get("latestCreatedRevisionName")
                 == f"many-{index:05d}", message=f"revision {index}")
    await console.settled(ns, "many", revisions=25, within=30)
    page = await console.get(f"/namespaces/{ns}/services/many")
    shown = re.findall(r'<tr data-revision="([^"]+)">', page.text)
    assert shown == [f"many-{n:05d}" for n in range(25, 5, -1)] + ["many-00001"]  # newest 20, and the serving one
    assert "Show all 25 revisions" in page.text and "(25)" in page.text
    # Two revisions have traffic: the newest (through the latest-revision entry) and many-00001.
    assert "Shown: the newest 20, and 1 older revision with traffic or a tag." in page.text
    everything = await console.get(f"/namespaces/{ns}/services/many?revisions=all")
    assert len(re.findall(r'<tr data-revision="', everything.text)) == 25
    assert "Show all 25" not in everything.text and "revisions=all" in html.unescape(
        re.search(r'sse-connect="([^"]+)"', everything.text).group(1))  # its stream keeps every row


async def test_list_rows_come_from_the_row_cache_until_their_service_changes(console: Console) -> None:
    ns = console.namespace()
    for name in ("row-a", "row-b"):
        console.create_ksvc(ns, name)
    await console.settled(ns, "row-a")
    await console.settled(ns, "row-b")
    cache = console.http._transport.app.state.rows  # type: ignore[attr-defined]
    first = await console.get(f"/namespaces/{ns}/services")
    keys = {key for key in cache.rows if key[0] == ns}
    assert {key[1] for key in keys} == {"row-a", "row-b"}
    again = await console.get(f"/namespaces/{ns}/services")
    assert again.text == first.text  # the same page from cached rows
    code, _, _ = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/row-b",
                                         {"spec": {"traffic": [{"latestRevision": True, "percent": 100,
                                                                "tag": "fresh"}]}},
                                         content_type="application/merge-patch+json")
    assert code == 200
    await console.settled(ns, "row-b")
    await console.listed_by_cache(ns)  # the list's own cache has the change too (another client made it)
    changed = await console.get(f"/namespaces/{ns}/services")
    assert '<code class="tag" title="Traffic tag">fresh</code>' in changed.text  # the changed row, rendered anew
    cache.rows.clear()
    assert (await console.get(f"/namespaces/{ns}/services")).text == changed.text  # cached = freshly rendered
