"""In a real browser: a change made with kubectl appears on an open details page and on the list without a reload
and without polling; the connection banner says when the cluster is down and clears once it is back (the dev
cluster killed and started again on the same ports); without JavaScript the page keeps a Refresh link that works,
and shows no button that needs JavaScript; the Service deleted with kubectl turns the page's status and toolbar off, and
created again fills it again; a live update keeps the user's place (focus, an opened section, the row in view, a
table scrolled sideways)."""

from __future__ import annotations

import json
import os
import re
import signal

import pytest
from playwright.async_api import Browser, Page, Request, expect

from tests.browser.conftest import ConsoleProcess, PageProblems, _alive
from tests.support import DevClusterProcess, ksvc_manifest, wait_for

SERVICE = "live-demo"


def traffic_tag(server: ConsoleProcess, tag: str) -> None:
    patch = {"spec": {"traffic": [{"latestRevision": True, "percent": 100, "tag": tag}]}}
    server.kubectl("patch", "ksvc", SERVICE, "-n", "default", "--type", "merge", "-p", json.dumps(patch))


@pytest.mark.timeout(150)
async def test_changes_made_elsewhere_appear_and_the_banner_follows_the_cluster(
        console_server: ConsoleProcess, page: tuple[Page, PageProblems], browser: Browser) -> None:
    tab, problems = page
    console_server.kubectl("apply", "-f", "-", stdin=json.dumps(ksvc_manifest(SERVICE)))
    requests: list[str] = []

    def note(request: Request) -> None:
        if request.resource_type in ("document", "xhr", "fetch"):
            requests.append(request.url)

    tab.on("request", note)
    await tab.goto(f"{console_server.url}/namespaces/default/services/{SERVICE}")
    await tab.evaluate("window.stillTheSamePage = true")
    await expect(tab.locator("body")).to_have_class(re.compile(r"\bis-live\b"))
    await expect(tab.locator("#region-status .status")).to_have_text("Success", timeout=15_000)
    requests.clear()

    # A change by another client (kubectl) appears by itself, pushed over the stream: no reload, no request.
    traffic_tag(console_server, "blue")
    await expect(tab.locator("#region-traffic")).to_contain_text(f"blue-{SERVICE}.default.example.com")
    assert await tab.evaluate("window.stillTheSamePage === true")
    assert requests == [], requests
    await expect(tab.locator("#connection")).to_be_hidden()

    # The cluster goes away: the banner says so; it comes back on the same ports: the banner clears, and changes
    # made meanwhile or after show up.
    assert console_server.process is not None
    cluster_pid = console_server.cluster_pids[0]
    os.kill(cluster_pid, signal.SIGKILL)
    wait_for(lambda: not _alive(cluster_pid), message="the dev cluster to die")
    banner = tab.locator("#connection")
    await expect(banner).to_be_visible(timeout=15_000)
    await expect(banner).to_contain_text("Cannot reach the Kubernetes API server")
    again = DevClusterProcess(console_server.data, ["--api-port", str(console_server.api_port), "--gateway-port",
                                                    str(console_server.gateway_port)])
    again.start()
    try:
        await expect(banner).to_be_hidden(timeout=20_000)
        traffic_tag(console_server, "green")
        await expect(tab.locator("#region-traffic")).to_contain_text(f"green-{SERVICE}.default.example.com",
                                                                     timeout=15_000)
        assert await tab.evaluate("window.stillTheSamePage === true")

        # Without JavaScript: the same page, a Refresh link that shows the change, and no stream.
        context = await browser.new_context(java_script_enabled=False)
        try:
            plain = await context.new_page()
            await plain.goto(f"{console_server.url}/namespaces/default/services/{SERVICE}")
            await expect(plain.locator("#region-traffic")).to_contain_text(f"green-{SERVICE}")
            await expect(plain.locator("[data-copy]")).to_be_hidden()  # Copy needs JavaScript (and a clipboard)
            traffic_tag(console_server, "red")
            # Once the console has the change (the live tab shows it): a Refresh a few milliseconds after kubectl may
            # be served from the watch-fed cache just before the change reached it.
            await expect(tab.locator("#region-traffic")).to_contain_text(f"red-{SERVICE}.default.example.com")
            await plain.get_by_role("link", name="Refresh").click()
            await expect(plain.locator("#region-traffic")).to_contain_text(f"red-{SERVICE}.default.example.com")
        finally:
            await context.close()

        # Deleted with kubectl under the open page: it says so, shows no live status, and the toolbar's actions are
        # off (its region is swapped in the toolbar); created again, the page fills again.
        await expect(tab.get_by_role("link", name="Split Traffic")).to_be_visible()
        console_server.kubectl("delete", "ksvc", SERVICE, "-n", "default")
        await expect(tab.locator("#connection")).to_contain_text(f"The Service {SERVICE} was deleted.")
        await expect(tab.locator("#region-status .status")).to_have_text("Deleted")
        await expect(tab.get_by_role("button", name="Split Traffic")).to_be_disabled()
        await expect(tab.get_by_role("link", name="Split Traffic")).to_have_count(0)
        console_server.kubectl("apply", "-f", "-", stdin=json.dumps(ksvc_manifest(SERVICE)))
        await expect(tab.locator("#region-status .status")).to_have_text("Success", timeout=15_000)
        await expect(tab.get_by_role("link", name="Split Traffic")).to_be_visible()
        await expect(tab.locator("#connection")).to_be_hidden()
        assert await tab.evaluate("window.stillTheSamePage === true")
    finally:
        again.stop()
        console_server.cluster_pids = []  # the cluster the console started is gone; this one stopped above
    assert not problems.uncaught, problems.uncaught
    assert not [m for m in problems.console if "Content Security Policy" in m], problems.console



