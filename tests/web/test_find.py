"""Finding Services: the filter box (name, image, label; label requirements also sent as a labelSelector), sortable
columns, All namespaces with a Namespace column, paging a filtered list, a filter that cannot be applied said so;
a filtered list stays live."""

from __future__ import annotations

import html
import re

import httpx

from app.main import create_app
from app.settings import Settings
from tests.support import ksvc_manifest
from tests.web.conftest import KSVC, SECRET, Console, live_settings, open_stream, served


def names(page: str) -> list[str]:
    return re.findall(r'<tr data-service="([^"]+)"', page)


def create(console: Console, ns: str, name: str, image: str, labels: dict[str, str] | None = None) -> None:
    manifest = ksvc_manifest(name, ns, image=image)
    if labels:
        manifest["metadata"]["labels"] = labels
    code, _, body = console.cluster.request("POST", KSVC.format(ns=ns), manifest)
    assert code == 201, body.get("message")


async def test_filter_and_sort(console: Console) -> None:
    ns = console.namespace()
    create(console, ns, "payments-api", "example.com/pay:1", {"team": "payments", "tier": "canary"})
    create(console, ns, "payments-web", "example.com/web:1", {"team": "payments"})
    create(console, ns, "search", "example.com/pay-search:2", {"team": "search"})
    listing = f"/namespaces/{ns}/services"
    assert names((await console.get(f"{listing}?filter=web")).text) == ["payments-web"]
    assert names((await console.get(f"{listing}?filter=PAY")).text) == ["payments-api", "payments-web", "search"]
    assert names((await console.get(f"{listing}?filter=pay+team%3Dpayments")).text) == ["payments-api",
                                                                                        "payments-web"]
    assert names((await console.get(f"{listing}?filter=team%3Dpayments+tier!%3Dcanary")).text) == ["payments-web"]
    assert names((await console.get(f"{listing}?filter=canary")).text) == ["payments-api"]  # a label's value
    nothing = await console.get(f"{listing}?filter=nothing-like-this")
    assert names(nothing.text) == [] and "No Service in <strong>" in nothing.text and "Clear the filter" in nothing.text
    assert 'value="nothing-like-this"' in nothing.text  # the box keeps what was typed

    descending = await console.get(f"{listing}?sort=-name")
    assert names(descending.text) == ["search", "payments-web", "payments-api"]
    assert 'aria-sort="descending"><a class="sort" href="/namespaces/' in descending.text
    assert f'href="/namespaces/{ns}/services" data-sort="name"' in descending.text  # back to the default order
    filtered_sorted = await console.get(f"{listing}?filter=payments&sort=-created")
    assert set(names(filtered_sorted.text)) == {"payments-api", "payments-web"}
    assert 'name="sort" value="-created"' in filtered_sorted.text  # the filter box keeps the order

    bad = await console.get(f"{listing}?filter=%3Dx")
    assert bad.status_code == 400 and names(bad.text) == []
    assert 'has no label key before &#34;=&#34;: write key=value.' in bad.text and 'value="=x"' in bad.text


async def test_all_namespaces(console: Console) -> None:
    first, second = console.namespace(), console.namespace()
    create(console, first, "everywhere", "example.com/app:1")
    create(console, second, "everywhere", "example.com/app:1")
    chosen = await console.get("/namespace?namespace=*")
    assert chosen.status_code == 303 and chosen.headers["location"] == "/services"
    page = await console.get("/services?filter=everywhere&sort=namespace")
    assert page.status_code == 200
    rows = re.findall(r'<tr data-service="everywhere" data-namespace="([^"]+)">', page.text)
    assert rows == sorted([first, second])
    assert '<th scope="col" aria-sort="ascending"><a class="sort" href="/services?filter=everywhere&amp;sort=-namespace"' \
           in page.text
    assert f'<a href="/namespaces/{first}/services/everywhere">everywhere</a>' in page.text
    assert '<option value="*" selected>All namespaces</option>' in page.text
    assert "Create Service" not in page.text.split("<main")[1].split('id="services"')[0]  # it needs a namespace
    unfiltered = await console.get("/services")
    assert len(names(unfiltered.text)) >= 2 and 'sse-connect="/live/services?seen=' in unfiltered.text


async def test_a_filtered_list_is_paged_and_live(console: Console) -> None:
    ns = console.namespace()
    for index in range(5):
        create(console, ns, f"item-{index}", "example.com/app:1", {"group": "a" if index % 2 else "b"})
    app = create_app(Settings(kubeconfig=str(console.cluster.kubeconfig), secret_key=SECRET, page_size=2,
                              allowed_hosts="console.test"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://console.test") as http:
        first = await http.get(f"/namespaces/{ns}/services?filter=item&sort=-name")
        assert names(first.text) == ["item-4", "item-3"] and "Services 1–2 of 5 matching the filter" in first.text
        following = html.unescape(re.search(r'<a href="([^"]+)" rel="next">', first.text).group(1))
        assert following == f"/namespaces/{ns}/services?filter=item&sort=-name&start=2"
        assert names((await http.get(following)).text) == ["item-2", "item-1"]
        beyond = await http.get(f"/namespaces/{ns}/services?filter=item&sort=-name&start=900")
        assert names(beyond.text) == ["item-0"]  # past the end: the last page
    async with served(live_settings(console.cluster)) as server, httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/namespaces/{ns}/services?filter=group%3Da")
        assert names(page.text) == ["item-1", "item-3"]
        stream = html.unescape(re.search(r'sse-connect="([^"]+)"', page.text).group(1))
        assert "filter=group%3Da" in stream
        async with open_stream(http, stream) as events:
            create(console, ns, "late", "example.com/app:1", {"group": "a"})
            got = await events.until(lambda e: e.name == "services" and 'data-service="late"' in e.data)
            assert names(got[-1].data) == ["item-1", "item-3", "late"]
