"""A revision whose instances the namespace's ResourceQuota or LimitRange refuses, in the console (over httpx, against
the session's dev cluster, whose API server applies them as kube-apiserver does): the Services list, the details page
and the revision page say which quota or limit range, which resource and the amounts, and what to do; the ReplicaSet's
FailedCreate warnings ("Error creating: …") are among the revision's events; once the quota is raised the revision
starts by itself and the pages say it is Ready."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

from tests.support import DevClusterProcess, ksvc_manifest, wait_for
from tests.web.conftest import Console, form_fields
from tests.web.test_identity import console_as, post_fields, sign_in
from tests.web.test_writes import submit, wizard_path

SERVING = "/apis/serving.knative.dev/v1/namespaces/{ns}"


def _ready(cluster: DevClusterProcess, ns: str, name: str) -> str:
    code, _, revision = cluster.request("GET", SERVING.format(ns=ns) + f"/revisions/{name}")
    if code == 404:
        return ""
    assert code == 200, (code, revision)
    return next((c["status"] for c in (revision.get("status") or {}).get("conditions", []) if c["type"] == "Ready"),
                "")


def _create(console: Console, ns: str, name: str, resources: dict[str, Any]) -> None:
    manifest = ksvc_manifest(name, ns)
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"] = resources
    code, _, body = console.cluster.request("POST", SERVING.format(ns=ns) + "/services", manifest)
    assert code == 201, body


def _failed_creates(cluster: DevClusterProcess, ns: str) -> list[dict[str, Any]]:
    return [e for e in cluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
            if e["reason"] == "FailedCreate" and e["involvedObject"]["kind"] == "ReplicaSet"]


def _refused_event(cluster: DevClusterProcess, ns: str) -> bool:
    events = cluster.get(f"/api/v1/namespaces/{ns}/events")["items"]
    return any(e["reason"] == "FailedCreate" and e["involvedObject"]["kind"] == "ReplicaSet" for e in events)


async def test_a_revision_the_quota_refuses_is_explained_and_starts_once_the_quota_is_raised(console: Console) -> None:
    ns = console.namespace()
    code, _, body = console.cluster.request("POST", f"/api/v1/namespaces/{ns}/resourcequotas", {
        "metadata": {"name": "small"}, "spec": {"hard": {"requests.cpu": "100m"}}})
    assert code == 201, body
    _create(console, ns, "web", {"requests": {"cpu": "500m"}})
    wait_for(lambda: _ready(console.cluster, ns, "web-00001") == "False", timeout=15, message="web-00001 refused")
    wait_for(lambda: _refused_event(console.cluster, ns), message="the ReplicaSet's FailedCreate event")
    await asyncio.sleep(0.3)  # the Service's status follows the revision's
    said = ("Kubernetes refuses to create its instances: they would exceed the namespace's ResourceQuota small (CPU "
            "requests: each instance asks for 525m, more than the 100m allowed in all)")
    # The pages that know the revision's container say what of the 525m is queue-proxy's.
    detailed = ("Kubernetes refuses to create its instances: they would exceed the namespace's ResourceQuota small (CPU "
                "requests: each instance asks for 525m (its container's 500m, the rest for queue-proxy, the container "
                "Knative adds to each instance), more than the 100m allowed in all)")

    listing = html.unescape((await console.get(f"/namespaces/{ns}/services")).text)
    assert f"Revision web-00001 failed: {said}." in listing

    details = html.unescape((await console.get(f"/namespaces/{ns}/services/web")).text)
    assert detailed in details
    assert ("Lower the revision's CPU requests in a new revision, which starts in this one's place; or ask for a "
            "larger quota, and this revision starts by itself, as Kubernetes keeps trying to create its instances") \
        in details
    assert 'Error creating: pods "web-00001-deployment-' in details  # the ReplicaSet's warning, among its events

    page = html.unescape((await console.get(f"/namespaces/{ns}/services/web/revisions/web-00001")).text)
    assert detailed in page
    assert 'Error creating: pods "web-00001-deployment-' in page and "exceeded quota: small" in page
    assert "No Events recorded for this revision" not in page

    code, _, body = console.cluster.request("PATCH", f"/api/v1/namespaces/{ns}/resourcequotas/small",
                                            {"spec": {"hard": {"requests.cpu": "2"}}},
                                            content_type="application/merge-patch+json")
    assert code == 200, body
    wait_for(lambda: _ready(console.cluster, ns, "web-00001") == "True", timeout=20, message="web-00001 Ready")
    await console.settled(ns, "web")
    for _ in range(100):  # the console's view of the revision follows the cluster's
        page = html.unescape((await console.get(f"/namespaces/{ns}/services/web/revisions/web-00001")).text)
        if "What happened" not in page:
            break
        await asyncio.sleep(0.1)
    assert "What happened" not in page and "Kubernetes refuses to create its instances:" not in page
    assert 'class="status status-success"' in page
    # The refusals stay among its events for an hour, said to be from before it became Ready (found by a walkthrough:
    # listed as if still true).
    events = page.split("Events <span", 1)[1].split("</table>", 1)[0]
    refused = [row for row in events.split("<tr")[2:] if ">FailedCreate<" in row]
    assert refused and all(row.startswith(' class="past"') and "(before it became Ready)" in row for row in refused), \
        refused


async def test_a_replicaset_s_refusals_are_one_row_counting_them_all(console: Console) -> None:
    """A quota that refuses most of a revision's instances: the ReplicaSet records a FailedCreate for each pod it could
    not create, naming it, and client-go's correlator combines the tenth and later ones ("(combined from similar
    events): …"). The revision's events and the details page's failure panel show one row counting them all (found by
    a walkthrough: sixteen rows of count 1, then the combined one's count, which meant "after the first nine")."""
    ns = console.namespace()
    code, _, body = console.cluster.request("POST", f"/api/v1/namespaces/{ns}/resourcequotas", {
        "metadata": {"name": "few"}, "spec": {"hard": {"pods": "2"}}})
    assert code == 201, body
    manifest = ksvc_manifest("many", ns)
    manifest["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/min-scale": "20"}}
    code, _, body = console.cluster.request("POST", SERVING.format(ns=ns) + "/services", manifest)
    assert code == 201, body

    def refusals() -> list[dict[str, Any]] | None:
        found = _failed_creates(console.cluster, ns)
        return found if any(e["message"].startswith("(combined from similar events): ") for e in found) else None

    # The ReplicaSet tries again with a growing back-off, and at once whenever a quota of its namespace changes.
    found = None
    for touch in range(40):
        found = wait_for(lambda touch=touch: refusals() or sum(e["count"] for e in _failed_creates(
            console.cluster, ns)) > touch, timeout=10, message=f"FailedCreate number {touch + 1}")
        if isinstance(found, list):
            break
        code, _, body = console.cluster.request("PATCH", f"/api/v1/namespaces/{ns}/resourcequotas/few",
                                                {"metadata": {"labels": {"touched": str(touch)}}},
                                                content_type="application/merge-patch+json")
        assert code == 200, body
    assert isinstance(found, list), "no combined FailedCreate Event"
    assert len(found) == 10, [(e["message"], e["count"]) for e in found]  # nine, and the one that counts the rest
    at_least = sum(e["count"] for e in found)
    pod_name = re.compile(r'Error creating: pods "(many-00001-deployment-[a-z0-9]+-)[a-z0-9]{5}" is forbidden: '
                          r"exceeded quota: few, requested: pods=1, used: pods=2, limited: pods=2")
    prefix = pod_name.search(found[0]["message"])
    assert prefix, found[0]["message"]
    said = (f'Error creating: pods "{prefix.group(1)}…" is forbidden: exceeded quota: few, requested: pods=1, used: '
            "pods=2, limited: pods=2")

    page = await console.get(f"/namespaces/{ns}/services/many/revisions/many-00001")
    events = html.unescape(page.text).split("Events <span", 1)[1].split("</table>", 1)[0]
    rows = [row for row in events.split("<tr>")[2:] if ">FailedCreate<" in row]
    assert len(rows) == 1, rows
    assert said in rows[0] and "(combined from similar events)" not in rows[0]
    assert int(re.findall(r'<td class="num">(\d+)</td>', rows[0])[-1]) >= at_least

    details = html.unescape((await console.get(f"/namespaces/{ns}/services/many")).text)
    # The revision failed (its Deployment's ReplicaFailure): the details page's panel groups them the same way.
    panel = details.split('data-failure="many-00001"', 1)[1].split("<h3>Events</h3>", 1)[1].split("</table>", 1)[0]
    assert panel.count(">FailedCreate<") == 1 and said in panel, panel
    assert int(re.findall(r'<td class="num">(\d+)</td>', panel)[-1]) >= at_least


