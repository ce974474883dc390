"""Screenshots of the console for docs/ (`make screenshots`): desktop and phone width.

Starts its own kv-server on a free loopback port, writes a few sample entries, and drives
the system Chromium as the browser tests do. Run: python -m tests.browser.screenshots
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.chromium import CHROMIUM_ARGS, WAIT_MS, chromium_path
from tests.browser.other_client import OtherClient
from tests.servers import start_kv_server

DOCS = Path(__file__).resolve().parents[2] / "docs"

SAMPLE = {
    "app/config/database": {"host": "db.internal", "port": 5432, "pool": {"min": 2, "max": 20}},
    "app/config/feature-flags": {"new-checkout": True, "dark-mode": False, "beta-search": 0.25},
    "app/config/limits": {"requests_per_minute": 600, "burst": 50},
    "app/config/log-level": "info",
    "app/maintenance": False,
    "app/release": {"version": "2.14.1", "commit": "9f1c2ab", "channel": "stable"},
    "app/replicas": 3,
    "app/sessions/4f9a": {"user": "ana", "roles": ["admin"]},
    "app/sessions/7c21": {"user": "li", "roles": ["viewer"]},
    "app/welcome-banner": "Scheduled maintenance on Sunday 02:00-03:00 UTC",
}
FLAGS_CHANGED = {"new-checkout": True, "dark-mode": True, "beta-search": 0.25}
EXPIRING = {"app/sessions/4f9a": 1800, "app/sessions/7c21": 86400}


def show(page: Page, url: str) -> None:
    page.goto(url + "/ui/")
    page.get_by_label("Prefix").fill("app/")
    page.get_by_label("Prefix").press("Enter")
    expect(page.locator("#rows tr")).to_have_count(len(SAMPLE))
    expect(page.locator("#live")).to_have_attribute("data-state", "live")


def main() -> int:
    executable = chromium_path()
    if executable is None:
        print("no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 2
    expect.set_options(timeout=WAIT_MS)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_kv_server(Path(tmp))
        try:
            other = OtherClient(server.url)
            for key, value in SAMPLE.items():
                other.put(key, value, ttl=EXPIRING.get(key))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                desktop = browser.new_page(viewport={"width": 1280, "height": 760})
                show(desktop, server.url)
                desktop.get_by_role("button", name="app/config/feature-flags").click()
                expect(desktop.locator("#detail-heading")).to_have_text("app/config/feature-flags")
                # Another client's change, as the open entry's banner and the list show it.
                other.put("app/config/feature-flags", FLAGS_CHANGED)
                expect(desktop.locator("#remote")).to_be_visible()
                desktop.evaluate("document.activeElement.blur()")
                desktop.screenshot(path=DOCS / "console-desktop.png", animations="disabled")

                phone = browser.new_page(
                    viewport={"width": 375, "height": 760}, device_scale_factor=2
                )
                show(phone, server.url)
                phone.evaluate("document.activeElement.blur()")
                phone.screenshot(path=DOCS / "console-phone.png", animations="disabled")
                phone.get_by_role("button", name="app/release").click()
                expect(phone.locator("#detail-heading")).to_have_text("app/release")
                phone.locator("#detail").scroll_into_view_if_needed()
                phone.evaluate("document.activeElement.blur()")
                phone.screenshot(path=DOCS / "console-phone-entry.png", animations="disabled")
                browser.close()
        finally:
            server.process.stop()
    print(f"wrote console-desktop.png, console-phone.png and console-phone-entry.png in {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
