"""The HTTP transport's health probe (`kv.healthcheck`): `/readyz` answers 200."""

from __future__ import annotations

import urllib.error
import urllib.request

from kv.probe_tls import ProbeTls


def probe(host: str, port: int, timeout: float, tls: ProbeTls | None) -> str | None:
    """None when `/readyz` at `host:port` answers 200 (the store is usable), else why not."""
    scheme, context = ("http", None) if tls is None else ("https", tls.ssl_context())
    url = f"{scheme}://{host}:{port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} unreachable: {exc}"
