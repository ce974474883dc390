"""The HTTP transport's health probe (`kv.healthcheck`): `/readyz` answers 200."""

from __future__ import annotations

import urllib.error
import urllib.request


def probe(host: str, port: int, timeout: float) -> str | None:
    """None when `/readyz` at `host:port` answers 200 (the store is usable), else why not."""
    url = f"http://{host}:{port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} unreachable: {exc}"
