"""The one start/drain/stop lifecycle of a service and its transports, and SIGHUP's reload.

`kv-server` and the in-process test harness both run an `Application` in
`serving(app)`: the store opens, then each transport starts listening; on
leaving the block every transport first reports not-ready (drain), then
stops accepting and finishes its requests in flight, and the store closes
last, once nothing can write to it any more.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kv.bootstrap import Application
from kv.config import ConfigError
from kv.observability import get_logger
from kv.transports import TRANSPORTS, Transport

log = get_logger("kv.server")


@asynccontextmanager
async def serving(app: Application) -> AsyncIterator[Application]:
    """Serve `app` until the block ends; a port that cannot be bound is a ConfigError naming it."""
    await app.service.start()
    started: list[Transport] = []
    try:
        for transport in app.transports:
            try:
                await transport.start()
            except OSError as exc:
                variable = TRANSPORTS[transport.name].port.variable
                raise ConfigError(
                    variable, f"cannot listen on {transport.address}: {exc}"
                ) from None
            started.append(transport)
            log.info("listening", transport=transport.name, address=transport.address)
        log.info("ready", transports=[transport.name for transport in started])
        yield app
        log.info("shutting down: draining in-flight requests")
    finally:
        for transport in started:
            transport.drain()
        # Watch streams never finish by themselves: end them so that draining can.
        app.service.end_watches()
        await asyncio.gather(*(transport.stop() for transport in started))
        await app.service.stop()
    log.info("stopped")


def reload(app: Application) -> None:
    """Read again every file `app` read at start-up (SIGHUP); a broken one is logged, and
    what was read before it stays in use."""
    for reloadable in app.reloadables:
        try:
            reloadable.reload()
        except ConfigError as exc:
            log.error("reload failed; keeping what was loaded before", problem=str(exc))
        else:
            log.info("reloaded", what=type(reloadable).__name__)
