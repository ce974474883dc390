"""Debian's Chromium driven by Playwright, without Playwright downloading a browser of its own."""

from __future__ import annotations

import os
import shutil

# Headless without a sandbox (CI runs as root), no GPU, and no traffic of the browser's own
# (updates, field trials, safe browsing): the tests reach only the kv-server on loopback.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Bounded waits, generous for a loaded 2-core machine: every wait polls and ends as soon as
# its condition holds, so a long bound costs nothing when things are fast.
WAIT_MS = 30_000


def chromium_path() -> str | None:
    """The system Chromium (`KV_CHROMIUM` overrides the search), or None when there is none."""
    configured = os.environ.get("KV_CHROMIUM")
    if configured:
        return configured
    return shutil.which("chromium") or shutil.which("chromium-browser")
