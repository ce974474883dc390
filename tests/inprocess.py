"""The real service behind one transport, in the test's own event loop, and a KVClient for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from kv.adapters.memory import InMemoryStore
from kv.bootstrap import Application, bootstrap
from kv.config import Settings
from kv.domain import Store
from kv.lifecycle import serving
from kv.transports import TRANSPORTS
from testclient.client import KVClient
from testclient.config import CLIENTS, ClientSettings, connect
from testclient.tls import ClientTls
from tests.servers import free_port

TRANSPORT_NAMES = tuple(TRANSPORTS)
# The transports whose protocol has watch (`ClientTransport.watch`).
WATCH_TRANSPORTS = tuple(name for name in TRANSPORT_NAMES if CLIENTS[name].watch)
# The transports whose writes carry an idempotency key (`ClientTransport.idempotency_keys`).
IDEMPOTENCY_TRANSPORTS = tuple(name for name in TRANSPORT_NAMES if CLIENTS[name].idempotency_keys)


@dataclass(frozen=True, slots=True)
class Served:
    """A service being served in-process: the application, its settings and a client of it."""

    app: Application
    settings: Settings
    client: KVClient
    client_settings: ClientSettings


@asynccontextmanager
async def serve_in_process(
    transport: str,
    store: Store | None = None,
    *,
    client_tls: ClientTls | None = None,
    **settings: Any,
) -> AsyncIterator[Served]:
    """Start the service (default: in-memory store) over `transport` on free loopback ports.

    Through `kv.lifecycle.serving`, the start/drain/stop of `kv-server` itself. With
    `tls_cert_file` among `settings`, the client speaks TLS with `client_tls`.
    """
    server_settings = Settings(
        transports=(transport,),
        host="127.0.0.1",
        ports={name: free_port() for name in TRANSPORTS},
        # Long enough for a request in flight to finish on a loaded machine;
        # stopping waits only while one is.
        shutdown_timeout=10.0,
        **settings,
    )
    app = bootstrap(server_settings, store=store if store is not None else InMemoryStore())
    ports = server_settings.ports
    secure = server_settings.tls_cert_file is not None
    client_settings = ClientSettings(
        transport=transport,
        addresses={
            name: CLIENTS[name].address_of("127.0.0.1", ports[name], secure=secure)
            for name in TRANSPORTS
        },
        tls=client_tls or ClientTls(),
        # Generous: the largest value's gRPC call can wait for a core for tens of seconds
        # on a loaded machine; no test here waits on it to expire.
        timeout=120.0,
    )
    async with serving(app), connect(client_settings) as client:
        yield Served(app, server_settings, client, client_settings)
