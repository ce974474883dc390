"""Fixtures of the browser tests: one Chromium and one kv-server per module.

Without Chromium the tests skip with the reason, except in CI
(CI=true), where .ci/run installs both and a missing one is a failure, not a silent skip.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.browser.chromium import CHROMIUM_ARGS, WAIT_MS, chromium_path
from tests.browser.other_client import OtherClient
from tests.servers import KvServer, start_kv_server

pytestmark = pytest.mark.e2e


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run in CI: {reason} (.ci/run installs it)")
    pytest.skip(reason)


# Module scope, not session: while Playwright's sync API is open it holds a running event loop
# in this thread, which the asyncio tests of later modules could not run beside.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        _unavailable("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KvServer]:
    server = start_kv_server(tmp_path_factory.mktemp("console"))
    yield server
    server.process.stop()


@pytest.fixture
def other(console_server: KvServer) -> OtherClient:
    return OtherClient(console_server.url)


_prefixes = itertools.count()


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    """Keys of their own for each test, so tests sharing a server do not see each other's."""
    return f"{request.node.name[:40]}-{next(_prefixes)}/"


@pytest.fixture
def page(browser: Browser, console_server: KvServer) -> Iterator[Page]:
    """A fresh page on the console; fails the test if the page logged an error (CSP included)."""
    expect.set_options(timeout=WAIT_MS)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A 4xx answer the page expects (412, 404) is logged as "Failed to load resource": not
        # an error of the page. Anything else (a refused script or style, an exception) is.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(console_server.url + "/ui/")
    yield opened
    context.close()
    assert not errors, errors
