"""`python -m kv.healthcheck`: exit 0 when the local `kv-server` is ready, 1 when it is not.

The container's HEALTHCHECK runs this with the server's own environment, so it probes the very
addresses the server listens on, whatever `TRANSPORT` says: every served transport is asked
through its own probe (`RegisteredTransport.probe`: HTTP `/readyz`, the gRPC health service,
RESP PING), all at once, and the server is healthy when every one answers. Slim images have no
curl, and this needs nothing the server does not already install.

When the server serves TLS, so does every probe (`kv.probe_tls`).
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from kv.bootstrap import read_settings
from kv.config import ConfigError, Settings
from kv.probe_tls import ProbeTls
from kv.transports import TRANSPORTS

HEALTHY, UNHEALTHY = 0, 1
TIMEOUT_SECONDS = 3.0
WILDCARD_HOSTS = ("", "0.0.0.0", "::")


def probe_host(settings: Settings) -> str:
    """The address to probe: loopback when the server binds every interface."""
    host = "127.0.0.1" if settings.host in WILDCARD_HOSTS else settings.host
    return f"[{host}]" if ":" in host else host


def check(settings: Settings, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """None when every served transport answers its probe, else why not (each that failed)."""
    host = probe_host(settings)
    tls = ProbeTls.from_settings(settings)
    probes = [(TRANSPORTS[name].load_probe(), settings.ports[name]) for name in settings.transports]
    with ThreadPoolExecutor(max_workers=len(probes)) as pool:
        answers = list(pool.map(lambda each: each[0](host, each[1], timeout, tls), probes))
    problems = [answer for answer in answers if answer is not None]
    return "; ".join(problems) if problems else None


def main() -> None:
    try:
        problem = check(read_settings())
    except (ConfigError, OSError) as exc:
        problem = str(exc)
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        sys.exit(UNHEALTHY)
    sys.exit(HEALTHY)


if __name__ == "__main__":
    main()
