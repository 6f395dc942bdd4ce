"""Click through the sandbox page as a clinic trying the bot would, in headless Chromium.

Enrol a patient, tap a whole check-in answering the safety question "yes", see the crisis
card in the phone and the alert in the group, acknowledge it there, travel to the weekly
digest and see its chart. A screenshot of each step goes to the test's temporary folder
(``MOODCHECK_SANDBOX_SCREENSHOT=docs/sandbox.png`` also saves the last one there, for the
README). Every wait is for something on the page; nothing sleeps.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bot.tryout.world import World

TIMEOUT_MS = 20_000
# Labels as the English patient taps them: mood, anxiety, sleep, energy, dose, side effects,
# then the safety question.
DAILY = ["7", "3", "Good", "Good", "As prescribed", "None"]
INSTRUMENT_CALM = ("Not at all", "Not difficult at all")

# Tab order of the page's controls, from the top (the chats come after them).
HEADER_TAB_ORDER = [
    "Template preview",
    "To the next check-in",
    "+1 hour",
    "+1 day",
    "To the weekly digest",
    "Telegram language",
    "Add patient",
    "A good week",
    "A safety “yes”",
    "Crisis words in Spanish",
    "Three missed days",
    "PHQ-9 item 9 above 0",
]

_NAME_OF_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el) return "";
  if (el.labels && el.labels.length) return el.labels[0].textContent.trim();
  return (el.getAttribute("aria-label") || el.textContent || "").trim();
}"""

_CHANGED = """([key, signature]) => {
  const li = document.querySelector(`li[data-key="${key}"]`);
  return li !== null && li.dataset.signature !== signature &&
    document.body.dataset.busy === "false";
}"""


