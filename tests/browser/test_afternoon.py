"""In a real browser, a team lead's afternoon: several tabs of the console open while the team releases. Ages ("3m
ago") stay true as the page's clock runs on; revisions ticked for Compare are still ticked after Back; a Service
deleted (kubectl) while the list is open stays there marked Deleted in that tab, and is not listed in a tab opened
after; a tab past the browser's cap on live pages keeps the cap's message (not "the console does not answer"); a
hidden tab gives its stream back, so more tabs than the cap stay live where the user looks, and catches up when shown
again; a tab woken from a laptop's sleep opens a new stream."""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import Browser, Page, expect

from app.web.live import MAX_PER_BROWSER
from tests.browser.conftest import ConsoleProcess, PageProblems
from tests.support import ksvc_manifest

SERVICE = "afternoon"
# Headless Chromium shows every page: a tab the user switched away from is told so as the browser would tell it.
HIDE = """(hidden) => {
  Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => hidden ? "hidden" : "visible"});
  document.dispatchEvent(new Event("visibilitychange"));
}"""
OTHER = "short-lived"


@pytest.mark.timeout(150)
async def test_an_afternoon_of_open_tabs(console_server: ConsoleProcess, browser: Browser,
                                         page: tuple[Page, PageProblems]) -> None:
    tab, problems = page
    console_server.kubectl("apply", "-f", "-", stdin=json.dumps(ksvc_manifest(SERVICE)))
    console_server.kubectl("apply", "-f", "-", stdin=json.dumps(ksvc_manifest(SERVICE, env={"TARGET": "Knative"})))
    console_server.kubectl("apply", "-f", "-", stdin=json.dumps(ksvc_manifest(OTHER)))
    details = f"{console_server.url}/namespaces/default/services/{SERVICE}"
    listing = f"{console_server.url}/namespaces/default/services"

    # The page left open for an hour says an hour, without a round trip to the server.
    await tab.clock.install()
    await tab.goto(details)
    created = tab.locator("#region-status time[data-age]").first
    await expect(created).to_contain_text(re.compile(r"\(\d+s ago\)"))
    requests: list[str] = []
    tab.on("request", lambda request: requests.append(request.url))
    await tab.clock.run_for(61 * 60 * 1000)
    await expect(created).to_contain_text("(61m ago)")
    assert requests == [], requests

    # Two revisions ticked, compared, and Back: still ticked.
    await tab.goto(details)
    for name in (f"{SERVICE}-00001", f"{SERVICE}-00002"):
        await tab.locator(f'tr[data-revision="{name}"] [data-compare-pick]').check()
    await tab.get_by_role("button", name="Compare selected").click()
    await expect(tab.get_by_role("heading", name="Compare revisions")).to_be_visible()
    await tab.go_back()
    await expect(tab.locator(f'tr[data-revision="{SERVICE}-00001"] [data-compare-pick]')).to_be_checked()
    await expect(tab.locator(f'tr[data-revision="{SERVICE}-00002"] [data-compare-pick]')).to_be_checked()

    # The list open in another tab: a Service deleted meanwhile stays, marked, in its place.
    context = tab.context
    lister = await context.new_page()
    await lister.goto(listing)
    await expect(lister.locator("body")).to_have_class(re.compile(r"\bis-live\b"))
    console_server.kubectl("delete", "ksvc", OTHER, "-n", "default")
    gone = lister.locator(f'tr[data-service="{OTHER}"]')
    await expect(gone.locator(".status")).to_have_text("Deleted", timeout=15_000)
    await expect(gone).to_have_attribute("data-deleted", "")
    await expect(gone.get_by_role("link")).to_have_count(0)
    # A tab opened after it went does not list it: its stream's catch-up (which carries the marked row) is applied
    # before the change below, whose tag it then shows.
    later = await context.new_page()
    await later.goto(listing)
    await expect(later.locator("body")).to_have_class(re.compile(r"\bis-live\b"))
    patch = {"spec": {"traffic": [{"latestRevision": True, "percent": 100, "tag": "blue"}]}}
    console_server.kubectl("patch", "ksvc", SERVICE, "-n", "default", "--type", "merge", "-p", json.dumps(patch))
    await expect(later.locator(f'tr[data-service="{SERVICE}"] .tag')).to_have_text("blue", timeout=15_000)
    await expect(later.locator(f'tr[data-service="{OTHER}"]')).to_have_count(0)
    await expect(gone).to_have_attribute("data-deleted", "")  # still marked where it was seen to go

    # Past the browser's cap on live pages: the tab says so, and keeps saying so once its stream has closed.
    for _ in range(MAX_PER_BROWSER - 3):
        more = await context.new_page()
        await more.goto(details)
        await expect(more.locator("body")).to_have_class(re.compile(r"\bis-live\b"))
    capped = await context.new_page()
    await capped.add_init_script(
        'document.addEventListener("htmx:sseError", () => { window.streamErrors = (window.streamErrors || 0) + 1; });')
    await capped.goto(details)
    banner = capped.locator("#connection")
    await expect(banner).to_contain_text(f"This browser already has {MAX_PER_BROWSER} live pages")
    await capped.wait_for_function("window.streamErrors > 0")  # the refused stream has closed
    await expect(capped.locator("body")).not_to_have_class(re.compile(r"\bis-live\b"))
    await expect(banner).to_contain_text(f"This browser already has {MAX_PER_BROWSER} live pages")
    await expect(banner).not_to_contain_text("does not answer")

    # A tab out of sight gives its stream back, so the tabs the user looks at stay live however many are open; shown
    # again, it catches up with what changed meanwhile.
    await tab.evaluate(HIDE, True)
    sixth = await context.new_page()
    await sixth.goto(f"{details}/history")
    await expect(sixth.locator("body")).to_have_class(re.compile(r"\bis-live\b"))
    await expect(sixth.locator("#connection")).to_be_empty()
    patch = {"spec": {"traffic": [{"latestRevision": True, "percent": 100, "tag": "green"}]}}
    console_server.kubectl("patch", "ksvc", SERVICE, "-n", "default", "--type", "merge", "-p", json.dumps(patch))
    await expect(later.locator(f'tr[data-service="{SERVICE}"] .tag')).to_have_text("green", timeout=15_000)
    await expect(tab.locator("#region-traffic")).not_to_contain_text(f"green-{SERVICE}")  # paused while hidden
    await sixth.evaluate(HIDE, True)
    await tab.evaluate(HIDE, False)
    await expect(tab.locator("#region-traffic")).to_contain_text(f"green-{SERVICE}.default.example.com")
    await expect(tab.locator("body")).to_have_class(re.compile(r"\bis-live\b"))
    await expect(tab.locator("#connection")).to_be_empty()

    # The laptop sleeps (its clock jumps; its stream may have died unseen): woken, the tab opens a new stream from
    # its last event, and is live again. (The tabs in view, four, all reconnect: the refused one is closed first, or
    # it would compete for their places.)
    await capped.close()
    async with tab.expect_request(lambda request: "/live/" in request.url and "last=" in request.url):
        await tab.clock.fast_forward(20 * 60 * 1000)
    await expect(tab.locator("body")).to_have_class(re.compile(r"\bis-live\b"))
    patch = {"spec": {"traffic": [{"latestRevision": True, "percent": 100, "tag": "woken"}]}}
    console_server.kubectl("patch", "ksvc", SERVICE, "-n", "default", "--type", "merge", "-p", json.dumps(patch))
    await expect(tab.locator("#region-traffic")).to_contain_text(f"woken-{SERVICE}.default.example.com")
    await expect(tab.locator("#connection")).to_be_empty()
    assert not problems.uncaught, problems.uncaught


