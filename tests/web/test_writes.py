"""Every form's success path changes the cluster as intended (read back through the API), and every invalid
input gets its message, keeps what was typed, and changes nothing."""

from __future__ import annotations

import httpx

from tests.web.conftest import KSVC, Console, Row, form_fields, form_values, now_column, rows_in, with_rows


def _create_form(name: str, **fields: str) -> dict:
    form = {"name": name, "image": "ghcr.io/knative/helloworld-go:latest", "protocol": "http", "port": "8080",
            "env_name": ["TARGET", ""], "env_value": ["Console", ""], "visibility": "public", "action": "create"}
    form.update(fields)
    return form


async def test_create_service(console: Console) -> None:
    ns = console.namespace()
    response = await console.post(f"/namespaces/{ns}/services", _create_form(
        "made", protocol="grpc", port="9000", cpu_request="100m", memory_limit="256Mi", min_scale="1",
        max_scale="3", target="50", visibility="cluster-local"))
    assert response.status_code == 303 and response.headers["location"] == \
        f"/namespaces/{ns}/services/made#region-status"  # the page starts at what the post changed
    stored = console.ksvc(ns, "made")
    assert stored["metadata"]["labels"] == {"networking.knative.dev/visibility": "cluster-local"}
    template = stored["spec"]["template"]
    assert template["metadata"]["annotations"] == {"autoscaling.knative.dev/min-scale": "1",
                                                   "autoscaling.knative.dev/max-scale": "3",
                                                   "autoscaling.knative.dev/target": "50"}
    container = template["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/knative/helloworld-go:latest"
    assert container["ports"] == [{"containerPort": 9000, "name": "h2c", "protocol": "TCP"}]
    assert container["env"] == [{"name": "TARGET", "value": "Console"}]
    assert container["resources"] == {"requests": {"cpu": "100m"}, "limits": {"memory": "256Mi"}}
    settled = await console.settled(ns, "made")
    assert settled["status"]["url"] == f"http://made.{ns}.svc.cluster.local"


async def test_invalid_create_keeps_input_and_sends_nothing(console: Console) -> None:
    ns = console.namespace()
    response = await console.post(f"/namespaces/{ns}/services", _create_form(
        "Bad_Name", image="", port="70000", env_name=["K_SERVICE"], env_value=["x<y"], cpu_request="lots"))
    assert response.status_code == 422
    text = response.text
    assert "Use lowercase letters, digits and &#39;-&#39; in a Service name" in text
    assert "Enter the container image, for example ghcr.io/knative/helloworld-go:latest." in text
    assert "Enter a port number from 1 to 65535." in text
    assert "K_SERVICE is set by Knative itself; use another name." in text
    assert "Use a Kubernetes quantity for CPU, such as 100m or 0.5." in text
    assert form_values(text, "name") == ["Bad_Name"] and form_values(text, "port") == ["70000"]
    assert form_values(text, "env_value") == ["x&lt;y"] and form_values(text, "cpu_request") == ["lots"]
    assert console.cluster.get(KSVC.format(ns=ns))["items"] == []


async def test_add_variable_without_javascript(console: Console) -> None:
    ns = console.namespace()
    response = await console.post(f"/namespaces/{ns}/services", _create_form("x", action="add-env"))
    assert response.status_code == 200
    assert form_values(response.text, "env_name") == ["TARGET", "", ""]
    assert form_values(response.text, "name") == ["x"]
    assert console.cluster.get(KSVC.format(ns=ns))["items"] == []


async def test_cluster_rejections_are_shown_in_full(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "taken")
    response = await console.post(f"/namespaces/{ns}/services", _create_form("taken"))
    assert response.status_code == 409
    assert f"A Service named &#34;taken&#34; already exists in {ns}; choose another name." in response.text
    gone = await console.post("/namespaces/no-such-ns/services", _create_form("lost"))
    assert gone.status_code == 422
    assert "The cluster refused the Service." in gone.text and "namespaces &#34;no-such-ns&#34; not found" in gone.text


async def submit(console: Console, path: str, html: str, form_id: str, action: str,
                 rows: list[Row] | None = None, headers: dict[str, str] | None = None,
                 **changes: str) -> httpx.Response:
    """Press a button of a form as a browser would: what it shows, with `changes` typed in and `rows` set."""
    fields = form_fields(html, form_id)
    if rows is not None:
        fields = with_rows(fields, rows)
    for name, value in changes.items():
        index = next(i for i, (n, _) in enumerate(fields) if n == name)
        fields[index] = (name, value)
    return await console.post_fields(path, [*fields, ("action", action)], headers=headers or {})


def wizard_path(ns: str, name: str) -> str:
    return f"/namespaces/{ns}/services/{name}/revisions/new"


async def test_create_revision_at_zero_percent(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "rev")
    await console.settled(ns, "rev")
    path = wizard_path(ns, "rev")
    first = await console.get(path)
    step2 = await submit(console, path, first.text, "wizard", "next")
    assert step2.status_code == 200 and 'aria-current="step" class="current">Advanced Settings' in step2.text
    back = await submit(console, path, step2.text, "wizard", "previous", image="changed:1")
    assert 'aria-current="step" class="current">Basic Information' in back.text
    assert form_values(back.text, "image") == ["changed:1"]
    step2 = await submit(console, path, back.text, "wizard", "next", image="ghcr.io/knative/helloworld-go:latest")
    step3 = await submit(console, path, step2.text, "wizard", "next", env_name="TARGET", env_value="Knative")
    assert "Traffic Ratio (%) for new revision rev-00002" in step3.text
    # The floating 100% would move to the new revision once Ready: the prefill keeps it on rev-00001, and says so.
    assert rows_in(form_fields(step3.text, "wizard")) == [
        ("new", "rev-00002", "0", ""), ("latest", "", "0", ""), ("revision", "rev-00001", "100", "")]
    assert "This form keeps that share on rev-00001, the revision it serves now" in step3.text
    created = await submit(console, path, step3.text, "wizard", "create")
    assert created.status_code == 303
    stored = console.ksvc(ns, "rev")
    assert stored["spec"]["traffic"] == [{"latestRevision": True, "percent": 0},
                                         {"latestRevision": False, "percent": 100, "revisionName": "rev-00001"}]
    assert "name" not in stored["spec"]["template"]["metadata"]  # not referred to by name: Knative names it
    assert stored["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "TARGET", "value": "Knative"}]
    settled = await console.settled(ns, "rev", revisions=2)
    assert {(t["revisionName"], t["percent"]) for t in settled["status"]["traffic"]} == {("rev-00002", 0),
                                                                                          ("rev-00001", 100)}


async def test_the_wizards_now_column_counts_what_a_revision_gets_through_the_latest_revision_entry(
        console: Console) -> None:
    """The wizard's traffic step moves the floating entry's share onto the named row of the revision it serves; its
    "Now" column says what each revision gets now, through that entry too (found by a walkthrough: it said
    "now-00001 0%" while now-00001 served 100%)."""
    ns = console.namespace()
    console.create_ksvc(ns, "now")
    await console.settled(ns, "now")
    path = wizard_path(ns, "now")
    step2 = await submit(console, path, (await console.get(path)).text, "wizard", "next")
    step3 = await submit(console, path, step2.text, "wizard", "next")
    assert [(kind, now) for kind, _, now in now_column(step3.text)] == [
        ("new", "0%"), ("latest", "100%"), ("revision", "100% (via the latest ready revision)")]
    # The Split dialog words it the same way.
    dialog = await console.get(split_path(ns, "now"))
    assert [(kind, now) for kind, _, now in now_column(dialog.text)] == [
        ("latest", "100%"), ("revision", "100% (via the latest ready revision)")]


async def test_a_share_for_the_new_revision_pins_it_by_name(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "pin")
    await console.settled(ns, "pin")
    path = wizard_path(ns, "pin")
    page = await console.get(path)
    rows = [("new", "pin-00002", "10", "candidate"), ("latest", "", "0", ""), ("revision", "pin-00001", "90", "")]
    created = await submit(console, path, page.text, "wizard", "create", rows=rows)
    assert created.status_code == 303, created.text
    stored = console.ksvc(ns, "pin")
    assert stored["spec"]["template"]["metadata"]["name"] == "pin-00002"
    assert stored["spec"]["traffic"] == [
        {"latestRevision": False, "percent": 10, "revisionName": "pin-00002", "tag": "candidate"},
        {"latestRevision": True, "percent": 0},
        {"latestRevision": False, "percent": 90, "revisionName": "pin-00001"}]
    settled = await console.settled(ns, "pin", revisions=2)
    assert {(t["revisionName"], t["percent"]) for t in settled["status"]["traffic"]} == {
        ("pin-00002", 10), ("pin-00002", 0), ("pin-00001", 90)}
    # The next wizard run clears the name (Knative refuses a template change under the same name).
    again = await console.get(path)
    assert "pin-00003" in again.text
    made = await submit(console, path, again.text, "wizard", "create")
    assert made.status_code == 303, made.text
    assert "name" not in console.ksvc(ns, "pin")["spec"]["template"]["metadata"]


async def test_wizard_errors_stay_on_their_step(console: Console) -> None:
    ns = console.namespace()
    console.create_ksvc(ns, "wz")
    rv = (await console.settled(ns, "wz"))["metadata"]["resourceVersion"]
    path = wizard_path(ns, "wz")
    page = await console.get(path)
    bad_image = await submit(console, path, page.text, "wizard", "next", image="")
    assert bad_image.status_code == 422 and 'class="current">Basic Information' in bad_image.text
    step2 = await submit(console, path, page.text, "wizard", "next")
    bad_env = await submit(console, path, step2.text, "wizard", "next", env_name="PORT")
    assert bad_env.status_code == 422 and "PORT is set by Knative itself" in bad_env.text
    step3 = await submit(console, path, step2.text, "wizard", "next")
    rows = [("new", "wz-00002", "10", ""), ("latest", "", "0", ""), ("revision", "wz-00001", "80", "")]
    bad_sum = await submit(console, path, step3.text, "wizard", "create", rows=rows)
    assert bad_sum.status_code == 422
    assert "Traffic must add up to 100%; these add up to 90%." in bad_sum.text
    assert form_values(bad_sum.text, "row_percent") == ["10", "0", "80"]
    stored = console.ksvc(ns, "wz")
    assert stored["metadata"]["resourceVersion"] == rv and stored["metadata"]["generation"] == 1


def split_path(ns: str, name: str) -> str:
    return f"/namespaces/{ns}/services/{name}/traffic"


async def _two_revisions(console: Console, ns: str, name: str) -> dict:
    """A Service with {name}-00001 (100%, pinned) and {name}-00002 (the floating entry's, at 0%), both Ready."""
    console.create_ksvc(ns, name)
    first = await console.settled(ns, name)
    patch = {"metadata": {"resourceVersion": first["metadata"]["resourceVersion"]},
             "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest",
                                                             "env": [{"name": "TARGET", "value": "Two"}]}]}},
                      "traffic": [{"latestRevision": True, "percent": 0},
                                  {"revisionName": f"{name}-00001", "percent": 100}]}}
    code, _, body = console.cluster.request("PATCH", f"{KSVC.format(ns=ns)}/{name}", patch,
                                            content_type="application/merge-patch+json")
    assert code == 200, body
    return await console.settled(ns, name, revisions=2)


