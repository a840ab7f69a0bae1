"""In a real browser: form attributes are DOM properties (maxlength, required, min/max, spellcheck,
autocomplete), a 63-character Service name keeps the list inside 1366 px with its actions visible, and the
details page (with no status or tag broken mid-word) and the Split Traffic dialog work at 800 px."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import ConsoleProcess, PageProblems

LONG = "a" + "b" * 61 + "c"  # a valid 63-character Service name


async def fits(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


async def in_view(page: Page, selector: str) -> bool:
    box = await page.locator(selector).first.bounding_box()
    width = await page.evaluate("window.innerWidth")
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


async def broken_words(page: Page) -> list[str]:
    """The status badges and tags of the page that wrap inside themselves ("Succe / ss", "candida / te"), and the
    one-word cells of conditions and events tables (type, status, reason) whose word is on more than one line."""
    return list(await page.evaluate("""() => [
        ...[...document.querySelectorAll('.status, code.tag, .badge')]
          .filter((e) => e.getClientRects().length > 1
                  || e.getBoundingClientRect().height > 1.9 * parseFloat(getComputedStyle(e).fontSize)),
        ...[...document.querySelectorAll('table.conditions td:nth-child(-n+3), table.events td:nth-child(-n+3)')]
          .filter((e) => {
            const word = e.textContent.trim();
            if (!word || /\\s/.test(word)) return false;
            const range = document.createRange();
            range.selectNodeContents(e);
            return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
          })]
        .map((e) => e.textContent.trim())"""))


@pytest.mark.timeout(120)
async def test_attributes_and_layout(console_server: ConsoleProcess, page: tuple[Page, PageProblems]) -> None:
    tab, problems = page
    await tab.set_viewport_size({"width": 1366, "height": 800})
    await tab.goto(console_server.url + "/namespaces/default/services/new")
    name = tab.get_by_label("Service Name")
    assert await name.evaluate("(e) => [e.maxLength, e.required, e.spellcheck, e.autocomplete]") == \
        [63, True, False, "off"]
    port = tab.get_by_label("Container Port")
    assert await port.evaluate("(e) => [e.min, e.max, e.step]") == ["1", "65535", "1"]
    assert await tab.get_by_label("Min Scale").evaluate("(e) => e.min") == "0"
    await name.fill(LONG + "toolong")
    assert await name.input_value() == LONG  # maxlength works
    await tab.get_by_label("Image Name").fill("ghcr.io/knative/helloworld-go:" + "v" * 120)
    await tab.get_by_role("button", name="Create", exact=True).click()
    await expect(tab.get_by_role("heading", name=LONG)).to_be_visible()

    await tab.goto(console_server.url + "/namespaces/default/services")
    await expect(tab.locator("#services .status").first).to_have_text("Success")
    assert await fits(tab), "the list is wider than a 1366 px window"
    assert await in_view(tab, f'tr[data-service="{LONG}"] a.danger'), "Delete is out of view"

    await tab.set_viewport_size({"width": 800, "height": 800})
    await tab.goto(console_server.url + f"/namespaces/default/services/{LONG}")
    await expect(tab.locator("#live dl.info .status")).to_have_text("Success")
    assert await fits(tab), "the details page is wider than 800 px"
    assert await broken_words(tab) == [], "a status or tag is broken over two lines"
    assert await in_view(tab, "text=Split Traffic")
    await tab.get_by_role("link", name="Split Traffic").click()
    dialog = tab.get_by_role("dialog", name="Split Traffic")
    await expect(dialog).to_be_visible()
    assert await in_view(tab, "dialog [data-ok]"), "OK is out of view at 800 px"
    assert await fits(tab)
    assert not problems.console and not problems.uncaught, (problems.console, problems.uncaught)