async def test_a_revision_a_limit_range_refuses_names_the_limit(console: Console) -> None:
    ns = console.namespace()
    code, _, body = console.cluster.request("POST", f"/api/v1/namespaces/{ns}/limitranges", {
        "metadata": {"name": "sizes"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}})
    assert code == 201, body
    _create(console, ns, "big", {"limits": {"cpu": "2"}})
    wait_for(lambda: _ready(console.cluster, ns, "big-00001") == "False", timeout=15, message="big-00001 refused")
    await asyncio.sleep(0.3)
    page = html.unescape((await console.get(f"/namespaces/{ns}/services/big/revisions/big-00001")).text)
    assert ("Kubernetes refuses to create its instances: the namespace's LimitRange allows a container a CPU limit of "
            "at most 1, and this one's is 2") in page
    assert "Give the revision a CPU limit of at most 1 in a new revision" in page
    assert "maximum cpu usage per Container is 1, but limit is 2" in page  # Knative's words, as it reports them



async def test_the_revision_page_says_what_a_limit_range_gave_a_revision_that_set_no_resources(
        console: Console) -> None:
    """A LimitRange with only a max: Kubernetes makes the max each container's default limit and request
    (SetDefaults_LimitRangeItem), so instances of a revision that set nothing ask for the max. The Resources row says
    so, from the instances (the LimitRanger's note on each pod), instead of "none set: the cluster's defaults"."""
    ns = console.namespace()
    code, _, body = console.cluster.request("POST", f"/api/v1/namespaces/{ns}/limitranges", {
        "metadata": {"name": "sizes"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}})
    assert code == 201, body
    _create(console, ns, "bare", {})
    _create(console, ns, "some", {"requests": {"memory": "64Mi"}})
    for name in ("bare", "some"):
        wait_for(lambda name=name: _ready(console.cluster, ns, f"{name}-00001") == "True", timeout=15,
                 message=f"{name}-00001 Ready")
    await asyncio.sleep(0.3)
    bare = html.unescape((await console.get(f"/namespaces/{ns}/services/bare/revisions/bare-00001")).text)
    assert "None set; the namespace's LimitRange gives its instances: cpu request 1, cpu limit 1" in \
        " ".join(re.sub(r"<[^>]+>", "", bare).split())
    assert "the cluster's defaults" not in bare
    some = html.unescape((await console.get(f"/namespaces/{ns}/services/some/revisions/some-00001")).text)
    words = " ".join(re.sub(r"<[^>]+>", "", some).split())
    assert "memory request: 64Mi" in words
    assert "the namespace's LimitRange gives its instances as well: cpu request 1, cpu limit 1" in words