async def test_split_fifty_fifty_with_tags(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "sp")
    page = await console.get(split_path(ns, "sp"))
    assert rows_in(form_fields(page.text, "split-form")) == [
        ("latest", "", "0", ""), ("revision", "sp-00002", "0", ""), ("revision", "sp-00001", "100", "")]
    rows = [("latest", "", "0", ""), ("revision", "sp-00002", "50", "candidate"), ("revision", "sp-00001", "50", "stable")]
    response = await submit(console, split_path(ns, "sp"), page.text, "split-form", "ok", rows=rows)
    assert response.status_code == 303
    assert console.ksvc(ns, "sp")["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 0},
        {"latestRevision": False, "percent": 50, "revisionName": "sp-00002", "tag": "candidate"},
        {"latestRevision": False, "percent": 50, "revisionName": "sp-00001", "tag": "stable"},
    ]
    settled = await console.settled(ns, "sp", revisions=2)
    urls = {t.get("tag"): t.get("url") for t in settled["status"]["traffic"]}
    assert urls["candidate"] == f"http://candidate-sp.{ns}.example.com"
    details = await console.get(f"/namespaces/{ns}/services/sp")
    assert f"http://stable-sp.{ns}.example.com" in details.text


async def test_split_that_does_not_add_up_changes_nothing(console: Console) -> None:
    ns = console.namespace()
    service = await _two_revisions(console, ns, "sum")
    rv = service["metadata"]["resourceVersion"]
    page = await console.get(split_path(ns, "sum"))
    rows = [("latest", "", "0", ""), ("revision", "sum-00002", "50", ""), ("revision", "sum-00001", "40", "")]
    response = await submit(console, split_path(ns, "sum"), page.text, "split-form", "ok", rows=rows,
                            headers={"HX-Request": "true", "HX-Target": "dialog"})
    assert response.status_code == 422
    assert "Traffic must add up to 100%; these add up to 90%." in response.text
    assert "Total: 90% — must be 100%" in response.text and "<html" not in response.text
    assert console.ksvc(ns, "sum")["metadata"]["resourceVersion"] == rv


