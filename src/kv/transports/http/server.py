"""HttpTransport: runs the REST app on its own listener, drains on stop."""

from __future__ import annotations

from aiohttp import web

from kv.config import Settings
from kv.domain import KeyValueService
from kv.observability import Observability
from kv.transports.http.routes import DRAINING, create_app


class HttpTransport:
    """The HTTP/JSON listener on `KV_HOST:KV_HTTP_PORT`."""

    name = "http"

    def __init__(
        self, service: KeyValueService, settings: Settings, observability: Observability
    ) -> None:
        self._app = create_app(
            service, body_timeout=settings.idle_timeout, observability=observability
        )
        self._host = settings.host
        self._port = settings.ports[self.name]
        self._runner = web.AppRunner(
            self._app,
            # Each request's access line is written by its request scope
            # (kv.observability.scope), as KV_ACCESS_LOG says.
            access_log=None,
            # Also closes a connection that never sends a request: aiohttp arms
            # this timer when the connection opens, not only between requests.
            keepalive_timeout=settings.idle_timeout,
            shutdown_timeout=settings.shutdown_timeout,
            handle_signals=False,
        )

    @property
    def address(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()

    def drain(self) -> None:
        """Report not ready, so that balancers stop sending new requests."""
        self._app[DRAINING].set()

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to the shutdown timeout)."""
        await self._runner.cleanup()
