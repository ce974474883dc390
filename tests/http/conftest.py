"""An in-process HTTP app over a real service, for API tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from kv.adapters.memory import InMemoryStore
from kv.domain import KeyValueService, Store
from kv.transports.http import create_app

MakeClient = Callable[..., Awaitable[TestClient]]  # type: ignore[type-arg]


@pytest.fixture
def make_client(aiohttp_client: Callable[..., Awaitable[TestClient]]) -> MakeClient:  # type: ignore[type-arg]
    async def make(store: Store | None = None, **service_options: int) -> TestClient:  # type: ignore[type-arg]
        service = KeyValueService(
            store if store is not None else InMemoryStore(), **service_options
        )
        await service.start()
        return await aiohttp_client(create_app(service))

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:  # type: ignore[type-arg]
    return await make_client()