async def test_roll_back_and_promote(console: Console) -> None:
    ns = console.namespace()
    await _two_revisions(console, ns, "rb")
    preset = await console.get(split_path(ns, "rb") + "?revision=rb-00002")
    assert "Now</dt><dd data-before>latest ready revision (now 00002) 0% · 00001 100%" in preset.text
    assert "After OK</dt><dd data-after>latest ready revision (now 00002) 0% · 00002 100%" in preset.text
    response = await submit(console, split_path(ns, "rb"), preset.text, "split-form", "ok",
                            headers={"HX-Request": "true", "HX-Target": "dialog"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/namespaces/{ns}/services/rb"
    assert console.ksvc(ns, "rb")["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 0}, {"latestRevision": False, "percent": 100, "revisionName": "rb-00002"}]
    await console.settled(ns, "rb", revisions=2)
    back = await console.get(split_path(ns, "rb") + "?revision=rb-00001")
    await submit(console, split_path(ns, "rb"), back.text, "split-form", "ok")
    assert console.ksvc(ns, "rb")["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 0}, {"latestRevision": False, "percent": 100, "revisionName": "rb-00001"}]


async def test_delete(console: Console) -> None:
    ns = console.namespace()
    created = console.create_ksvc(ns, "bye")
    await console.settled(ns, "bye")
    page = await console.get(f"/namespaces/{ns}/services/bye/delete")
    rv = form_values(page.text, "resource_version")[0]
    response = await console.post(f"/namespaces/{ns}/services/bye/delete", {"resource_version": rv})
    assert response.status_code == 303 and response.headers["location"] == f"/namespaces/{ns}/services"
    code, _, _ = console.cluster.request("GET", f"{KSVC.format(ns=ns)}/bye")
    assert code == 404
    del created