@pytest.mark.timeout(90)
async def test_a_live_update_keeps_the_users_place(console_server: ConsoleProcess,
                                                   page: tuple[Page, PageProblems]) -> None:
    tab, problems = page
    name = "place"
    console_server.kubectl("-n", "devcluster-system", "patch", "configmap", "images", "--type", "merge",
                           "-p", json.dumps({"data": {"failing": "ghcr.io/example/crashes:* 2"}}))
    console_server.kubectl("apply", "-f", "-", stdin=json.dumps(ksvc_manifest(name)))
    await tab.set_viewport_size({"width": 900, "height": 600})
    await tab.goto(f"{console_server.url}/namespaces/default/services/{name}")
    await expect(tab.locator("#region-status .status")).to_have_text("Success", timeout=15_000)
    crashing = ksvc_manifest(name, image="ghcr.io/example/crashes:v1",
                             traffic=[{"revisionName": f"{name}-00001", "percent": 100}])
    console_server.kubectl("apply", "-f", "-", stdin=json.dumps(crashing))
    failure = tab.locator(f'#region-failures [data-failure="{name}-00002"]')
    log_pod = failure.locator("h3 .hint")
    await expect(log_pod).to_contain_text(f"{name}-00002-deployment", timeout=20_000)
    before = await log_pod.text_content()

    # The user reads the failure's evidence, has ticked (and so focused) a revision to compare, and has scrolled
    # the page down and the revision table sideways.
    await failure.locator("summary").click()
    box = tab.locator(f'tr[data-revision="{name}-00001"] [data-compare-pick]')
    await box.check()
    await box.focus()
    await box.scroll_into_view_if_needed()
    await tab.mouse.wheel(0, 150)
    await tab.locator("#region-revisions .table-scroll").evaluate("node => { node.scrollLeft = 120; }")
    await tab.wait_for_function("window.scrollY > 0")
    place = await box.bounding_box()
    assert place is not None

    # Someone deletes the crash-looping instance: a new one takes its place, and the failure panel and the revision
    # table are replaced on the page.
    console_server.kubectl("delete", "pod", "-l", f"serving.knative.dev/revision={name}-00002", "--wait=false")
    await expect(log_pod).not_to_have_text(before, timeout=15_000)
    await expect(failure.locator("details")).to_have_attribute("open", "")
    assert await tab.evaluate("document.activeElement && document.activeElement.value") == f"{name}-00001"
    await expect(box).to_be_checked()
    moved = await box.bounding_box()
    assert moved is not None and abs(moved["y"] - place["y"]) <= 2, (place, moved)
    assert await tab.locator("#region-revisions .table-scroll").evaluate("node => node.scrollLeft") == 120
    assert not problems.uncaught, problems.uncaught


