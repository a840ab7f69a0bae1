"""The phased release and a team lead's review with the keyboard only, as a screen reader meets them: the skip link, a
refused form that puts focus on its first field in error with the message tied to it, the Split Traffic dialog (focus
inside on open, Tab kept inside, Escape closes and gives focus back, a refused OK keeps focus in the dialog on a field
that names the message, and the split it sent said on the page that loads after), live updates said in one sentence
in a status region without moving focus, the traffic check's result said inside its dialog, one h1 a page and focus
always visible."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from playwright.async_api import Locator, Page, Request, expect

from tests.browser.conftest import ConsoleProcess, PageProblems

SERVICE = "helloworld-go"
FIRST, SECOND = f"{SERVICE}-00001", f"{SERVICE}-00002"

expect.set_options(timeout=15_000)

# What has focus: enough to tell which control, whether it is in the dialog, and whether its focus ring shows.
FOCUSED = """() => {
  const e = document.activeElement;
  const label = e.labels && e.labels.length ? e.labels[0].textContent.trim() : "";
  const style = getComputedStyle(e);
  return {tag: e.tagName, id: e.id, text: label || e.textContent.trim().slice(0, 60),
          hidden: !!e.closest("[aria-hidden=true]"), inDialog: !!e.closest("dialog"),
          ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2};
}"""

# Every sentence the page's status region says, kept as they come (a later update replaces the text); run on each
# page as it loads.
LISTEN = """() => {
  window.heard = [];
  const listen = (node) => new MutationObserver(() => {
    if (node.textContent) window.heard.push(node.textContent);
  }).observe(node, {childList: true, characterData: true, subtree: true});
  listen(document.getElementById("announce"));
}"""


async def focused(page: Page) -> dict[str, object]:
    return dict(await page.evaluate(FOCUSED))


async def heard(page: Page, words: str, within: float = 15.0) -> None:
    """Wait until the status region has said `words`."""
    deadline = asyncio.get_running_loop().time() + within
    said = ""
    while asyncio.get_running_loop().time() < deadline:
        said = str(await page.evaluate("window.heard.join(' | ')"))
        if words in said:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not said: {words!r}; said: {said!r}")


async def tab(page: Page, key: str = "Tab") -> dict[str, object]:
    await page.keyboard.press(key)
    where = await focused(page)
    assert where["ring"], f"no visible focus on {where}"
    return where


def sent_by(page: Page) -> list[str]:
    """The requests the page sends from now on, as "METHOD url": its live stream's EventSource aside, and the
    "What will be sent" previews the fields filled before ask for (they write nothing)."""
    sent: list[str] = []

    def note(request: Request) -> None:
        if request.resource_type != "eventsource" and "action=preview" not in (request.post_data or ""):
            sent.append(f"{request.method} {request.url} {request.post_data or ''}")

    page.on("request", note)
    return sent


async def tab_to(page: Page, control: Locator, limit: int = 60) -> None:
    """Press Tab until `control` has focus; fail if it is not in the Tab order."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await control.evaluate("(node) => node === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {await control.evaluate('(node) => node.outerHTML')}")


async def one_h1(page: Page) -> None:
    assert await page.get_by_role("heading", level=1).count() == 1, page.url


