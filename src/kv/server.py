"""`kv-server`: serve the KV API over the transports named in TRANSPORT until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

import uvloop

from kv.bootstrap import Application, bootstrap, read_settings
from kv.config import ConfigError, Settings
from kv.logs import configure_logging

log = logging.getLogger("kv.server")

EXIT_CONFIG = 2


async def serve(app: Application, settings: Settings, stop: asyncio.Event) -> None:
    """Start the store and transports, wait for `stop`, then shut down gracefully."""
    await app.service.start()
    started = []
    try:
        for transport in app.transports:
            try:
                await transport.start()
            except OSError as exc:
                variable = {"http": "KV_HTTP_PORT", "grpc": "KV_GRPC_PORT"}.get(
                    transport.name, "TRANSPORT"
                )
                raise ConfigError(
                    variable, f"cannot listen on {transport.address}: {exc}"
                ) from None
            started.append(transport)
            log.info("listening", extra={"transport": transport.name, "address": transport.address})
        log.info(
            "ready",
            extra={"store": settings.store, "transports": list(settings.transports)},
        )
        await stop.wait()
        log.info("shutting down: draining in-flight requests")
        for transport in started:
            transport.drain()
        # Watch streams never finish by themselves: end them so that draining can.
        app.service.end_watches()
    finally:
        await asyncio.gather(*(transport.stop() for transport in started))
        await app.service.stop()
    log.info("stopped")


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(bootstrap(settings), settings, stop)


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` to completion on the event loop every server of this project uses: uvloop.

    uvloop (libuv) costs less per request than asyncio's default loop (see
    docs/benchmarks.md); grpc.aio serves on it as well, which tests/grpc and
    tests/e2e prove through kv-server.
    """
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def main() -> None:
    try:
        settings = read_settings()
        configure_logging(settings.log_level, "kv")
        run_event_loop(_main(settings))
    except ConfigError as exc:
        print(f"kv-server: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)


if __name__ == "__main__":
    main()
