"""The phased-release walkthrough of DESIGN.md in a real browser: create a Service, create a revision at 0%,
split 50/50, promote, roll back, and a split that does not add up to 100%; all through the UI of
`knative-console dev`, with the gateway reached over HTTP as curl would reach it. Then the floating row: a share
typed next to a revision stays on it when kubectl makes a newer one. Then a team lead's review: the newest
revision's page, a diff of two revisions, the history (with the kubectl change shown as made outside the console),
restoring the 50/50 split and checking the traffic at 50/50; screenshots of each (docs/ has copies for the README)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, Request, expect

from tests.browser.conftest import ConsoleProcess, PageProblems, gateway_answers
from tests.support import kubectl_binary

SERVICE = "helloworld-go"
IMAGE = "ghcr.io/knative/helloworld-go:latest"
FIRST, SECOND, THIRD = f"{SERVICE}-00001", f"{SERVICE}-00002", f"{SERVICE}-00003"
WORLD, KNATIVE = "200 Hello World!", "200 Hello Knative!"
CURL = re.compile(r'^curl -H "Host: (?P<host>[^"]+)" http://(?P<gateway>\S+)$')
# The one request the walkthrough makes fail on purpose (step 6): Chromium logs its 422 as a console error.
EXPECTED_CONSOLE_ERRORS = (
    re.compile(r"^Failed to load resource: the server responded with a status of 422 .*/services/helloworld-go/traffic\)$"),
)

expect.set_options(timeout=15_000)


async def cells(row: Locator) -> dict[str, str]:
    """A table row's cells by their column heading."""
    return await row.evaluate(
        """(row) => {
             const heads = [...row.closest("table").querySelectorAll("thead th")].map((th) => th.innerText.trim());
             return Object.fromEntries([...row.cells].map((td, i) => [heads[i], td.innerText.trim()]));
           }"""
    )


def revision_row(page: Page, name: str) -> Locator:
    return page.locator("table.revisions tbody tr").filter(has=page.get_by_role("cell", name=re.compile(rf"^{name}\b")))


async def expect_split(page: Page, split: dict[str, str]) -> None:
    """The details page shows these Traffic % per revision, the Service has settled on them, and nothing polls."""
    for name, percent in split.items():
        await expect(revision_row(page, name).locator("td[data-percent]")).to_have_attribute(
            "data-percent", percent.removesuffix("%"))
    await expect(page.locator("#live dl.info .status")).to_have_text("Success")
    assert await page.locator("[hx-trigger]").count() == 0


async def open_split_dialog(page: Page) -> Locator:
    await page.get_by_role("link", name="Split Traffic").click()
    dialog = page.get_by_role("dialog", name="Split Traffic")
    await expect(dialog).to_be_visible()
    return dialog


async def split(page: Page, percents: dict[str, str]) -> None:
    dialog = await open_split_dialog(page)
    for name, percent in percents.items():
        await dialog.get_by_label(f"Traffic Ratio (%) for {name}").fill(percent)
    await expect(dialog.get_by_text("Total: 100%", exact=True)).to_be_visible()
    await dialog.get_by_role("button", name="OK").click()
    await expect(dialog).to_be_hidden()


