"""HttpTransport: runs the REST app on its own listener, logs each request, drains on stop."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from aiohttp import web

from kv.config import Settings
from kv.domain import KeyValueService
from kv.observability import Observability, get_logger
from kv.tls import ServerTls
from kv.transports.admission import Admission
from kv.transports.budget import ANSWERS_NOT_SENT, ByteBudget, answer_limit
from kv.transports.http.aiohttp_internals import KVAppRunner
from kv.transports.http.limits import WriteTimeoutEnforcer
from kv.transports.http.routes import DRAINING, create_app

log = get_logger("kv.http")

CUT_OFF_SECONDS = 0.1


class HttpTransport:
    """The HTTP/JSON listener on `KV_HOST:KV_HTTP_PORT`."""

    name = "http"

    def __init__(
        self,
        service: KeyValueService,
        settings: Settings,
        observability: Observability,
        *,
        tls: ServerTls | None = None,
    ) -> None:
        self._tls = tls
        self._admission = Admission(settings.max_concurrent_requests)
        self.answers = ByteBudget(
            answer_limit(settings.max_concurrent_requests, settings.max_value_bytes),
            ANSWERS_NOT_SENT,
        )
        self._app = create_app(
            service,
            settings=settings,
            admission=self._admission,
            answers=self.answers,
            observability=observability,
        )
        self._settings = settings
        self._port = settings.ports[self.name]
        self._runner = KVAppRunner(
            self._app,
            # Each request's access line is written by its request scope
            # (kv.observability.scope), as KV_ACCESS_LOG says.
            access_log=None,
            # Also closes a connection that never sends a request: aiohttp arms
            # this timer when the connection opens, not only between requests.
            keepalive_timeout=settings.idle_timeout,
            # What aiohttp's own shutdown gives each connection still open
            # after `stop` has waited for the requests in progress: only
            # those that outlived KV_SHUTDOWN_TIMEOUT, already cut.
            shutdown_timeout=CUT_OFF_SECONDS,
            handle_signals=False,
        )
        self._write_timeout_enforcer: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        scheme = "http" if self._tls is None else "https"
        return f"{scheme}://{self._settings.host}:{self._port}"

    async def start(self) -> None:
        await self._runner.setup()
        site: web.BaseSite
        if self._tls is None:
            site = web.TCPSite(self._runner, self._settings.host, self._port)
        else:
            site = TlsSite(
                self._runner,
                self._settings.host,
                self._port,
                self._tls.ssl_context,
                handshake_timeout=self._settings.idle_timeout,
            )
        await site.start()
        assert self._runner.server is not None
        enforcer = WriteTimeoutEnforcer(self._runner.server, self._settings.write_timeout)
        self._write_timeout_enforcer = asyncio.create_task(
            enforcer.run(), name="http-write-timeout"
        )

    def drain(self) -> None:
        """Report not ready, and answer every request not yet in progress 503."""
        self._app[DRAINING].set()
        self._admission.draining = True

    async def stop(self) -> None:
        """Serve the requests in progress to the end, then stop; all within the shutdown timeout.

        Not aiohttp's `cleanup` alone: it first marks every connection closing
        (`RequestHandler.close`), after which aiohttp drops whatever bytes
        arrive on it, so a request whose body was still uploading at SIGTERM
        could never be read to its end; and it waits up to its timeout twice
        per connection. Here the listener stops, requests in progress finish
        (each response closing its connection), and only what outlives
        KV_SHUTDOWN_TIMEOUT is cut before aiohttp closes the rest (idle
        keep-alive connections).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.shutdown_timeout
        self.drain()
        for site in list(self._runner.sites):
            await site.stop()
        served = await self._admission.wait_idle(deadline)
        # Answers still being written (a slot is not held while an answer drains).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await self.answers.empty.wait()
        if not served or self.answers.held:
            log.warning(
                "shutdown timeout: cutting the requests still in progress",
                requests=self._admission.in_progress,
                answer_bytes=self.answers.held,
            )
            server = self._runner.server
            for connection in server.connections if server is not None else ():
                if connection.transport is not None:
                    connection.transport.abort()
        if self._write_timeout_enforcer is not None:
            self._write_timeout_enforcer.cancel()
        await self._runner.cleanup()


class TlsSite(web.BaseSite):
    """aiohttp's TCPSite over TLS, with the handshake bounded by KV_IDLE_TIMEOUT.

    TCPSite passes no `ssl_handshake_timeout`, and a client that connects and
    never finishes the handshake would hold its connection for asyncio's
    default minute; aiohttp's own keep-alive timer starts only once the
    handshake is done.
    """

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        context: ssl.SSLContext,
        *,
        handshake_timeout: float,
    ) -> None:
        super().__init__(runner, ssl_context=context)
        self._host = host
        self._port = port
        self._handshake_timeout = handshake_timeout

    @property
    def name(self) -> str:
        return f"https://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            server,
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=self._handshake_timeout,
            backlog=self._backlog,
        )
