"""The console at /ui/ in Chromium against the real kv-server: each user task end to end."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser.other_client import OtherClient

pytestmark = pytest.mark.e2e


def browse(page: Page, prefix: str, per_page: str = "25") -> None:
    """Show the keys under `prefix` (typed, then Enter, as a keyboard user would)."""
    page.get_by_label("Per page").select_option(per_page)
    page.get_by_label("Prefix").fill(prefix)
    page.get_by_label("Prefix").press("Enter")
    expect(page.locator("#list-status")).to_contain_text(prefix)


def row_keys(page: Page) -> list[str]:
    return page.locator("#rows button.key-link").all_inner_texts()


def open_key(page: Page, key: str) -> None:
    page.get_by_role("button", name=key, exact=True).click()
    expect(page.locator("#detail-heading")).to_have_text(key)


def editor_value(page: Page) -> object:
    return json.loads(page.get_by_label("Value (JSON)").input_value())


def test_browse_pages_forward_and_back(page: Page, other: OtherClient, prefix: str) -> None:
    keys = [f"{prefix}k{i:02d}" for i in range(23)]
    for i, key in enumerate(keys):
        other.put(key, {"n": i})
    other.put(prefix.rstrip("/") + "0-outside", "not under the prefix")
    browse(page, prefix, per_page="10")

    expect(page.locator("#rows tr")).to_have_count(10)
    assert row_keys(page) == keys[:10]
    expect(page.get_by_role("button", name="← Previous", exact=True)).to_be_disabled()
    page.get_by_role("button", name="Next →", exact=True).click()
    expect(page.locator("#page-label")).to_have_text("Page 2")
    assert row_keys(page) == keys[10:20]
    page.get_by_role("button", name="Next →", exact=True).click()
    expect(page.locator("#page-label")).to_have_text("Page 3")
    assert row_keys(page) == keys[20:]
    expect(page.get_by_role("button", name="Next →", exact=True)).to_be_disabled()
    page.get_by_role("button", name="← Previous", exact=True).click()
    expect(page.locator("#page-label")).to_have_text("Page 2")
    assert row_keys(page) == keys[10:20]
    # The value, pretty-printed, and the revision of an opened entry.
    open_key(page, keys[12])
    assert editor_value(page) == {"n": 12}
    assert '\n  "n": 12\n' in page.get_by_label("Value (JSON)").input_value()
    revision = other.get(keys[12])["revision"]
    expect(page.locator("#meta-revision")).to_have_text(str(revision))


def test_create_validates_json_before_sending(page: Page, other: OtherClient, prefix: str) -> None:
    browse(page, prefix)
    page.get_by_role("button", name="New key", exact=True).click()
    key = prefix + "created"
    page.get_by_label("Key", exact=True).fill(key)
    page.get_by_label("Value (JSON)").fill('{"colour": "teal", ')
    page.get_by_label("Expire after (seconds)").fill("3600")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#value-error")).to_contain_text("Not valid JSON")
    expect(page.get_by_label("Value (JSON)")).to_have_attribute("aria-invalid", "true")
    assert other.get(key) is None

    page.get_by_label("Value (JSON)").fill('{"colour": "teal", "big": 12345678901234567890}')
    page.get_by_label("Value (JSON)").press("Control+Enter")
    expect(page.locator("#detail-heading")).to_have_text(key)
    stored = other.get(key)
    assert stored is not None
    # The 20-digit integer is stored as written, not rounded to a double by the page.
    assert stored["value"] == {"colour": "teal", "big": 12345678901234567890}
    assert 3590 <= stored["ttl"] <= 3600
    expect(page.locator("#meta-revision")).to_have_text(str(stored["revision"]))
    expect(page.locator("#rows tr")).to_have_count(1)
    assert row_keys(page) == [key]

    # Creating an existing key is refused by the server (409) and said next to the key field.
    page.get_by_role("button", name="New key", exact=True).click()
    page.get_by_label("Key", exact=True).fill(key)
    page.get_by_label("Value (JSON)").fill("1")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#key-error")).to_contain_text("exists already")
    assert other.get(key)["value"] == {"colour": "teal", "big": 12345678901234567890}


def test_edit_saves_with_the_revision_it_read(page: Page, other: OtherClient, prefix: str) -> None:
    key = prefix + "settings"
    other.put(key, {"retries": 3})
    browse(page, prefix)
    open_key(page, key)
    page.get_by_label("Value (JSON)").fill('{"retries": 5, "backoff": [1, 2]}')
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#announcer")).to_contain_text("Saved")
    stored = other.get(key)
    assert stored is not None
    assert stored["value"] == {"retries": 5, "backoff": [1, 2]}
    expect(page.locator("#meta-revision")).to_have_text(str(stored["revision"]))
    expect(page.locator("#rows tr td.num").first).to_have_text(str(stored["revision"]))


def test_conflicting_edit_is_shown_not_overwritten(
    page: Page, other: OtherClient, prefix: str
) -> None:
    key = prefix + "contended"
    other.put(key, "first")
    browse(page, prefix)
    open_key(page, key)
    theirs = other.put(key, {"written": "by the other client"})
    page.get_by_label("Value (JSON)").fill('"mine"')
    page.get_by_role("button", name="Save", exact=True).click()

    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text(f"revision {theirs['revision']}")
    assert json.loads(page.locator("#conflict-value").inner_text()) == theirs["value"]
    assert other.get(key)["value"] == theirs["value"]
    assert editor_value(page) == "mine"  # the user's text is kept

    page.get_by_role("button", name="Discard my edit, load the server's", exact=True).click()
    expect(conflict).to_be_hidden()
    assert editor_value(page) == theirs["value"]
    expect(page.locator("#meta-revision")).to_have_text(str(theirs["revision"]))


def test_delete_asks_first(page: Page, other: OtherClient, prefix: str) -> None:
    key = prefix + "doomed"
    other.put(key, [1, 2, 3])
    browse(page, prefix)
    open_key(page, key)
    page.get_by_role("button", name="Delete…", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(key)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert other.get(key) is not None

    page.get_by_role("button", name="Delete…", exact=True).click()
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator("#detail")).to_be_hidden()
    expect(page.locator("#rows tr")).to_have_count(0)
    assert other.get(key) is None


def test_delete_of_a_changed_key_is_refused_and_shown(
    page: Page, other: OtherClient, prefix: str
) -> None:
    key = prefix + "moved-on"
    other.put(key, "old")
    browse(page, prefix)
    open_key(page, key)
    theirs = other.put(key, "new")
    page.get_by_role("button", name="Delete…", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator("#conflict")).to_contain_text("Not deleted")
    assert json.loads(page.locator("#conflict-value").inner_text()) == "new"
    assert other.get(key) == {"key": key, "value": "new", "revision": theirs["revision"]}


def test_change_by_another_client_appears_live(page: Page, other: OtherClient, prefix: str) -> None:
    watched = prefix + "b-watched"
    other.put(watched, "before")
    other.put(prefix + "c-leaving", 1)
    browse(page, prefix)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    open_key(page, watched)

    changed = other.put(watched, "after")
    other.put(prefix + "a-arrived", {"new": True})
    other.delete(prefix + "c-leaving")

    expect(page.locator("#rows tr")).to_have_count(2)
    expect(page.get_by_role("button", name=prefix + "a-arrived")).to_be_visible()
    expect(page.locator("#remote")).to_contain_text(f"revision {changed['revision']}")
    expect(page.locator("#announcer")).not_to_be_empty()
    assert row_keys(page) == [prefix + "a-arrived", watched]
    page.get_by_role("button", name="Load the server's version", exact=True).click()
    expect(page.locator("#remote")).to_be_hidden()
    assert editor_value(page) == "after"
