"""Serve any Store through the real KeyValueService and a real transport, on a free port.

The scenarios run against these servers. `SERVED_TRANSPORTS` names the
transports they are proven over: add one name to prove them over another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from kv.config import Settings
from kv.domain import KeyValueService, Store
from kv.transports import TRANSPORTS, Transport
from testclient.config import ClientSettings, connect
from testclient.scenarios import Connect
from tests.servers import free_port

SERVED_TRANSPORTS = ["http"]

ServeStore = Callable[[Store], Awaitable[Connect]]


@pytest.fixture(params=SERVED_TRANSPORTS)
async def serve_store(request: pytest.FixtureRequest) -> AsyncIterator[ServeStore]:
    """`await serve_store(store)` serves `store` over one transport; returns a client factory."""
    name: str = request.param
    running: list[tuple[Transport, KeyValueService]] = []

    async def serve(store: Store) -> Connect:
        settings = Settings(
            transports=(name,), host="127.0.0.1", http_port=free_port(), grpc_port=free_port()
        )
        service = KeyValueService(store)
        await service.start()
        transport = TRANSPORTS[name](service, settings)
        await transport.start()
        running.append((transport, service))
        client_settings = ClientSettings(
            transport=name,
            kv_url=f"http://127.0.0.1:{settings.http_port}",
            grpc_target=f"127.0.0.1:{settings.grpc_port}",
        )
        return lambda: connect(client_settings)

    yield serve
    for transport, service in running:
        transport.drain()
        await transport.stop()
        await service.stop()
