"""RespTransport: the Redis-protocol listener on `KV_HOST:KV_RESP_PORT`, on the shared loop."""

from __future__ import annotations

import asyncio
import itertools

from kv.config import Settings
from kv.domain import KeyValueService
from kv.domain.model import MAX_KEY_BYTES
from kv.observability import Observability, get_logger
from kv.tls import ServerTls
from kv.transports.budget import (
    ANSWERS_NOT_SENT,
    REQUESTS_BEING_RECEIVED,
    ByteBudget,
    answer_limit,
    received_limit,
)
from kv.transports.resp.commands import COMMANDS
from kv.transports.resp.connection import ConnectionLimits, RespConnection
from kv.transports.resp.replies import RespError
from kv.transports.resp.scan_cursors import ScanCursors
from kv.transports.resp.session import Session

log = get_logger("kv.resp")

# What a request may hold besides one value at the size limit and its key:
# the command, options and framing, or a KV.PUT value written with spaces.
REQUEST_SLACK_BYTES = 64 * 1024
# Requests parsed and not yet answered on one connection before it stops
# reading (redis-benchmark -P 16 keeps 16 in flight).
MAX_PIPELINED = 1024
# Connections served at once; more are answered with an error and closed, as
# Redis does beyond `maxclients` (its default is 10000).
MAX_CLIENTS = 10_000
TOO_MANY_CLIENTS = RespError("ERR", "max number of clients reached")
# For a TLS client whose handshake was still going when shutdown began.
SHUTTING_DOWN = RespError("TRYAGAIN", "the server is shutting down")


class RespTransport:
    """Serves RESP2/RESP3 (`redis-cli`, `redis-benchmark`, redis-py) over the KV service."""

    name = "resp"

    def __init__(
        self,
        service: KeyValueService,
        settings: Settings,
        observability: Observability,
        *,
        tls: ServerTls | None = None,
    ) -> None:
        self._tls = tls
        self._service = service
        self._settings = settings
        self._observability = observability
        self._port = settings.ports[self.name]
        max_request_bytes = service.max_value_bytes + MAX_KEY_BYTES + REQUEST_SLACK_BYTES
        self.received = ByteBudget(
            received_limit(settings.max_concurrent_requests, max_request_bytes),
            REQUESTS_BEING_RECEIVED,
        )
        self.answers = ByteBudget(
            answer_limit(settings.max_concurrent_requests, service.max_value_bytes),
            ANSWERS_NOT_SENT,
        )
        self._limits = ConnectionLimits(
            max_request_bytes=max_request_bytes,
            max_pipelined=MAX_PIPELINED,
            idle_timeout=settings.idle_timeout,
            write_timeout=settings.write_timeout,
            received=self.received,
            answers=self.answers,
        )
        self._client_ids = itertools.count(1)
        self._scans = ScanCursors()
        self._connections: set[RespConnection] = set()
        self._all_closed: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._draining = False

    @property
    def address(self) -> str:
        host = self._settings.host
        scheme = "redis" if self._tls is None else "rediss"
        return (
            f"{scheme}://[{host}]:{self._port}"
            if ":" in host
            else f"{scheme}://{host}:{self._port}"
        )

    @property
    def port(self) -> int:
        """The port listened on: the one bound, once started (useful with port 0)."""
        return self._port

    @property
    def connections(self) -> int:
        """How many client connections are open."""
        return len(self._connections)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._all_closed = asyncio.Event()
        self._all_closed.set()
        if self._tls is None:
            self._server = await loop.create_server(
                self._accept, self._settings.host, self._port, reuse_address=True
            )
        else:
            # The connection (and its idle timer) starts once the handshake is
            # done; until then the handshake itself is bounded by the idle timeout.
            self._server = await loop.create_server(
                self._accept,
                self._settings.host,
                self._port,
                reuse_address=True,
                ssl=self._tls.ssl_context,
                ssl_handshake_timeout=self._settings.idle_timeout,
            )
        self._port = self._server.sockets[0].getsockname()[1]

    def drain(self) -> None:
        """Stop accepting; every connection answers what it has received, then closes."""
        self._draining = True
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.drain()

    async def stop(self) -> None:
        """Drain, wait for connections to close (up to the shutdown timeout), then cut the rest."""
        self.drain()
        if self._all_closed is not None:
            try:
                await asyncio.wait_for(self._all_closed.wait(), self._settings.shutdown_timeout)
            except TimeoutError:
                log.warning("connections still open after the shutdown timeout; closing them")
                for connection in list(self._connections):
                    connection.abort()
        if self._server is not None:
            await self._server.wait_closed()

    def _accept(self) -> RespConnection:
        session = Session(
            self._service, next(self._client_ids), COMMANDS, self._observability, scans=self._scans
        )
        return RespConnection(session, self._limits, self._forget, opened=self._count)

    def _count(self, connection: RespConnection) -> None:
        """A client connected: count it, or turn it away beyond MAX_CLIENTS.

        Counted once connected, not when accepted: a TLS client whose handshake
        fails never connects, and is never counted nor forgotten.
        """
        if self._draining:
            connection.refuse_at_connect = SHUTTING_DOWN
        elif len(self._connections) >= MAX_CLIENTS:
            connection.refuse_at_connect = TOO_MANY_CLIENTS
        self._connections.add(connection)
        assert self._all_closed is not None
        self._all_closed.clear()

    def _forget(self, connection: RespConnection) -> None:
        self._connections.discard(connection)
        if not self._connections and self._all_closed is not None:
            self._all_closed.set()
