"""The console against a server that requires a token: it asks on 401, keeps the token for the
tab only, and sends it on every call, the change stream included (a streaming fetch)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.access.secured import ADMIN_TOKEN, APP_TOKEN, WRONG_TOKEN, write_auth_file
from tests.browser.chromium import WAIT_MS
from tests.browser.other_client import OtherClient
from tests.servers import KvServer, start_kv_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def secured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KvServer]:
    directory = tmp_path_factory.mktemp("console-auth")
    server = start_kv_server(directory, {"KV_AUTH_FILE": str(write_auth_file(directory))})
    yield server
    server.process.stop()


def open_console(browser: Browser, server: KvServer) -> tuple[Page, list[Request]]:
    expect.set_options(timeout=WAIT_MS)
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    page.goto(server.url + "/ui/")
    return page, requests


def browse(page: Page, prefix: str) -> None:
    page.get_by_label("Prefix").fill(prefix)
    page.get_by_label("Prefix").press("Enter")


def give_token(page: Page, token: str) -> None:
    dialog = page.get_by_role("dialog", name="Token required")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Token").fill(token)
    dialog.get_by_role("button", name="Use this token").click()


def test_the_console_asks_for_a_token_and_sends_it_everywhere(
    browser: Browser, secured_server: KvServer
) -> None:
    other = OtherClient(secured_server.url, ADMIN_TOKEN)
    other.put("app/console-before", 1)
    page, requests = open_console(browser, secured_server)
    try:
        give_token(page, WRONG_TOKEN)  # refused: asked again, saying so
        expect(page.get_by_role("dialog", name="Token required")).to_contain_text("refused")
        give_token(page, APP_TOKEN)
        expect(page.get_by_role("dialog", name="Token required")).to_be_hidden()
        browse(page, "app/")
        expect(page.get_by_role("button", name="app/console-before")).to_be_visible()
        live = page.locator("#live")
        expect(live).to_have_attribute("data-state", "live")
        other.put("app/console-live", 2)
        expect(page.get_by_role("button", name="app/console-live")).to_be_visible()

        watches = [r for r in requests if "/v1/watch" in r.url]
        assert watches
        assert all(r.headers.get("authorization") == f"Bearer {APP_TOKEN}" for r in watches[-1:])
        listed = [r for r in requests if "/v1/kv?" in r.url]
        assert listed[-1].headers.get("authorization") == f"Bearer {APP_TOKEN}"
        # For this tab only: in sessionStorage, not in a cookie, not in a URL.
        assert page.evaluate("sessionStorage.getItem('kv.token')") == APP_TOKEN
        assert page.context.cookies() == []
        assert not any(APP_TOKEN in r.url for r in requests)
    finally:
        page.context.close()


def test_a_new_tab_asks_again_and_a_refusal_says_so(
    browser: Browser, secured_server: KvServer
) -> None:
    page, _ = open_console(browser, secured_server)
    try:
        give_token(page, APP_TOKEN)
        browse(page, "shared")  # app may read shared/, not everything starting with "shared"
        expect(page.locator("#alert")).to_contain_text("may not read")
        # Cancelling the dialog leaves the 401 as the answer.
        page.evaluate("sessionStorage.clear()")
        browse(page, "app/")
        page.get_by_role("dialog", name="Token required").get_by_role(
            "button", name="Cancel"
        ).click()
        expect(page.locator("#alert")).to_contain_text("Could not list keys")
    finally:
        page.context.close()