class Steps:
    """The page, with a screenshot per step."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.shots: list[Path] = []

    async def shot(self, name: str) -> Path:
        path = self.folder / f"{len(self.shots) + 1:02d}-{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path

    async def tap(self, chat: Any, label: str) -> None:
        """Tap a button in the newest message of ``chat`` that has it; wait for its edit."""
        named = self.page.get_by_role("button", name=label, exact=True)
        bubble = chat.locator("li.bubble.bot").filter(has=named).last
        button = bubble.get_by_role("button", name=label, exact=True)
        key = await bubble.get_attribute("data-key")
        signature = await bubble.get_attribute("data-signature")
        await button.click()
        await self.page.wait_for_function(_CHANGED, arg=[key, signature], timeout=TIMEOUT_MS)

    async def offers(self, chat: Any, label: str) -> bool:
        last = chat.locator("li.bubble.bot").last
        count: int = await last.get_by_role("button", name=label, exact=True).count()
        return count > 0


async def _check_accessible_names(page: Any) -> None:
    """Every button has a name, every form field a label."""
    nameless = await page.evaluate(
        """() => [...document.querySelectorAll("button")]
              .filter((b) => !(b.getAttribute("aria-label") || b.textContent).trim())
              .map((b) => b.outerHTML)"""
    )
    assert nameless == []
    unlabelled = await page.evaluate(
        """() => [...document.querySelectorAll("input, select, textarea")]
              .filter((f) => !f.labels || f.labels.length === 0).map((f) => f.outerHTML)"""
    )
    assert unlabelled == []


async def _tab_through(page: Any) -> list[str]:
    await page.locator("body").focus()
    names = []
    for _ in HEADER_TAB_ORDER:
        await page.keyboard.press("Tab")
        names.append(await page.evaluate(_NAME_OF_FOCUSED))
    return names


async def _enrol(steps: Steps) -> Any:
    """The keyboard alone adds the patient (focus on "Add patient", Enter); then the
    patient taps through consent and onboarding."""
    page = steps.page
    await page.get_by_role("button", name="Add patient").focus()
    await page.keyboard.press("Enter")
    phone = page.locator("section.phone").first
    await phone.get_by_role("button", name="I agree").wait_for()
    await steps.shot("invite-opened")
    assert "/invite P-001EN" in await page.locator("#group").inner_text()
    for label in ("I agree", "English", "London", "09:00"):
        await steps.tap(phone, label)
    await phone.locator("li.bubble.bot", has_text="Every day at 09:00").wait_for()
    await _check_accessible_names(page)
    await steps.shot("enrolled")
    return phone


async def _checkin_with_safety_yes(steps: Steps, phone: Any) -> Any:
    """A whole check-in, /checkin typed then tapped, "Yes" to the safety question: the
    crisis card in the phone, the alert in the group. Returns the alert."""
    page = steps.page
    textbox = phone.get_by_role("textbox")
    await textbox.fill("/checkin")
    await textbox.press("Enter")
    await phone.get_by_role("button", name="10").wait_for()
    for label in DAILY:
        await steps.tap(phone, label)
    await steps.tap(phone, "Yes")
    await phone.locator("li.bubble.bot", has_text="Samaritans").wait_for()
    group = page.locator("#group")
    alert = group.locator("li.bubble.bot", has_text="Safety question answered yes")
    await alert.get_by_role("button", name="Acknowledge").wait_for()
    assert "P-001EN" in await alert.inner_text()
    assert "Alex" not in await group.inner_text()  # the group sees the label only
    await steps.shot("crisis-card-and-alert")
    await steps.tap(phone, "No")  # the follow-up: not thinking of acting on it
    while offered := [x for x in INSTRUMENT_CALM if await steps.offers(phone, x)]:
        await steps.tap(phone, offered[0])  # the weekly instruments, on their day
    assert await phone.locator("li.bubble.bot").last.get_by_role("button").count() == 0
    return alert


async def _digest(steps: Steps, page_url: str) -> None:
    """To the weekly digest: its chart is shown and loads, its files can be opened."""
    page = steps.page
    group = page.locator("#group")
    await page.get_by_role("button", name="To the weekly digest").click()
    chart = group.locator("img[alt$='.png']").last
    await chart.wait_for()
    await page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=await chart.element_handle()
    )
    files = group.get_by_role("link", name="digest-")
    assert await files.count() >= 2  # the HTML and CSV tables
    href = await files.last.get_attribute("href")
    response = await page.request.get(page_url + href.lstrip("/"))
    assert response.ok
    assert "label" in (await response.text()).lower()
    await page.get_by_role("status").filter(has_text="The bot's clock is now").wait_for()
    await steps.shot("digest")


async def test_try_the_bot_in_the_browser(
    browser: Any, page_url: str, world: World, tmp_path: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    steps = Steps(page, tmp_path)
    await page.goto(page_url)
    await page.get_by_role("status").filter(has_text="Ready").wait_for()
    await _check_accessible_names(page)
    assert await _tab_through(page) == HEADER_TAB_ORDER
    await steps.shot("start")

    phone = await _enrol(steps)
    alert = await _checkin_with_safety_yes(steps, phone)
    # Acknowledged from the group: the alert is redrawn with who did it.
    await steps.tap(page.locator("#group"), "Acknowledge")
    await alert.filter(has_text="Acknowledged by Dr. Rivera").wait_for()
    await steps.shot("acknowledged")
    await _digest(steps, page_url)

    target = os.environ.get("MOODCHECK_SANDBOX_SCREENSHOT")
    if target:
        await page.set_viewport_size({"width": 1280, "height": 800})
        await page.screenshot(path=target)
    assert len(steps.shots) == 6
    assert all(p.stat().st_size > 0 for p in steps.shots)
    await page.close()


async def test_the_page_is_readable_at_320_px(browser: Any, page_url: str, world: World) -> None:
    page = await browser.new_page(viewport={"width": 320, "height": 640})
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(page_url)
    await page.get_by_role("status").filter(has_text="Ready").wait_for()
    await page.get_by_role("button", name="Crisis words in Spanish").click()
    phone = page.locator("section.phone").first
    await phone.locator("li.bubble.bot", has_text="024").wait_for()  # Spain's line, in Spanish
    # The alert's own first line: the weekly digest (sent when the sandbox starts after the
    # week's digest time, e.g. on a Sunday) also names IMMEDIATE in its criteria.
    await page.locator("#group li.bubble.bot", has_text="🔴 IMMEDIATE").wait_for()
    overflow = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    await page.close()
