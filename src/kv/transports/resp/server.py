"""RespTransport: the Redis-protocol listener on `KV_HOST:KV_RESP_PORT`, on the shared loop."""

from __future__ import annotations

import asyncio
import itertools

from kv.config import Settings
from kv.domain import KeyValueService
from kv.domain.model import MAX_KEY_BYTES
from kv.observability import Observability, get_logger
from kv.transports.resp.commands import COMMANDS
from kv.transports.resp.connection import ConnectionLimits, RespConnection
from kv.transports.resp.replies import RespError
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


class RespTransport:
    """Serves RESP2/RESP3 (`redis-cli`, `redis-benchmark`, redis-py) over the KV service."""

    name = "resp"

    def __init__(
        self, service: KeyValueService, settings: Settings, observability: Observability
    ) -> None:
        self._service = service
        self._settings = settings
        self._observability = observability
        self._port = settings.ports[self.name]
        self._limits = ConnectionLimits(
            max_request_bytes=service.max_value_bytes + MAX_KEY_BYTES + REQUEST_SLACK_BYTES,
            max_pipelined=MAX_PIPELINED,
            idle_timeout=settings.idle_timeout,
            write_timeout=settings.write_timeout,
        )
        self._client_ids = itertools.count(1)
        self._connections: set[RespConnection] = set()
        self._all_closed: asyncio.Event | None = None
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        host = self._settings.host
        return f"redis://[{host}]:{self._port}" if ":" in host else f"redis://{host}:{self._port}"

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
        self._server = await loop.create_server(
            self._accept, self._settings.host, self._port, reuse_address=True
        )
        self._port = self._server.sockets[0].getsockname()[1]

    def drain(self) -> None:
        """Stop accepting; every connection answers what it has received, then closes."""
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
        session = Session(self._service, next(self._client_ids), COMMANDS, self._observability)
        connection = RespConnection(session, self._limits, self._forget)
        if len(self._connections) >= MAX_CLIENTS:
            connection.refuse_at_connect = TOO_MANY_CLIENTS
        self._connections.add(connection)
        assert self._all_closed is not None
        self._all_closed.clear()
        return connection

    def _forget(self, connection: RespConnection) -> None:
        self._connections.discard(connection)
        if not self._connections and self._all_closed is not None:
            self._all_closed.set()
