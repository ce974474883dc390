"""The one start/drain/stop lifecycle of a service and its transports.

`kv-server` and the in-process test harness both run an `Application` in
`serving(app)`: the store opens, then each transport starts listening; on
leaving the block every transport first reports not-ready (drain), then
stops accepting and finishes its requests in flight, and the store closes
last, once nothing can write to it any more.

`reload(app)` (kv-server runs it on SIGHUP) re-reads what can change while
serving: each of the application's reloadables, in turn. A reloadable that
fails keeps what it had and logs why; connections are not touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Protocol

from kv.config import ConfigError
from kv.observability import get_logger
from kv.transports import TRANSPORTS, Transport

if TYPE_CHECKING:
    from kv.bootstrap import Application

log = get_logger("kv.server")


class Reloadable(Protocol):
    """Something read from a file at start-up that SIGHUP reads again (auth file, certificates)."""

    name: str
    """What it is, for the log line (the variable naming its file)."""

    def reload(self) -> None:
        """Read it again and use it from now on; on failure, log and keep what is in use."""
        ...


def reload(app: Application) -> None:
    """Reload every reloadable of `app` (SIGHUP); one that raises does not stop the others."""
    log.info("reloading", reloadables=[reloadable.name for reloadable in app.reloadables])
    for reloadable in app.reloadables:
        try:
            reloadable.reload()
        except Exception:
            log.exception(
                "reload failed; the previous one stays in use", reloadable=reloadable.name
            )


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