async def test_the_wizard_warns_when_the_namespace_limit_range_would_refuse_the_revision(console: Console) -> None:
    """Create Revision reads the namespace's LimitRanges with the user's own rights and warns, on the steps after the
    resources are typed, of a request or limit outside a Container item's min or max; a user who may not read them
    gets no warning and no error."""
    ns = console.namespace()
    console.create_ksvc(ns, "wiz")
    await console.settled(ns, "wiz")
    code, _, body = console.cluster.request("POST", f"/api/v1/namespaces/{ns}/limitranges", {
        "metadata": {"name": "sizes"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}})
    assert code == 201, body
    path = wizard_path(ns, "wiz")
    first = await console.get(path)
    step2 = await submit(console, path, first.text, "wizard", "next")
    warning = ("The namespace's LimitRange sizes allows a container a CPU limit of at most 1, and this one's is 2: "
               "Kubernetes would refuse every instance of the new revision.")
    assert warning not in html.unescape(step2.text)
    step3 = await submit(console, path, step2.text, "wizard", "next", cpu_limit="2")
    assert step3.status_code == 200
    assert warning in html.unescape(step3.text)
    back = await submit(console, path, step3.text, "wizard", "previous")
    assert warning in html.unescape(back.text)  # on the step where the limit is typed too
    fine = await submit(console, path, back.text, "wizard", "next", cpu_limit="500m")
    assert "LimitRange sizes" not in fine.text


