"""The service served over RESP in-process, and redis-py clients of it in RESP2 and RESP3."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from tests.inprocess import Served, serve_in_process


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async with serve_in_process("resp") as served:
        yield served


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
async def client(request: pytest.FixtureRequest, served: Served) -> AsyncIterator[redis.Redis]:
    """redis-py as users run it (its default is RESP3, HELLO 3 first), decoding to str."""
    connection = redis.Redis.from_url(
        served.client_settings.addresses["resp"], protocol=request.param, decode_responses=True
    )
    yield connection
    await connection.aclose()