@pytest.mark.timeout(150)
async def test_phased_release(console_server: ConsoleProcess, page: tuple[Page, PageProblems],
                              output_dir: Path) -> None:
    tab, problems = page
    started = time.monotonic()

    # 1. Service Management, namespace default: Create Service.
    await tab.goto(console_server.url + "/")
    await expect(tab.get_by_role("heading", name="Service Management")).to_be_visible()
    async with tab.expect_navigation():
        await tab.get_by_label("Namespace").select_option("default")
    await expect(tab).to_have_url(re.compile(r"/namespaces/default/services$"))
    await expect(tab.get_by_label("Namespace")).to_have_value("default")
    await tab.get_by_role("link", name="Create Service").first.click()
    await expect(tab.get_by_role("heading", name="Create Service")).to_be_visible()
    await tab.get_by_label("Service Name").fill(SERVICE)
    await tab.get_by_label("Image Name").fill(IMAGE)
    await tab.get_by_label("Access Protocol").select_option(label="HTTP")
    await tab.get_by_label("Container Port").fill("8080")
    await tab.screenshot(path=output_dir / "step-1.png", full_page=True)
    await tab.get_by_role("button", name="Create", exact=True).click()
    await expect(tab).to_have_url(re.compile(rf"/namespaces/default/services/{SERVICE}$"))

    # 2. The list converges to Success pushed by the live stream, without a reload and without polling; the gateway
    # answers Hello World!.
    polls: list[str] = []

    def count_polls(request: Request) -> None:
        if "partial=" in request.url:
            polls.append(request.url)

    tab.on("request", count_polls)
    await tab.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Service Management").click()
    await expect(tab).to_have_url(re.compile(r"/namespaces/default/services$"))
    await tab.evaluate("window.stillTheSamePage = true")
    row = tab.locator("#services tbody tr").filter(has=tab.get_by_role("link", name=SERVICE, exact=True))
    status = row.locator(".status")
    first_status = await status.inner_text()
    assert first_status in ("In progress", "Success"), first_status
    await expect(status).to_have_text("Success")
    assert await tab.evaluate("window.stillTheSamePage === true"), "the list reloaded instead of being updated"
    assert not polls, polls
    await expect(tab.locator("body")).to_have_class(re.compile(r"\bis-live\b"))
    listed = await cells(row)
    assert listed["Default Domain"] == f"{SERVICE}.default.example.com", listed
    assert listed["Gateway"] == f"127.0.0.1:{console_server.gateway_port}", listed
    assert listed["Latest Revision"] == FIRST, listed
    await tab.screenshot(path=output_dir / "step-2.png", full_page=True)
    assert await gateway_answers(listed["Gateway"], listed["Default Domain"], 20) == {WORLD: 20}

    # 3. Details → Create Revision with TARGET=Knative at 0%: still only Hello World!.
    await row.get_by_role("link", name="Details").click()
    await expect(tab.get_by_role("heading", name=SERVICE, exact=True)).to_be_visible()
    curl = CURL.match(await tab.locator("#curl").inner_text())
    assert curl, await tab.locator("#curl").inner_text()
    host, gateway = curl["host"], curl["gateway"]
    assert (host, gateway) == (listed["Default Domain"], listed["Gateway"])
    await tab.get_by_role("button", name="Copy").click()
    await expect(tab.locator("[data-copy=curl]")).to_have_text("Copied")
    await tab.get_by_role("link", name="Create Revision").click()
    await expect(tab.get_by_role("heading", name="Basic Information")).to_be_visible()
    await expect(tab.get_by_label("Image Name")).to_have_value(IMAGE)
    await tab.get_by_role("button", name="Next").click()
    await expect(tab.get_by_role("heading", name="Advanced Settings")).to_be_visible()
    name_input, value_input = tab.get_by_label("Variable 1 name"), tab.get_by_label("Variable 1 value")
    if await name_input.input_value():
        await tab.get_by_role("button", name="Add Variable").click()
        name_input, value_input = tab.get_by_label("Variable 2 name"), tab.get_by_label("Variable 2 value")
    await name_input.fill("TARGET")
    await value_input.fill("Knative")
    await tab.get_by_role("button", name="Next").click()
    await expect(tab.get_by_role("heading", name="Traffic Splitting Settings")).to_be_visible()
    await tab.get_by_label(f"Traffic Ratio (%) for new revision {SECOND}").fill("0")
    await expect(tab.get_by_label(f"Traffic Ratio (%) for {FIRST}")).to_have_value("100")
    await expect(tab.get_by_text("Total: 100%", exact=True)).to_be_visible()
    await tab.get_by_role("button", name="Create", exact=True).click()
    await expect(tab).to_have_url(re.compile(rf"/namespaces/default/services/{SERVICE}$"))
    await expect_split(tab, {FIRST: "100%", SECOND: "0%"})
    await expect(revision_row(tab, SECOND)).to_contain_text("TARGET=Knative")
    await tab.screenshot(path=output_dir / "step-3.png", full_page=True)
    assert await gateway_answers(gateway, host, 20) == {WORLD: 20}

    # 4. Split Traffic 50/50: both answers, each 40–60% of 400.
    await split(tab, {FIRST: "50", SECOND: "50"})
    await expect_split(tab, {FIRST: "50%", SECOND: "50%"})
    await tab.screenshot(path=output_dir / "step-4.png", full_page=True)
    answers = await gateway_answers(gateway, host, 400)
    assert set(answers) == {WORLD, KNATIVE}, answers
    assert all(160 <= n <= 240 for n in answers.values()), answers

    # 5. All to the new revision, then the one-click roll back to the first.
    await split(tab, {FIRST: "0", SECOND: "100"})
    await expect_split(tab, {FIRST: "0%", SECOND: "100%"})
    assert await gateway_answers(gateway, host, 40) == {KNATIVE: 40}
    await revision_row(tab, FIRST).get_by_role("link", name="Roll back to this").click()
    dialog = tab.get_by_role("dialog", name=f"Send 100% of traffic to {FIRST}")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_label(f"Traffic Ratio (%) for {FIRST}")).to_have_value("100")
    await expect(dialog.get_by_label(f"Traffic Ratio (%) for {SECOND}")).to_have_value("0")
    after = dialog.locator("[data-after]")
    await expect(after).to_have_text("latest ready revision (now 00002) 0% · 00001 100%")
    await dialog.get_by_label(f"Traffic Ratio (%) for {FIRST}").fill("90")
    await expect(after).to_have_text("— (the shares must add up to 100%)")
    await dialog.get_by_label(f"Traffic Ratio (%) for {SECOND}").fill("10")
    await expect(after).to_have_text("latest ready revision (now 00002) 0% · 00002 10% · 00001 90%")
    await dialog.get_by_label(f"Traffic Ratio (%) for {SECOND}").fill("0")
    await dialog.get_by_label(f"Traffic Ratio (%) for {FIRST}").fill("100")
    await tab.screenshot(path=output_dir / "step-5.png")
    await dialog.get_by_role("button", name="OK").click()
    await expect(dialog).to_be_hidden()
    await expect_split(tab, {FIRST: "100%", SECOND: "0%"})
    assert await gateway_answers(gateway, host, 40) == {WORLD: 40}

    # 6. A split of 90%: OK stays disabled, and forced through, the server refuses it and changes nothing.
    dialog = await open_split_dialog(tab)
    await dialog.get_by_label(f"Traffic Ratio (%) for {FIRST}").fill("45")
    await dialog.get_by_label(f"Traffic Ratio (%) for {SECOND}").fill("45")
    await expect(dialog.get_by_text("Total: 90% — must be 100%", exact=True)).to_be_visible()
    ok = dialog.get_by_role("button", name="OK")
    await expect(ok).to_be_disabled()
    await ok.evaluate("(button) => button.removeAttribute('aria-disabled')")
    await ok.click()
    await expect(dialog.get_by_role("alert")).to_have_text("Traffic must add up to 100%; these add up to 90%.")
    await expect(dialog.get_by_label(f"Traffic Ratio (%) for {FIRST}")).to_have_value("45")
    await tab.screenshot(path=output_dir / "step-6.png")
    await dialog.get_by_role("link", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await tab.reload()
    await expect_split(tab, {FIRST: "100%", SECOND: "0%"})
    assert await gateway_answers(gateway, host, 20) == {WORLD: 20}

    # 7. The floating row: 40% typed next to helloworld-go-00002 stays there when a third revision is made behind
    #    the console's back (kubectl); the floating entry is its own row, at 0%, labelled for what it is.
    dialog = await open_split_dialog(tab)
    await expect(dialog.locator("tr.floating-row")).to_contain_text(
        f"Latest ready revision follows every new revision — now {SECOND}")
    await expect(dialog.get_by_label("Traffic Ratio (%) for the latest ready revision")).to_have_value("0")
    await dialog.get_by_label(f"Traffic Ratio (%) for {SECOND}").fill("40")
    await dialog.get_by_label(f"Tag for {SECOND}").fill("candidate")
    await dialog.get_by_label(f"Traffic Ratio (%) for {FIRST}").fill("60")
    await dialog.get_by_role("button", name="OK").click()
    await expect(dialog).to_be_hidden()
    await expect_split(tab, {FIRST: "60%", SECOND: "40%"})
    patch = '{"spec":{"template":{"spec":{"containers":[{"image":"%s","env":[{"name":"TARGET","value":"Unreviewed"}]}]}}}}'
    kubectl = await asyncio.create_subprocess_exec(
        kubectl_binary("1.33"), "patch", "ksvc", SERVICE, "--type", "merge", "-p", patch % IMAGE,
        env={**os.environ, "KUBECONFIG": str(console_server.data / "kubeconfig")}, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(kubectl.communicate(), 60)
    assert kubectl.returncode == 0, stderr
    await tab.reload()  # the page stopped refreshing once settled; a user reloads to see what kubectl did
    await expect(revision_row(tab, THIRD).locator(".status")).to_have_text("Success")
    await expect_split(tab, {FIRST: "60%", SECOND: "40%", THIRD: "0%"})
    await expect(tab.locator('tr[data-entry="latest"]')).to_contain_text(f"now {THIRD}")
    await tab.screenshot(path=output_dir / "step-7.png", full_page=True)
    answers = await gateway_answers(gateway, host, 200)
    assert answers == {WORLD: 120, KNATIVE: 80}, answers  # 0 of 200 on the unreviewed revision
    assert await gateway_answers(gateway, f"candidate-{host}", 20) == {KNATIVE: 20}

    await team_lead_pass(tab, output_dir)

    unexpected = [m for m in problems.console if not any(p.match(m) for p in EXPECTED_CONSOLE_ERRORS)]
    assert not unexpected, f"console errors: {unexpected}"
    assert not problems.uncaught, f"page errors: {problems.uncaught}"
    print(f"walkthrough: {time.monotonic() - started:.1f} s; the list's first status was {first_status!r}")


async def team_lead_pass(tab: Page, output_dir: Path) -> None:
    """A team lead reviews the release: compares two revisions, reads the history (where the kubectl change of step
    7 shows as made outside the console), restores the 50/50 split of step 4, and checks the traffic at 50/50."""
    details = tab.url
    # The newest revision's page: what it is and what it changed.
    await revision_row(tab, THIRD).get_by_role("link", name=THIRD).click()
    await expect(tab.get_by_role("heading", name=f"Revision {THIRD}")).to_be_visible()
    await expect(tab.locator("#region-summary .diff-list li")).to_have_text(["env TARGET Knative → Unreviewed"])
    await expect(tab.locator("#region-instances [data-instances]")).to_have_text(
        re.compile(r"^(\d+ running(, \d+ starting)?|starting|0 \(scaled to zero; the next request starts one\))$"))
    await expect(tab.locator("#region-logs")).to_contain_text("kubectl logs")
    await expect(tab.get_by_role("link", name=f"« {SECOND}")).to_be_visible()
    await tab.screenshot(path=output_dir / "team-lead-revision.png", full_page=True)
    await tab.goto(details)
    # Compare: tick two revisions in the table, Compare selected.
    await revision_row(tab, SECOND).get_by_role("checkbox").check()
    await revision_row(tab, THIRD).get_by_role("checkbox").check()
    await tab.get_by_role("button", name="Compare selected").click()
    await expect(tab.get_by_role("heading", name=f"What changed from {SECOND} to {THIRD}")).to_be_visible()
    await expect(tab.locator("[data-diff] li")).to_have_text(["env TARGET Knative → Unreviewed"])
    await expect(tab.locator("tr[data-changed]")).to_have_count(1)
    await tab.screenshot(path=output_dir / "team-lead-diff.png", full_page=True)

    # History: the console's changes, and the revision kubectl made, as made outside the console.
    await tab.goto(details)
    await tab.get_by_role("link", name="History", exact=True).click()
    await expect(tab.get_by_role("heading", name=f"History of {SERVICE}")).to_be_visible()
    await expect(tab.locator('tr[data-source="outside"]').first).to_contain_text("Revision 00003 created outside "
                                                                                "the console")
    fifty = tab.locator('tr[data-source="console"]').filter(
        has_text="→ latest ready revision 0% · 00002 50% · 00001 50%")
    await expect(fifty).to_have_count(1)
    await tab.screenshot(path=output_dir / "team-lead-history.png", full_page=True)

    # Restore this split: the Split Traffic dialog, preset, with what it will send; OK puts 50/50 back.
    await fifty.get_by_role("link", name="Restore this split").click()
    dialog = tab.get_by_role("dialog", name="Restore an earlier split")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("[data-after]")).to_have_text(
        "latest ready revision (now 00003) 0% · 00002 50% · 00001 50%")
    await dialog.get_by_text("What will be sent").click()
    await expect(dialog.locator('[data-command="kubectl"]')).to_contain_text(
        f'kubectl patch ksvc {SERVICE} -n default --type merge -p \'{{"spec":{{"traffic":[')
    await tab.screenshot(path=output_dir / "team-lead-restore.png")
    await dialog.get_by_role("button", name="OK").click()
    await expect(dialog).to_be_hidden()
    await expect(tab).to_have_url(re.compile(rf"/namespaces/default/services/{SERVICE}$"))
    await expect_split(tab, {FIRST: "50%", SECOND: "50%", THIRD: "0%"})

    # Check traffic at 50/50: both shares between 40% and 60%, shown as they come in.
    await tab.get_by_role("link", name="Check traffic").click()
    check = tab.get_by_role("dialog", name="Check traffic")
    await expect(check).to_be_visible()
    await expect(check.get_by_label("Requests")).to_have_value("200")
    await check.get_by_role("button", name="Start").click()
    await expect(check.locator('[data-check-result="done"]')).to_be_visible()
    observed = {await row.get_attribute("data-check-row"): float(await row.get_attribute("data-observed") or "0")
                for row in await check.locator("tr[data-check-row]").all()}
    assert observed.pop("00003") == 0.0, observed  # the latest revision, at 0%: no answer from it
    assert set(observed) == {"00001", "00002"} and all(40 <= share <= 60 for share in observed.values()), observed
    await tab.screenshot(path=output_dir / "team-lead-check.png")