async def test_create_service_warns_above_create_when_the_namespace_limit_range_would_refuse_it(
        console: Console) -> None:
    """Create Service, as Create Revision does: the namespace's LimitRanges, read with the user's own rights, against
    the resources typed; the warning sits before Create, and the live preview's answer brings it there again out of
    band as they are typed. Nothing is written by a preview, and the Service may still be created."""
    ns = console.namespace()
    code, _, body = console.cluster.request("POST", f"/api/v1/namespaces/{ns}/limitranges", {
        "metadata": {"name": "sizes"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}})
    assert code == 201, body
    path = f"/namespaces/{ns}/services"
    form = await console.get(path + "/new")
    assert form.status_code == 200 and '<div id="limit-warnings" role="status"></div>' in form.text
    warning = ("The namespace's LimitRange sizes allows a container a CPU limit of at most 1, and this one's is 2: "
               "Kubernetes would refuse every instance of the new revision.")
    typed = {"name": "big", "image": "ghcr.io/knative/helloworld-go:latest"}
    fine = await submit(console, path, form.text, "create-service", "preview", **typed, cpu_limit="500m")
    assert fine.status_code == 200 and '<div id="limit-warnings" role="status" hx-swap-oob="true"></div>' in fine.text
    big = await submit(console, path, form.text, "create-service", "preview", **typed, cpu_limit="2")
    assert big.status_code == 200
    assert '<div id="limit-warnings" role="status" hx-swap-oob="true"><p class="alert" data-limit-range>' in big.text
    assert warning in html.unescape(big.text)
    assert console.cluster.request("GET", SERVING.format(ns=ns) + "/services/big")[0] == 404  # a preview writes nothing
    # The whole form, shown again (here: the name is taken), has it before Create too.
    console.create_ksvc(ns, "taken")
    again = await submit(console, path, form.text, "create-service", "create", **{**typed, "name": "taken"},
                         cpu_limit="2")
    assert again.status_code == 409
    text = html.unescape(again.text)
    assert warning in text and text.index(warning) < text.index('value="create">Create</button>')


def _counted(cluster: DevClusterProcess, ns: str, name: str, hard: dict[str, str]) -> None:
    """A ResourceQuota, once its controller has counted what is in use (the console reads its status)."""
    code, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/resourcequotas",
                                    {"metadata": {"name": name}, "spec": {"hard": hard}})
    assert code == 201, body
    wait_for(lambda: "used" in (cluster.get(f"/api/v1/namespaces/{ns}/resourcequotas/{name}").get("status") or {}),
             message=f"the quota {name} counted")


async def test_create_service_warns_of_a_quota_the_new_service_would_exceed_or_not_satisfy(console: Console) -> None:
    """Before anything is sent: the namespace's ResourceQuotas, read with the user's own rights, against what an
    instance would ask for (its container's amounts and queue-proxy's, from knative-serving/config-deployment), and
    whether every container states what a quota counts (found by a walkthrough: no warning before submit, then a
    revision Kubernetes refuses). The preview writes nothing; the warning sits before Create."""
    ns = console.namespace()
    _counted(console.cluster, ns, "small", {"requests.cpu": "100m"})
    path = f"/namespaces/{ns}/services"
    form = await console.get(path + "/new")
    typed = {"name": "web", "image": "ghcr.io/knative/helloworld-go:latest"}
    unstated = await submit(console, path, form.text, "create-service", "preview", **typed)
    assert unstated.status_code == 200
    assert ('<p class="alert" data-quota>The namespace&#39;s ResourceQuota small counts CPU requests, so every '
            "container must state them, and this one does not: Kubernetes would refuse every instance of the new "
            "revision.</p>") in unstated.text
    big = await submit(console, path, form.text, "create-service", "preview", **typed, cpu_request="500m")
    assert ("The namespace's ResourceQuota small allows 100m of CPU requests in all, 0 of them in use; each instance "
            "of the new revision asks for 525m (500m for its container, the rest for queue-proxy): Kubernetes would "
            "refuse every instance of it.") in html.unescape(big.text)
    fits = await submit(console, path, form.text, "create-service", "preview", **typed, cpu_request="50m")
    assert "data-quota" not in fits.text
    assert console.cluster.request("GET", SERVING.format(ns=ns) + "/services/web")[0] == 404  # previews write nothing
    _counted(console.cluster, ns, "limits", {"limits.memory": "4Gi"})
    limited = await submit(console, path, form.text, "create-service", "preview", **typed, cpu_request="50m",
                           memory_limit="128Mi")
    assert ("The namespace's ResourceQuota limits counts memory limits, so every container must state them, and "
            "queue-proxy, the container Knative adds to each instance, does not (it takes its own from "
            "queue-sidecar-memory-limit in the ConfigMap knative-serving/config-deployment, where none is set): "
            "Kubernetes would refuse every instance of the new revision. Ask a cluster admin to set "
            "queue-sidecar-memory-limit there, or for a LimitRange whose defaults give them to every container.") \
        in html.unescape(limited.text)
    # Created anyway, Kubernetes refuses its instances as the warning said.
    created = await submit(console, path, form.text, "create-service", "create", **typed, cpu_request="50m",
                           memory_limit="128Mi")
    assert created.status_code == 303
    wait_for(lambda: _ready(console.cluster, ns, "web-00001") == "False", timeout=15, message="web-00001 refused")
    refusal = next(e["message"] for e in _failed_creates(console.cluster, ns))
    assert "failed quota: limits: must specify limits.memory for: queue-proxy" in refusal, refusal


