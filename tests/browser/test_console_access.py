"""The console by keyboard alone, for assistive technology, and at phone width (375 px)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.other_client import OtherClient
from tests.browser.test_console import browse

pytestmark = pytest.mark.e2e

# Every form control's accessible name: its <label>, or an aria-label.
UNLABELLED_CONTROLS = """() => [...document.querySelectorAll("input, select, textarea, button")]
    .filter((el) => el.offsetParent !== null || el.closest("dialog[open]"))
    .filter((el) => el.tagName === "BUTTON"
        ? !(el.textContent.trim() || el.getAttribute("aria-label"))
        : !(el.labels.length || el.getAttribute("aria-label")))
    .map((el) => el.outerHTML)"""

FOCUS_OUTLINE = "() => getComputedStyle(document.activeElement).outlineStyle"
HORIZONTAL_OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def tab_to(page: Page, selector: str, *, presses: int = 25) -> None:
    """Press Tab until `selector` has the focus (at most `presses` times)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_only_open_edit_and_close(page: Page, other: OtherClient, prefix: str) -> None:
    key = prefix + "by-keyboard"
    other.put(key, {"step": 1})
    browse(page, prefix)
    page.locator("body").focus()
    tab_to(page, "button.key-link")
    assert page.evaluate(FOCUS_OUTLINE) == "solid"  # the focus is visible
    page.keyboard.press("Enter")
    value = page.get_by_label("Value (JSON)")
    expect(value).to_be_focused()
    value.fill('{"step": 2}')
    # One Escape does not throw unsaved text away; a second does, and the focus goes back.
    page.keyboard.press("Escape")
    expect(page.locator("#announcer")).to_contain_text("press Escape again")
    expect(page.locator("#detail")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()
    expect(page.get_by_role("button", name=key, exact=True)).to_be_focused()
    assert other.get(key)["value"] == {"step": 1}  # type: ignore[index]

    page.keyboard.press("Enter")
    page.get_by_label("Value (JSON)").fill('{"step": 3}')
    page.keyboard.press("Control+Enter")
    expect(page.locator("#announcer")).to_contain_text("Saved")
    assert other.get(key)["value"] == {"step": 3}  # type: ignore[index]


def test_every_control_is_labelled_and_errors_are_announced(
    page: Page, other: OtherClient, prefix: str
) -> None:
    other.put(prefix + "k", 1)
    browse(page, prefix)
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    page.get_by_role("button", name="New key", exact=True).click()
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    expect(page.locator("#announcer")).to_have_attribute("aria-live", "polite")
    # A key too long is said at the field; a request the server refuses (a value over 1 MiB)
    # in the alert region (role=alert).
    page.get_by_label("Key", exact=True).fill("k" * 1025)
    page.get_by_label("Value (JSON)").fill("1")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#key-error")).to_have_text("At most 1024 bytes.")
    expect(page.get_by_label("Key", exact=True)).to_be_focused()
    page.get_by_label("Key", exact=True).fill(prefix + "deep")
    page.get_by_label("Value (JSON)").fill('"' + "x" * (1024 * 1024 + 1) + '"')
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Not saved")
    expect(page.get_by_role("alert")).to_contain_text("413")


def test_readable_at_phone_width(page: Page, other: OtherClient, prefix: str) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    other.put(prefix + "a-rather-long-key-name/that/keeps/going/and/going", {"x": "y" * 300})
    other.put(prefix + "short", "v")
    browse(page, prefix)
    expect(page.locator("#rows tr")).to_have_count(2)
    assert page.evaluate(HORIZONTAL_OVERFLOW) <= 0
    # The value and revision stand under the key when the columns do not fit.
    expect(page.locator("#rows .facts-inline").first).to_be_visible()
    expect(page.locator("#rows td.col-value").first).to_be_hidden()
    page.get_by_role("button", name=prefix + "short", exact=True).click()
    expect(page.get_by_label("Value (JSON)")).to_be_visible()
    assert page.evaluate(HORIZONTAL_OVERFLOW) <= 0
