"""Live changes go on after the server restarts: the page's change stream comes back by itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.chromium import WAIT_MS
from tests.browser.other_client import OtherClient
from tests.servers import Process, start_kv_server, wait_http_ok

pytestmark = pytest.mark.e2e


def test_changes_after_a_server_restart_arrive_without_reload(
    browser: Browser, tmp_path: Path
) -> None:
    server = start_kv_server(tmp_path, {"KV_STORE": "sqlite"})
    restarted: Process | None = None
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        other = OtherClient(server.url)
        other.put("resume/before", 1)
        page.goto(server.url + "/ui/")
        page.get_by_label("Prefix").fill("resume/")
        page.get_by_label("Prefix").press("Enter")
        live = page.locator("#live")
        expect(live).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        other.put("resume/seen-live", 2)
        expect(page.locator("#rows tr")).to_have_count(2, timeout=WAIT_MS)

        assert server.process.stop() == 0
        expect(live).not_to_have_attribute("data-state", "live", timeout=WAIT_MS)
        # The same command, port and data directory: the store comes back with its revisions.
        process = server.process
        restarted = Process(process.args, process.env, tmp_path / "restarted.log").start()
        wait_http_ok(server.url + "/readyz", restarted)

        other.put("resume/after-restart", 3)
        expect(page.get_by_role("button", name="resume/after-restart")).to_be_visible(
            timeout=WAIT_MS
        )
        expect(live).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        expect(page.locator("#rows tr")).to_have_count(3, timeout=WAIT_MS)
    finally:
        context.close()
        server.process.stop()
        if restarted is not None:
            restarted.stop()
