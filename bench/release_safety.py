"""Release safety, measured: a fuzz run over every form, and false conflicts while a revision becomes ready.

1. Fuzz: posts random and hostile values (Unicode digits, 4,300-digit integers, quantities such as 1e400 and
   1Ei, control characters, markup, over-long text) to every form handler (Create Service, each wizard step,
   Split Traffic, promote, Delete) and random query strings to the pages. Counts requests, 5xx answers, and
   answers that were not a success although the namespace's Services changed (a half-applied change).
2. False conflicts: a user alone creates a revision, opens Split Traffic at once, waits until the new revision
   is Ready, and presses OK. Counts how often the console answers "Someone else changed this Service".

Starts its own dev cluster; the console runs in this process (its lifespan started) over httpx, as the web
tests run it. `python -m bench release_safety`, or with `--posts N --runs N --seed N`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from app.main import create_app
from app.settings import Settings
from app.web.security import COOKIE, token_for
from bench.report import machine
from tests.support import DevClusterProcess, ksvc_manifest

SECRET = "bench-secret"
KSVC = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"
CLUSTER_ARGS = ("--revision-start-delay", "0.3", "--log-level", "warning")
HOSTILE = [
    "", " ", "0", "1", "-1", "50", "100", "101", "65535", "65536", "8012", "²", "٣", "١٠٠", "๕๐", "５０", "1" * 4300,
    "9" * 25, "1e400", "-1e400", "1e-400", "1Ei", "8Ei", "1Gi", "512Mi", "100m", "0.5", ".5", "5.", "1e3", "1E+3",
    "NaN", "nan", "inf", "-inf", "Infinity", "0x10", "1_000", "+5", "50%", "%", " 50 ", "\x00", "\t", "\n",
    "<script>alert(1)</script>", '"><img src=x>', "ａｂｃ", "名前", "🙂", "x" * 5000, "a" * 64, "Bad_Name", "latest",
    "candidate", "@latest", "../../etc", "1.5", "12.5", "-0", "0" * 300 + "1",
]
IMAGES = ["ghcr.io/knative/helloworld-go:latest", "example.com/app:1", "Upper/Case", "x@sha256:zz", ""]


class FormInputs(HTMLParser):
    """The (name, value) pairs of every <input> in the first form with `data-traffic-form`, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.done = False
        self.pairs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and "data-traffic-form" in values and not self.done:
            self.inside = True
        elif tag == "input" and self.inside and values.get("name"):
            self.pairs.append((str(values["name"]), values.get("value") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside, self.done = False, True


async def post_form(http: httpx.AsyncClient, path: str, form: list[tuple[str, str]]) -> httpx.Response:
    return await http.post(path, content=urlencode(form).encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})


def traffic_form(html: str) -> list[tuple[str, str]]:
    parser = FormInputs()
    parser.feed(html)
    return parser.pairs


class Run:
    def __init__(self, http: httpx.AsyncClient, cluster: DevClusterProcess, rng: random.Random) -> None:
        self.http = http
        self.cluster = cluster
        self.rng = rng
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[str] = []
        self.half_applied: list[str] = []
        self.requests = 0

    @property
    def token(self) -> str:
        return token_for(SECRET, self.http.cookies[COOKIE])

    def value(self, *good: str) -> str:
        return self.rng.choice(good) if good and self.rng.random() < 0.4 else self.rng.choice(HOSTILE)

    def values(self, *good: str) -> list[str]:
        return [self.value(*good) for _ in range(self.rng.choice((0, 1, 1, 2, 3)))]

    def state(self, ns: str) -> list[Any]:
        items = self.cluster.get(KSVC.format(ns=ns))["items"]
        return sorted((i["metadata"]["name"], i["metadata"].get("generation"), i["metadata"].get("labels"),
                       i["spec"]) for i in items)

    async def post(self, ns: str, path: str, form: list[tuple[str, str]]) -> None:
        before = self.state(ns)
        response = await post_form(self.http, path, form + [("csrf_token", self.token)])
        self.count(response, path)
        if response.status_code not in (200, 204, 303) and self.state(ns) != before:
            self.half_applied.append(f"{response.status_code} {path} {form!r:.300}")

    async def get(self, path: str) -> None:
        response = await self.http.get(path)
        self.count(response, path)

    def count(self, response: httpx.Response, what: str) -> None:
        self.requests += 1
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{response.status_code} {what}")

    def template_fields(self) -> list[tuple[str, str]]:
        form = [("image", self.value(*IMAGES)), ("protocol", self.value("http", "grpc")),
                ("port", self.value("8080", "9000")),
                ("cpu_request", self.value("100m", "1", "1e400", "0.5")),
                ("cpu_limit", self.value("1", "200m", "1e400")),
                ("memory_request", self.value("128Mi", "1Gi", "1Ei")),
                ("memory_limit", self.value("1Ei", "512Mi", "1Gi")),
                ("min_scale", self.value("0", "1", "3")), ("max_scale", self.value("0", "2", "5")),
                ("target", self.value("100", "0.01", "50"))]
        names = self.values("TARGET", "PORT", "OTHER")
        form += [("env_name", n) for n in names] + [("env_value", v) for v in self.values("x")]
        self.rng.shuffle(form)
        return [f for f in form if self.rng.random() < 0.9]

    def row_fields(self, service: str) -> list[tuple[str, str]]:
        revisions = (f"{service}-00001", f"{service}-00002", "", "other-00001")
        form: list[tuple[str, str]] = []
        for _ in range(self.rng.choice((0, 1, 2, 3))):
            form += [("row_revision", self.value(*revisions)), ("row_percent", self.value("0", "50", "100")),
                     ("row_tag", self.value("", "candidate", "latest")), ("row_latest", self.value("0", "1"))]
        extra = ("row_kind", "form_generation", "form_traffic", "form_template", "resource_version", "generation")
        form += [(name, self.value("", "1", "2")) for name in extra if self.rng.random() < 0.5]
        return form

    async def fuzz(self, ns: str, services: list[str], posts: int) -> None:
        for index in range(posts):
            service = self.rng.choice(services)
            base = f"/namespaces/{ns}/services"
            kind = index % 6
            if kind == 0:
                form = [("name", self.value("fz-new", "a" * 63)), ("visibility", self.value("public", "cluster-local")),
                        ("action", self.value("create", "add-env")), *self.template_fields()]
                await self.post(ns, base, form)
            elif kind in (1, 2):
                form = [("step", self.value("1", "2", "3")), ("action", self.value("next", "previous", "create",
                                                                                  "add-env")),
                        *self.template_fields(), *self.row_fields(service)]
                await self.post(ns, f"{base}/{service}/revisions/new", form)
            elif kind in (3, 4):
                await self.post(ns, f"{base}/{service}/traffic", self.row_fields(service))
            else:
                query = self.rng.choice(("revision", "start", "continue", "partial", "from"))
                value = httpx.QueryParams({query: self.value(f"{service}-00001", "rows", "live", "2")})
                page = self.rng.choice((f"{base}/{service}/traffic", base, f"{base}/{service}",
                                        f"{base}/{service}/revisions/new"))
                await self.get(f"{page}?{value}")
            if index % 500 == 499:
                print(f"  {index + 1} posts", flush=True)


async def settled(cluster: DevClusterProcess, ns: str, name: str, revisions: int, within: float = 30.0) -> dict:
    deadline = time.monotonic() + within
    while True:
        obj = cluster.get(f"{KSVC.format(ns=ns)}/{name}")
        status = obj.get("status", {})
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        if ready and status.get("observedGeneration") == obj["metadata"]["generation"] and \
                status.get("latestReadyRevisionName", "").endswith(f"{revisions:05d}"):
            return obj
        if time.monotonic() > deadline:
            raise RuntimeError(f"{ns}/{name} did not settle: {status}")
        await asyncio.sleep(0.05)


async def false_conflicts(run: Run, ns: str, runs: int) -> tuple[int, list[int]]:
    """create revision → open Split Traffic → wait until Ready → OK, `runs` times; (conflicts, statuses)."""
    conflicts, statuses = 0, []
    for index in range(runs):
        name = f"alone-{index}"
        code, _, body = run.cluster.request("POST", KSVC.format(ns=ns), ksvc_manifest(name, ns))
        assert code == 201, body
        await settled(run.cluster, ns, name, 1)
        wizard = await run.http.get(f"/namespaces/{ns}/services/{name}/revisions/new")
        form = re.search(r'name="resource_version" value="([^"]*)"', wizard.text)
        assert form is not None
        created = await run.http.post(f"/namespaces/{ns}/services/{name}/revisions/new", data={
            "csrf_token": run.token, "step": "3", "action": "create", "resource_version": form.group(1),
            "image": "ghcr.io/knative/helloworld-go:latest", "protocol": "http", "port": "8080",
            "env_name": "TARGET", "env_value": "Knative", **wizard_rows(wizard.text)})
        assert created.status_code == 303, created.text[:2000]
        dialog = await run.http.get(f"/namespaces/{ns}/services/{name}/traffic")
        fields = traffic_form(dialog.text)
        await settled(run.cluster, ns, name, 2)
        response = await post_form(run.http, f"/namespaces/{ns}/services/{name}/traffic", fifty_fifty(fields, name))
        statuses.append(response.status_code)
        if response.status_code == 409 or "Someone else changed" in response.text:
            conflicts += 1
    return conflicts, statuses


def wizard_rows(html: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for name in ("row_revision", "row_percent", "row_tag", "row_latest", "row_kind"):
        found = re.findall(rf'name="{name}" value="([^"]*)"', html)
        if found:
            rows[name] = found
    return rows


def fifty_fifty(fields: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """The dialog's form as shown, with 50% each on the two revisions' own rows and 0% elsewhere."""
    revisions = [value for key, value in fields if key == "row_revision"]
    kinds = [value for key, value in fields if key == "row_kind"] or [""] * len(revisions)
    named = [i for i, revision in enumerate(revisions) if kinds[i] != "latest"
             and revision in (f"{name}-00001", f"{name}-00002") and revisions.index(revision) == i]
    share = str(100 // max(len(named), 1))  # a dialog opened before the revision was listed shows only one
    out, row = [], -1
    for key, value in fields:
        if key == "row_revision":
            row += 1
        if key == "row_percent":
            value = share if row in named else "0"
        out.append((key, value))
    return out


async def measure(cluster: DevClusterProcess, posts: int, runs: int, seed: int) -> None:
    settings = Settings(kubeconfig=str(cluster.kubeconfig), secret_key=SECRET, request_timeout=10.0)
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://127.0.0.1"
    ) as http:
        await http.get("/healthz")
        run = Run(http, cluster, random.Random(seed))
        ns = cluster.new_namespace("fuzz")
        services = ["fz-a", "fz-b"]
        for name in services:
            cluster.request("POST", KSVC.format(ns=ns), ksvc_manifest(name, ns))
        await settled(cluster, ns, "fz-a", 1)
        started = time.monotonic()
        await run.fuzz(ns, services, posts)
        fuzz_seconds = time.monotonic() - started
        conflicts, statuses = await false_conflicts(run, cluster.new_namespace("alone"), runs)
    print(f"\n## Release safety ({machine()})\n")
    answers = dict(sorted(run.statuses.items()))
    print(f"Fuzz (seed {seed}): {run.requests} requests in {fuzz_seconds:.0f} s; answers {answers}")
    print(f"- 5xx answers: {len(run.server_errors)}")
    print(f"- not a success, yet the Services changed: {len(run.half_applied)}")
    for line in (run.server_errors + run.half_applied)[:10]:
        print(f"    {line}")
    print(f"False conflicts: {conflicts} of {runs} runs (create revision → Split Traffic → wait until Ready → OK); "
          f"answers {statuses}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.release_safety", description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2940)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args([] if argv is None else argv)  # `python -m bench` calls main() with its own argv
    cluster = DevClusterProcess(Path(tempfile.mkdtemp(prefix="bench-safety-")), list(CLUSTER_ARGS))
    try:
        cluster.start()
        asyncio.run(measure(cluster, args.posts, args.runs, args.seed))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