@pytest.mark.timeout(90)
async def test_the_split_dialogs_now_column_follows_the_cluster_and_keeps_what_was_typed(
        console_server: ConsoleProcess, page: tuple[Page, PageProblems]) -> None:
    tab, problems = page
    name = "follow"
    console_server.kubectl("apply", "-f", "-", stdin=json.dumps(ksvc_manifest(name)))
    console_server.kubectl("apply", "-f", "-", stdin=json.dumps(ksvc_manifest(name, env={"TARGET": "two"})))
    await tab.goto(f"{console_server.url}/namespaces/default/services/{name}")
    await expect(tab.locator(f'tr[data-revision="{name}-00002"] .status')).to_have_text("Success", timeout=15_000)
    await expect(tab.locator("body")).to_have_class(re.compile(r"\bis-live\b"))

    await tab.get_by_role("link", name="Split Traffic").click()
    dialog = tab.get_by_role("dialog", name="Split Traffic")
    await expect(dialog).to_be_visible()
    latest, old = dialog.locator('tr[data-row="latest"]'), dialog.locator(f'tr:has(input[value="{name}-00001"])')
    await expect(latest.locator("td[data-now]")).to_have_text("100%")
    await expect(old.locator("td[data-now]")).to_have_text("0%")
    await latest.locator("[data-percent]").fill("50")
    await old.locator("[data-percent]").fill("50")
    await expect(dialog.locator("[data-split-changed]")).to_have_count(0)
    await tab.evaluate("""() => {  // what the dialog's status region says, one sentence after another
      window.said = [];
      const note = document.querySelector("#dialog [data-announce]");
      new MutationObserver(() => { if (note.textContent) window.said.push(note.textContent); })
        .observe(note, {childList: true, characterData: true, subtree: true});
    }""")

    # Someone else (kubectl) sends everything to the first revision: the Now column says so by itself, and says it
    # changed; the shares typed stay as typed.
    patch = {"spec": {"traffic": [{"revisionName": f"{name}-00001", "percent": 100}]}}
    console_server.kubectl("patch", "ksvc", name, "-n", "default", "--type", "merge", "-p", json.dumps(patch))
    await expect(old.locator("td[data-now]")).to_have_text("100%")
    await expect(latest.locator("td[data-now]")).to_have_text("0%")
    await expect(dialog.locator("[data-split-changed]")).to_contain_text("The traffic in force changed while this "
                                                                       "dialog was open")
    await tab.wait_for_function("window.said.some((s) => s.includes('The traffic in force changed while this dialog "
                                "was open. Now: 00001 100%.'))")
    await expect(latest.locator("[data-percent]")).to_have_value("50")
    await expect(old.locator("[data-percent]")).to_have_value("50")

    # A third revision becomes Ready meanwhile: the latest-revision row says that its share would now go there, and
    # names it so in the split the page says it sent (its data-short).
    floating = latest.locator("td").first
    await expect(floating).to_contain_text(f"— now {name}-00002")
    console_server.kubectl("apply", "-f", "-", stdin=json.dumps(ksvc_manifest(name, env={"TARGET": "three"})))
    await expect(floating).to_contain_text(f"— now {name}-00003", timeout=15_000)
    await expect(latest).to_have_attribute("data-short", "latest ready revision (now 00003)")
    await expect(latest.locator("[data-percent]")).to_have_value("50")

    # OK is still refused, as before: the other change is spelled out beside the shares typed, which are kept.
    await dialog.get_by_role("button", name="OK").click()
    await expect(dialog).to_contain_text("Someone else changed this Service while the dialog was open")
    await expect(dialog.locator('tr[data-row="latest"] [data-percent]')).to_have_value("50")
    assert not problems.uncaught, problems.uncaught


@pytest.mark.timeout(120)
async def test_a_list_open_across_a_restart_marks_the_service_deleted_meanwhile(
        console_server: ConsoleProcess, page: tuple[Page, PageProblems]) -> None:
    tab, problems = page
    for name in ("went-away", "stayed"):
        console_server.kubectl("apply", "-f", "-", stdin=json.dumps(ksvc_manifest(name)))
    await tab.goto(f"{console_server.url}/namespaces/default/services")
    await expect(tab.locator("body")).to_have_class(re.compile(r"\bis-live\b"))
    await tab.evaluate("window.stillTheSamePage = true")

    # The console stops (its dev cluster with it); meanwhile the cluster runs alone, and "went-away" is deleted.
    assert not console_server.stop()
    await expect(tab.locator("#connection")).to_contain_text("The console does not answer")
    alone = DevClusterProcess(console_server.data, ["--api-port", str(console_server.api_port), "--gateway-port",
                                                    str(console_server.gateway_port)]).start()
    try:
        console_server.kubectl("delete", "ksvc", "went-away", "-n", "default")
    finally:
        alone.stop()
    console_server.start()

    # The tab comes back by itself: the row of the Service that went is marked, the other is not.
    gone = tab.locator('tr[data-service="went-away"]')
    await expect(gone).to_have_attribute("data-deleted", "", timeout=20_000)
    await expect(gone.locator(".status")).to_have_text("Deleted")
    await expect(tab.locator('tr[data-service="stayed"]')).not_to_have_attribute("data-deleted", "")
    await expect(tab.locator("#connection")).to_be_empty()
    assert await tab.evaluate("window.stillTheSamePage === true")
    assert not problems.uncaught, problems.uncaught