async def test_create_revision_warns_of_a_quota_with_no_room_left(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "wiz")
    await console.settled(ns, "wiz")
    _counted(console.cluster, ns, "tight", {"requests.cpu": "10m"})  # less than queue-proxy's 25m alone
    path = wizard_path(ns, "wiz")
    first = await console.get(path)
    step2 = await submit(console, path, first.text, "wizard", "next", cpu_request="100m")
    assert step2.status_code == 200
    said = html.unescape(step2.text)
    assert re.search(r"The namespace's ResourceQuota tight allows 10m of CPU requests in all, \w+ of them in use; each "
                     r"instance of the new revision asks for 125m \(100m for its container, the rest for queue-proxy\): "
                     r"Kubernetes would refuse every instance of it\.", said), said
    # Step 2 is where the request is typed: its warnings follow the form (found by a walkthrough: they stayed as the
    # step opened, beside a request typed since).
    assert 'hx-vals=\'{"action": "warnings"}\'' in step2.text
    fields = [(k, {"cpu_request": "5m"}.get(k, v)) for k, v in form_fields(step2.text, "wizard")]
    live = await console.post_fields(path, [*fields, ("action", "warnings")])
    assert live.status_code == 200 and "<form" not in live.text
    assert "each instance of the new revision asks for 30m (5m for its container" in html.unescape(live.text)
    fields = [(k, {"cpu_request": ""}.get(k, v)) for k, v in form_fields(step2.text, "wizard")]
    unstated = html.unescape((await console.post_fields(path, [*fields, ("action", "warnings")])).text)
    assert "counts CPU requests, so every container must state them, and this one does not" in unstated
    step3 = await submit(console, path, step2.text, "wizard", "next")
    assert "The resources and the min-scale are on step 2: go back with Previous to change them." in \
        html.unescape(step3.text)
    assert console.ksvc(ns, "wiz")["status"]["latestCreatedRevisionName"] == "wiz-00001"  # nothing was written


async def test_a_user_who_may_not_read_quotas_gets_no_warning_and_no_error(devcluster: DevClusterProcess) -> None:
    """The quotas and limit ranges are read with the user's own rights (--auth token): bob, who may edit Knative
    Services here and nothing else, previews a Service a quota would refuse and gets the preview without a warning."""
    ns = devcluster.new_namespace("noquota")
    devcluster.bind(ns, "knative-serving-namespaced-edit", user="bob")
    _counted(devcluster, ns, "small", {"requests.cpu": "100m"})
    async with console_as(devcluster, auth="token") as http:
        assert (await sign_in(http, devcluster.user_tokens["bob"])).status_code == 303
        form = await http.get(f"/namespaces/{ns}/services/new")
        assert form.status_code == 200, form.text
        fields = [*form_fields(form.text, "create-service"), ("action", "preview")]
        fields = [(k, {"name": "web", "image": "ghcr.io/knative/helloworld-go:latest", "cpu_request": "500m"}.get(k, v))
                  for k, v in fields]
        preview = await post_fields(http, f"/namespaces/{ns}/services", fields)
    assert preview.status_code == 200, preview.text
    assert "data-quota" not in preview.text and "data-limit-range" not in preview.text
    assert "cpu: 500m" in html.unescape(preview.text)  # the request Create would send
    # The read was made as bob, and refused.
    asked = [e for e in devcluster.audit_events("bob") if f"/namespaces/{ns}/resourcequotas" in e["requestURI"]]
    assert asked and all(e["responseStatus"]["code"] == 403 for e in asked), asked
