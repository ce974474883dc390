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
from testclient.client import KVClient
from testclient.config import ClientSettings, connect
from tests.servers import free_port

TRANSPORT_NAMES = ("http", "grpc")


@dataclass(frozen=True, slots=True)
class Served:
    """A service being served in-process: the application, its settings and a client of it."""

    app: Application
    settings: Settings
    client: KVClient
    client_settings: ClientSettings


@asynccontextmanager
async def serve_in_process(
    transport: str, store: Store | None = None, **settings: Any
) -> AsyncIterator[Served]:
    """Start the service (default: in-memory store) over `transport` on free loopback ports."""
    server_settings = Settings(
        transports=(transport,),
        host="127.0.0.1",
        http_port=free_port(),
        grpc_port=free_port(),
        shutdown_timeout=1.0,
        **settings,
    )
    app = bootstrap(server_settings, store=store if store is not None else InMemoryStore())
    await app.service.start()
    started = []
    client_settings = ClientSettings(
        transport=transport,
        kv_url=f"http://127.0.0.1:{server_settings.http_port}",
        grpc_target=f"127.0.0.1:{server_settings.grpc_port}",
        timeout=5.0,
    )
    try:
        for listener in app.transports:
            await listener.start()
            started.append(listener)
        async with connect(client_settings) as client:
            yield Served(app, server_settings, client, client_settings)
    finally:
        for listener in started:
            listener.drain()
        app.service.end_watches()  # as kv.server does: streams end so that draining can
        for listener in started:
            await listener.stop()
        await app.service.stop()
