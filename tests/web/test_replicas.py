"""Two replicas behind one address, as deploy/ runs them (`--auth token`, one KNATIVE_CONSOLE_SECRET_KEY): a browser
sent to either at each request stays signed in, and a form one served is accepted by the other; a replica with
another key accepts neither (so the first part is not vacuous). Two apps, each with its own lifespan and cluster
client, against the dev cluster."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from urllib.parse import urlencode

import httpx

from app.main import create_app
from app.settings import Settings
from tests.support import DevClusterProcess
from tests.web.conftest import SECRET, form_fields

HOST = "console.test"


class Balancer(httpx.AsyncBaseTransport):
    """One address in front of several apps: each request goes to the replica `to` names (one browser, one jar)."""

    def __init__(self, apps: list[httpx.ASGITransport]) -> None:
        self.apps, self.to = apps, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.apps[self.to].handle_async_request(request)


@asynccontextmanager
async def replicas(cluster: DevClusterProcess, *keys: str) -> AsyncIterator[tuple[httpx.AsyncClient, Balancer]]:
    """A browser in front of a replica per key; `balancer.to` picks the replica of the next request."""
    async with AsyncExitStack() as stack:
        apps = []
        for key in keys:
            app = create_app(Settings(kubeconfig=str(cluster.kubeconfig), secret_key=key, request_timeout=5.0,
                                      allowed_hosts=HOST, auth="token"))
            await stack.enter_async_context(app.router.lifespan_context(app))
            apps.append(httpx.ASGITransport(app=app))
        balancer = Balancer(apps)
        async with httpx.AsyncClient(transport=balancer, base_url=f"http://{HOST}") as browser:
            yield browser, balancer


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def test_a_browser_moves_between_replicas_with_one_key(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("replicas")
    devcluster.bind(ns, "edit", user="alice")
    async with replicas(devcluster, SECRET, SECRET) as (browser, balancer):
        form = await browser.get("/signin")
        balancer.to = 1
        signed = await browser.post("/signin", data={"csrf_token": csrf_of(form.text), "next": "/",
                                                     "token": devcluster.user_tokens["alice"]})
        assert signed.status_code == 303, signed.text
        balancer.to = 0
        page = await browser.get(f"/namespaces/{ns}/services")
        assert page.status_code == 200 and 'alice <span class="hint">via token</span>' in page.text
        balancer.to = 1
        create = await browser.get(f"/namespaces/{ns}/services/new")
        fields = [(k, v) for k, v in form_fields(create.text, "create-service") if k not in ("name", "image")]
        fields += [("name", "moved"), ("image", "ghcr.io/knative/helloworld-go:latest"), ("action", "create")]
        balancer.to = 0
        made = await browser.post(f"/namespaces/{ns}/services", content=urlencode(fields).encode(),
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert made.status_code == 303 and made.headers["location"] == \
            f"/namespaces/{ns}/services/moved#region-status", made.text
        code, _, body = devcluster.request("GET", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services/moved")
        assert code == 200 and body["metadata"]["annotations"]["serving.knative.dev/creator"] == "alice"


async def test_a_replica_with_another_key_accepts_neither_session_nor_form(devcluster: DevClusterProcess) -> None:
    ns = devcluster.new_namespace("replicas")
    devcluster.bind(ns, "edit", user="alice")
    async with replicas(devcluster, SECRET, SECRET + "-other") as (browser, balancer):
        form = await browser.get("/signin")
        balancer.to = 1
        refused = await browser.post("/signin", data={"csrf_token": csrf_of(form.text), "next": "/",
                                                      "token": devcluster.user_tokens["alice"]})
        assert refused.status_code == 403
        balancer.to = 0
        signed = await browser.post("/signin", data={"csrf_token": csrf_of(form.text), "next": "/",
                                                     "token": devcluster.user_tokens["alice"]})
        assert signed.status_code == 303
        balancer.to = 1
        away = await browser.get(f"/namespaces/{ns}/services")
        assert away.status_code == 303 and away.headers["location"].startswith("/signin")