@pytest.mark.timeout(120)
async def test_pages_open_across_a_restart_of_the_console(console_server: ConsoleProcess,
                                                          page: tuple[Page, PageProblems]) -> None:
    tab, problems = page
    name = "restarted"
    console_server.kubectl("apply", "-f", "-", stdin=json.dumps(ksvc_manifest(name)))
    await tab.goto(f"{console_server.url}/namespaces/default/services/{name}")
    await expect(tab.locator("#region-status .status")).to_have_text("Success", timeout=15_000)
    await tab.evaluate("window.stillTheSamePage = true")

    # The console stops (and its dev cluster with it) and starts again on the same ports, with a new key for its
    # CSRF tokens: the page says it does not answer, then catches up by itself.
    assert not console_server.stop()
    banner = tab.locator("#connection")
    await expect(banner).to_contain_text("The console does not answer")
    console_server.start()
    patch = {"spec": {"traffic": [{"latestRevision": True, "percent": 100, "tag": "after"}]}}
    console_server.kubectl("patch", "ksvc", name, "-n", "default", "--type", "merge", "-p", json.dumps(patch))
    await expect(tab.locator("#region-traffic")).to_contain_text(f"after-{name}.default.example.com", timeout=20_000)
    await expect(banner).to_be_empty()

    assert await tab.evaluate("window.stillTheSamePage === true")

    # A write from the page rendered before the restart goes through: it carries the token its stream gave it.
    await tab.get_by_role("link", name="Split Traffic").click()
    dialog = tab.get_by_role("dialog", name="Split Traffic")
    await dialog.locator("input[data-tag]").first.fill("pinned")
    await dialog.get_by_role("button", name="OK").click()
    await expect(dialog).to_be_hidden()
    await expect(tab.locator("#region-traffic")).to_contain_text(f"pinned-{name}.default.example.com")
    assert not problems.uncaught, problems.uncaught
