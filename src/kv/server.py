"""`kv-server`: serve the KV API over the transports named in TRANSPORT until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Coroutine
from typing import Any

import uvloop

from kv.adapters import STORES
from kv.bootstrap import Application, bootstrap, read_settings
from kv.config import DEFAULTS, ConfigError, Settings
from kv.lifecycle import reload, serving
from kv.malloc_tuning import HeapTrimmer, tune_allocator
from kv.observability import configure_logging
from kv.transports import TRANSPORTS

EXIT_CONFIG = 2


async def serve(app: Application, stop: asyncio.Event) -> None:
    """Serve `app` until `stop` is set, then shut down gracefully (`kv.lifecycle.serving`)."""
    async with serving(app):
        await stop.wait()


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    app = bootstrap(settings)
    loop.add_signal_handler(signal.SIGHUP, reload, app)
    await serve(app, stop)


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` to completion on the event loop every server of this project uses: uvloop.

    uvloop (libuv) costs less per request than asyncio's default loop (see
    docs/benchmarks.md); grpc.aio serves on it as well, which tests/grpc and
    tests/e2e prove through kv-server.
    """
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _parser() -> argparse.ArgumentParser:
    ports = ", ".join(
        f"{known.port.variable} ({known.port.default})" for known in TRANSPORTS.values()
    )
    return argparse.ArgumentParser(
        prog="kv-server",
        description="Serve the key-value API until SIGTERM or SIGINT, then drain and exit 0.",
        epilog=(
            "Configured by environment variables (docs/configuration.md), among them: "
            f"TRANSPORT ({', '.join(TRANSPORTS)}, or a comma list; "
            f"default {','.join(DEFAULTS.transports)}), the ports {ports}, KV_HOST, "
            f"KV_STORE ({', '.join(STORES)}; default {DEFAULTS.store}), "
            "KV_DATA_DIR, KV_LOG_LEVEL. Exit status 2 on a bad setting or a port in use."
        ),
    )


def main(argv: list[str] | None = None) -> None:
    _parser().parse_args(argv)  # --help prints the usage and exits; nothing else is an option
    try:
        settings = read_settings()
        configure_logging(settings.log_level, "kv")
        tune_allocator()
        trimmer = HeapTrimmer()
        trimmer.start()
        try:
            run_event_loop(_main(settings))
        finally:
            trimmer.stop()
    except ConfigError as exc:
        print(f"kv-server: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)


if __name__ == "__main__":
    main()
