"""In a real browser, with `--auth token`: alice (edit in her namespace) signs in with a token and splits traffic,
and the Service's lastModifier is alice; bob (view) sees the actions disabled with the reason, reaches each with Tab and
hears why, pressing one (click, Enter, Space, Enter in a field of its form) sends nothing, and a write he forces anyway
gets the cluster's refusal said plainly, with nothing changed; Sign out ends the session; a session cookie changed by
hand is refused."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from app.settings import Settings
from app.web.sessions import COOKIE as SESSION
from tests.browser.test_keyboard import LISTEN, focused, sent_by, tab_to
from tests.browser.test_walkthrough import revision_row, split
from tests.support import DevClusterProcess
from tests.web.conftest import SECRET, Console, served

SERVICE = "shop"


async def signed_in(browser: Browser, url: str, token: str) -> tuple[BrowserContext, Page]:
    context = await browser.new_context()
    page = await context.new_page()
    await page.add_init_script(script="document.addEventListener('DOMContentLoaded', " + LISTEN + ")")
    await page.goto(url)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # sent here, and back afterwards
    await page.get_by_label("Token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(url)
    return context, page


async def said(page: Page, sentence: str, times: int) -> None:
    """Wait until the page's status region has said `sentence` `times` times (app.js says why each time a disabled
    control is pressed: the sign that the press was handled)."""
    deadline = asyncio.get_running_loop().time() + 15
    count = 0
    while asyncio.get_running_loop().time() < deadline:
        count = int(await page.evaluate("(s) => window.heard.filter((h) => h === s).length", sentence))
        if count >= times:
            break
        await asyncio.sleep(0.05)
    assert count == times, f"said {count} times, not {times}: {sentence!r}"


async def pressed_in_vain(page: Page, control: Locator, reason: str, *, field: Locator | None = None) -> None:
    """`control` is reached with Tab, says `reason` as its description, looks disabled, and Enter, Space, a click and
    (given `field`, of its form) Enter in a field send nothing and leave the page where it is."""
    await expect(control).to_be_focused()
    assert (await focused(page))["ring"], "no visible focus"
    await expect(control).to_have_accessible_description(reason)
    await expect(control).to_be_disabled()  # aria-disabled: Playwright counts it, as a screen reader does
    assert float(await control.evaluate("(node) => getComputedStyle(node).opacity")) < 1  # and it looks disabled
    await page.evaluate("window.samePage = true")
    sent = sent_by(page)
    heard = int(await page.evaluate("(s) => window.heard.filter((h) => h === s).length", reason))
    await page.keyboard.press("Enter")
    await said(page, reason, heard + 1)
    assert sent == [], ("Enter", sent)
    await page.keyboard.press("Space")
    await said(page, reason, heard + 2)
    assert sent == [], ("Space", sent)
    await control.click(force=True)  # a mouse click: Playwright would otherwise wait for it to be enabled
    await said(page, reason, heard + 3)
    assert sent == [], ("click", sent)
    presses = 3
    if field is not None:
        await field.press("Enter")
        presses += 1
        await said(page, reason, heard + presses)
    assert sent == [], sent
    assert await page.evaluate("window.samePage === true")  # no navigation either


@pytest.mark.timeout(150)
async def test_alice_releases_bob_watches_and_sessions_end(devcluster: DevClusterProcess, browser: Browser) -> None:
    ns = devcluster.new_namespace("browser")
    devcluster.bind(ns, "edit", user="alice")
    devcluster.bind(ns, "view", user="bob")
    admin = Console(None, devcluster)  # type: ignore[arg-type] - only its API helpers are used
    admin.create_ksvc(ns, SERVICE)
    await admin.settled(ns, SERVICE)
    v2 = {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:v2"}]}}}}
    assert devcluster.request("PATCH", f"/apis/serving.knative.dev/v1/namespaces/{ns}/services/{SERVICE}", v2,
                              content_type="application/merge-patch+json")[0] == 200
    await admin.settled(ns, SERVICE, revisions=2)
    settings = Settings(kubeconfig=str(devcluster.kubeconfig), secret_key=SECRET, request_timeout=5.0, auth="token")
    async with served(settings) as server:
        details = f"{server.url}/namespaces/{ns}/services/{SERVICE}"

        alice_context, alice = await signed_in(browser, details, devcluster.user_tokens["alice"])
        await expect(alice.locator("[data-who]")).to_contain_text("alice via token")
        await split(alice, {"the latest ready revision": "0", f"{SERVICE}-00001": "50", f"{SERVICE}-00002": "50"})
        await expect(revision_row(alice, f"{SERVICE}-00002").locator("td[data-percent]")).to_have_attribute(
            "data-percent", "50")
        annotations = admin.ksvc(ns, SERVICE)["metadata"]["annotations"]
        assert annotations["serving.knative.dev/lastModifier"] == "alice"
        await expect(alice.locator("[data-last-modifier]")).to_have_text("alice")

        bob_context, bob = await signed_in(browser, details, devcluster.user_tokens["bob"])
        reason = f"bob may not patch Services in {ns}: ask for the edit role"
        no_delete = f"bob may not delete Services in {ns}: ask for the edit role"
        # The toolbar's disabled actions are in the Tab order, after Check traffic, each saying why and doing nothing.
        await bob.get_by_role("link", name="Check traffic").focus()
        for label, why in (("Create Revision", reason), ("Split Traffic", reason), ("Delete", no_delete)):
            await bob.keyboard.press("Tab")
            await pressed_in_vain(bob, bob.get_by_role("button", name=label), why)
        await expect(bob.locator("#dialog")).to_be_hidden()
        split_button = bob.get_by_role("button", name="Split Traffic")
        await expect(split_button).to_be_disabled()
        await expect(split_button).to_have_attribute("title", reason)
        await expect(bob.get_by_role("button", name="Create Revision")).to_be_disabled()
        await expect(bob.get_by_role("button", name="Delete")).to_have_attribute(
            "title", f"bob may not delete Services in {ns}: ask for the edit role")
        before = admin.ksvc(ns, SERVICE)["metadata"]["resourceVersion"]
        await bob.goto(f"{details}/traffic")
        await expect(bob.get_by_text(f"{reason}.")).to_be_visible()
        ok = bob.get_by_role("button", name="OK", exact=True)
        await expect(ok).to_be_disabled()
        await bob.get_by_label(f"Traffic Ratio (%) for {SERVICE}-00001").fill("100")
        await bob.get_by_label(f"Traffic Ratio (%) for {SERVICE}-00002").fill("0")
        await expect(bob.get_by_text("Total: 100%", exact=True)).to_be_visible()
        await expect(ok).to_be_disabled()  # the page's script keeps it so, whatever the sum
        share = bob.get_by_label(f"Traffic Ratio (%) for {SERVICE}-00002")
        await share.focus()
        await tab_to(bob, ok)
        await pressed_in_vain(bob, ok, f"{reason}.", field=share)
        await ok.evaluate("button => button.removeAttribute('aria-disabled')")  # forced, as a hand-made POST would
        await ok.click()
        await expect(bob.get_by_role("alert")).to_have_text(f"{reason}.")
        assert admin.ksvc(ns, SERVICE)["metadata"]["resourceVersion"] == before  # nothing changed
        await expect(bob.get_by_label(f"Traffic Ratio (%) for {SERVICE}-00001")).to_have_value("100")  # kept

        # Create Service and Delete, on their own pages: the same.
        await bob.goto(f"{server.url}/namespaces/{ns}/services/new")
        name = bob.get_by_label("Service Name")
        await name.fill("not-sent")
        await tab_to(bob, bob.get_by_role("button", name="Create", exact=True))
        await pressed_in_vain(bob, bob.get_by_role("button", name="Create", exact=True),
                              f"bob may not create Services in {ns}: ask for the edit role.", field=name)
        await bob.goto(f"{details}/delete")
        await tab_to(bob, bob.get_by_role("button", name="Delete"))
        await pressed_in_vain(bob, bob.get_by_role("button", name="Delete"), f"{no_delete}.")
        assert admin.ksvc(ns, SERVICE)["metadata"]["resourceVersion"] == before  # nothing changed

        await bob.goto(details)
        await bob.get_by_role("button", name="Sign out").click()
        await expect(bob.get_by_text("You are signed out.")).to_be_visible()
        assert not [c for c in await bob_context.cookies() if c["name"] == SESSION]
        await bob.goto(details)
        await expect(bob.get_by_role("heading", name="Sign in")).to_be_visible()
        await bob_context.close()

        (session,) = [c for c in await alice_context.cookies() if c["name"] == SESSION]
        value = session["value"]
        changed = value[:20] + ("A" if value[20] != "A" else "B") + value[21:]
        await alice_context.add_cookies([{**session, "value": changed}])  # type: ignore[list-item]
        await alice.goto(details)
        await expect(alice.get_by_role("heading", name="Sign in")).to_be_visible()
        await expect(alice.locator("[data-signin-message]")).to_have_text(
            re.compile("could not be read .*sign in again"))
        await alice_context.close()