@pytest.mark.timeout(150)
async def test_release_and_review_by_keyboard(console_server: ConsoleProcess, page: tuple[Page, PageProblems]) -> None:
    browser_tab, problems = page
    url = console_server.url

    # The skip link is the first stop, and takes focus past the top bar.
    await browser_tab.add_init_script(script="document.addEventListener('DOMContentLoaded', " + LISTEN + ")")
    await browser_tab.goto(url + "/namespaces/default/services/new")
    await one_h1(browser_tab)
    assert (await tab(browser_tab))["text"] == "Skip to main content"
    await browser_tab.keyboard.press("Enter")
    assert (await focused(browser_tab))["id"] == "main"
    assert (await tab(browser_tab))["text"] == "Service Management"  # the breadcrumb, inside main

    # Create Service with a name Knative refuses: the page comes back with focus on the name, which says what is wrong.
    await browser_tab.get_by_label("Service Name").focus()
    await browser_tab.keyboard.type("Hello_World")
    async with browser_tab.expect_navigation():
        await browser_tab.keyboard.press("Enter")
    name = browser_tab.get_by_label("Service Name")
    await expect(name).to_be_focused()
    await expect(name).to_have_attribute("aria-invalid", "true")
    await expect(name).to_have_accessible_description("Use lowercase letters, digits and '-' in a Service name; start "
                                                      "with a letter and end with a letter or digit (for example "
                                                      "helloworld-go).")
    await expect(browser_tab.get_by_label("Image Name")).to_have_accessible_description(
        "Enter the container image, for example ghcr.io/knative/helloworld-go:latest.")
    await browser_tab.keyboard.press("Control+A")
    await browser_tab.keyboard.type(SERVICE)
    await tab(browser_tab)
    await browser_tab.keyboard.type("ghcr.io/knative/helloworld-go:latest")
    async with browser_tab.expect_navigation():
        await browser_tab.keyboard.press("Enter")
    # The details page it leads to starts at what the post changed: the new Service's Basic Information, not the top
    # (and the address is the page's own again, so that a reload starts at the top).
    started_at = browser_tab.get_by_role("heading", name="Basic Information")
    await expect(started_at).to_be_focused()
    await expect(browser_tab).to_have_url(re.compile(rf"/namespaces/default/services/{SERVICE}$"))
    await expect(browser_tab.locator("#live dl.info .status")).to_have_text("Success")
    await one_h1(browser_tab)
    console_server.kubectl("patch", "ksvc", SERVICE, "--type", "merge", "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest",
                                                        "env": [{"name": "TARGET", "value": "Knative"}]}]}}}}))
    await expect(browser_tab.locator(f'tr[data-revision="{SECOND}"] .status')).to_have_text("Success")
    # Live updates replaced the section meanwhile (its latest revision): its heading keeps focus.
    await expect(browser_tab.locator("#region-status")).to_contain_text(SECOND)
    await expect(started_at).to_be_focused()

    # Split Traffic, opened with Enter: focus lands on the first share (not the form's hidden default button), Tab and
    # Shift+Tab stay inside, Escape closes and focus is back on Split Traffic.
    split_link = browser_tab.get_by_role("link", name="Split Traffic")
    await split_link.focus()
    await browser_tab.keyboard.press("Enter")
    dialog = browser_tab.get_by_role("dialog", name="Split Traffic")
    await expect(dialog).to_be_visible()
    first = dialog.get_by_label("Traffic Ratio (%) for the latest ready revision")
    await expect(first).to_be_focused()
    stops = [await focused(browser_tab)]
    for _ in range(12):
        stops.append(await tab(browser_tab))
    assert all(stop["inDialog"] and not stop["hidden"] for stop in stops), stops
    assert stops[0] in stops[1:], "Tab did not come round to the first field"
    await first.focus()
    assert (await tab(browser_tab, "Shift+Tab"))["text"] == "Cancel"
    await browser_tab.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(split_link).to_be_focused()

    # 50/40: OK is disabled and says why; Enter is refused by the server, and focus stays in the dialog on a share
    # whose description is the message.
    await browser_tab.keyboard.press("Enter")
    await expect(first).to_be_focused()
    for label, percent in (("the latest ready revision", "0"), (FIRST, "50"), (SECOND, "40")):
        await dialog.get_by_label(f"Traffic Ratio (%) for {label}").fill(percent)
    ok = dialog.get_by_role("button", name="OK")
    await expect(ok).to_be_disabled()
    await expect(ok).to_have_accessible_description("Total: 90% — must be 100%")
    # OK is in the Tab order all the same (aria-disabled), and Enter or Space on it sends nothing: the dialog says why.
    await dialog.get_by_label(f"Traffic Ratio (%) for {SECOND}").focus()
    await tab_to(browser_tab, ok)
    sent = sent_by(browser_tab)
    said = browser_tab.locator("#dialog [data-announce]")
    for key in ("Enter", "Space"):
        await browser_tab.keyboard.press(key)
        await expect(said).to_have_text("Total: 90% — must be 100%")
        await said.evaluate("(node) => { node.textContent = ''; }")
    assert sent == [], sent
    await expect(dialog.locator("#e-traffic")).to_have_count(0)  # the server was not asked
    await dialog.get_by_label(f"Traffic Ratio (%) for {SECOND}").press("Enter")
    await expect(dialog.locator("#e-traffic")).to_have_text("Traffic must add up to 100%; these add up to 90%.")
    await expect(first).to_be_focused()
    await expect(first).to_have_accessible_description("Traffic must add up to 100%; these add up to 90%.")
    await dialog.get_by_label(f"Traffic Ratio (%) for {SECOND}").fill("50")
    await dialog.get_by_label(f"Traffic Ratio (%) for {SECOND}").press("Enter")
    await expect(browser_tab.locator(f'tr[data-revision="{SECOND}"] td[data-percent]')).to_have_attribute(
        "data-percent", "50")
    await heard(browser_tab, "The cluster accepted the split: latest ready revision (now 00002) 0%, 00002 50%, 00001 50%. "
                             "The Traffic section shows what is routed.")

    # Live updates: a change made elsewhere is said in a sentence, and the focused control keeps focus. The regions
    # themselves are not live regions (a table read out on every update).
    await expect(browser_tab.locator("body.is-live")).to_be_attached()
    assert await browser_tab.locator("#main [aria-live]").count() == 0
    await expect(browser_tab.locator("#announce")).to_have_attribute("role", "status")
    await expect(browser_tab.locator("#connection")).to_have_attribute("role", "status")
    logs = browser_tab.locator(f'[data-logs="{FIRST}"]')
    await logs.focus()
    console_server.kubectl("patch", "ksvc", SERVICE, "--type", "merge", "-p", json.dumps(
        {"spec": {"traffic": [{"revisionName": FIRST, "percent": 100}]}}))
    await heard(browser_tab, f"Traffic now: {FIRST} 100%.")
    await expect(logs).to_be_focused()
    console_server.kubectl("patch", "ksvc", SERVICE, "--type", "merge", "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest",
                                                        "env": [{"name": "TARGET", "value": "again"}]}]}}}}))
    await heard(browser_tab, f"Revision {SERVICE}-00003: Success.")
    await expect(logs).to_be_focused()

    # The traffic check, in its dialog: the rest of the page is inert while it is open, so the dialog says the result
    # itself, once, when the check is done (not each of its frames).
    check = browser_tab.get_by_role("link", name="Check traffic")
    await check.focus()
    await browser_tab.keyboard.press("Enter")
    requests = browser_tab.get_by_role("dialog", name="Check traffic").get_by_label("Requests")
    await expect(requests).to_be_focused()
    await browser_tab.keyboard.press("Control+A")
    await browser_tab.keyboard.type("10")
    await browser_tab.keyboard.press("Enter")
    await expect(browser_tab.locator("#dialog [role=status]")).to_have_text(
        f"10 of 10 requests to {SERVICE}.default.example.com Done. 00001: configured 100%, observed 100.0%.")
    # Its table reads each value once: the bars beside the numbers are for the eye only.
    result = browser_tab.locator("#dialog table.check")
    await expect(result.get_by_role("meter")).to_have_count(0)
    await expect(browser_tab.locator("#dialog .check-progress").get_by_role("progressbar")).to_have_count(0)
    await expect(result.locator("tbody")).to_match_aria_snapshot(
        '- rowgroup:\n  - row "00001 100% 100.0% 10":\n    - cell "00001"\n    - cell "100%"\n    - cell "100.0%"\n'
        '    - cell "10"')
    await browser_tab.keyboard.press("Escape")
    await expect(check).to_be_focused()

    # A live update replaces what opened the dialog (a revision row's Send 100%) while it is open: Escape gives focus
    # to its replacement in the new table, not to nothing (the browser's own return has no element to go to).
    row_action = browser_tab.locator(f'tr[data-revision="{SECOND}"] [data-send-all]')
    await row_action.focus()
    opened_by = await row_action.element_handle()
    await browser_tab.keyboard.press("Enter")
    await expect(browser_tab.locator("#dialog")).to_be_visible()
    assert (await focused(browser_tab))["inDialog"]
    console_server.kubectl("patch", "ksvc", SERVICE, "--type", "merge", "-p", json.dumps(
        {"spec": {"traffic": [{"revisionName": FIRST, "percent": 100},
                              {"revisionName": SECOND, "percent": 0, "tag": "kept"}]}}))
    await expect(browser_tab.locator(f'tr[data-revision="{SECOND}"]')).to_contain_text("kept")
    assert not await opened_by.evaluate("(node) => node.isConnected")
    await browser_tab.keyboard.press("Escape")
    await expect(row_action).to_be_focused()

    # The review: history (Restore this split opens the dialog with focus in it), a diff, the logs page.
    await browser_tab.goto(url + f"/namespaces/default/services/{SERVICE}/history")
    await one_h1(browser_tab)
    restore = browser_tab.get_by_role("link", name="Restore this split").first
    await restore.focus()
    await browser_tab.keyboard.press("Enter")
    restoring = browser_tab.get_by_role("dialog", name="Restore an earlier split")
    await expect(restoring).to_be_visible()
    assert (await focused(browser_tab))["inDialog"]
    await browser_tab.keyboard.press("Escape")
    await expect(restore).to_be_focused()
    # Every page has one h1, the dialogs' own pages (opened without JavaScript, or from a bookmark) too.
    for path in (f"diff?from={FIRST}&to={SECOND}", f"revisions/{SECOND}/logs", f"revisions/{SECOND}", "traffic",
                 "delete", "check", "revisions/new"):
        await browser_tab.goto(url + f"/namespaces/default/services/{SERVICE}/{path}")
        await one_h1(browser_tab)
    # The logs page: its new lines are a log a screen reader does not read out as they come (not a live region), named
    # and in the Tab order, so that the user goes there to read them.
    await browser_tab.goto(url + f"/namespaces/default/services/{SERVICE}/revisions/{SECOND}/logs")
    new_lines = browser_tab.get_by_role("log", name="New lines (following live while this page is open)")
    await expect(new_lines).to_have_attribute("aria-live", "off")
    await expect(new_lines).to_have_attribute("aria-relevant", "additions")
    assert await browser_tab.locator("#main [aria-live]:not([aria-live=off])").count() == 0
    await tab_to(browser_tab, new_lines)
    assert (await focused(browser_tab))["ring"], "no visible focus on the log"
    await browser_tab.goto(url + f"/namespaces/default/services/{SERVICE}/revisions/new")
    # The wizard's steps say which are done in words, not only in green.
    await browser_tab.get_by_role("button", name="Next", exact=True).focus()
    async with browser_tab.expect_navigation():
        await browser_tab.keyboard.press("Enter")
    steps = browser_tab.get_by_role("list", name="Steps")
    await expect(steps.get_by_role("listitem").first).to_have_text("Basic Information (done)")
    # To its end, and Create (Enter in a field): the details page starts at the Revisions, where the new one is.
    await browser_tab.get_by_role("button", name="Next", exact=True).focus()
    async with browser_tab.expect_navigation():
        await browser_tab.keyboard.press("Enter")
    rollout = browser_tab.get_by_label("Roll out gradually over … seconds")
    await rollout.focus()
    async with browser_tab.expect_navigation():
        await browser_tab.keyboard.press("Enter")
    await expect(browser_tab.get_by_role("heading", name=re.compile(r"^Revisions"))).to_be_focused()
    await expect(browser_tab).to_have_url(re.compile(rf"/namespaces/default/services/{SERVICE}$"))
    await expect(browser_tab.locator(f'tr[data-revision="{SERVICE}-00004"]')).to_be_attached()
    assert not problems.uncaught, problems.uncaught
