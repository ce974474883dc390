"""HttpTransport: runs the REST app on its own listener, logs each request, drains on stop."""

from __future__ import annotations

import logging
from time import perf_counter

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from kv.config import Settings
from kv.domain import KeyValueService
from kv.logs import REQUEST_ID_HEADER, log_request
from kv.transports.http.errors import STARTED
from kv.transports.http.routes import DRAINING, create_app

log = logging.getLogger("kv.http")


class JsonAccessLogger(AbstractAccessLogger):
    """One structured line per request: id, method, path, status and duration.

    Through `kv.logs.log_request`, not `Logger.info`, which would also walk
    the stack for the caller's file and line and fill in a full LogRecord,
    none of which the line prints.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        started = request.get(STARTED)
        seconds = time if started is None else perf_counter() - started
        log_request(
            self.logger,
            "request",
            request_id=response.headers.get(REQUEST_ID_HEADER, "-"),
            method=request.method,
            path=request.path,
            status=response.status,
            duration_ms=round(seconds * 1000, 3),
            remote=request.remote,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class HttpTransport:
    """The HTTP/JSON listener on `KV_HOST:KV_HTTP_PORT`."""

    name = "http"

    def __init__(self, service: KeyValueService, settings: Settings) -> None:
        self._app = create_app(
            service,
            body_timeout=settings.idle_timeout,
            watch_heartbeat=settings.watch_heartbeat,
        )
        self._settings = settings
        self._runner = web.AppRunner(
            self._app,
            access_log_class=JsonAccessLogger,
            access_log=logging.getLogger("kv.access"),
            # Also closes a connection that never sends a request: aiohttp arms
            # this timer when the connection opens, not only between requests.
            keepalive_timeout=settings.idle_timeout,
            shutdown_timeout=settings.shutdown_timeout,
            handle_signals=False,
        )

    @property
    def address(self) -> str:
        return f"http://{self._settings.host}:{self._settings.http_port}"

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.host, self._settings.http_port)
        await site.start()

    def drain(self) -> None:
        """Report not ready, so that balancers stop sending new requests."""
        self._app[DRAINING].set()

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to the shutdown timeout)."""
        await self._runner.cleanup()
