"""Serve any Store through the real KeyValueService and a real transport, on free ports.

The scenarios run against these servers, proven over every registered
transport (`SERVED_TRANSPORTS`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack

import pytest
import structlog

from kv.domain import Store
from testclient.config import connect
from testclient.scenarios import Connect
from tests.inprocess import TRANSPORT_NAMES, serve_in_process

SERVED_TRANSPORTS = list(TRANSPORT_NAMES)
# `make test-fast` proves the scenarios over HTTP only (the transport contract suites prove
# the transports alike); `make test` over every transport (docs/testing.md).
FAST_TRANSPORT = "http"

ServeStore = Callable[[Store], Awaitable[Connect]]


@pytest.fixture(
    params=[
        pytest.param(name, marks=() if name == FAST_TRANSPORT else pytest.mark.slow)
        for name in SERVED_TRANSPORTS
    ]
)
async def serve_store(request: pytest.FixtureRequest) -> AsyncIterator[ServeStore]:
    """`await serve_store(store)` serves `store` over one transport; returns a client factory."""
    async with AsyncExitStack() as running:

        async def serve(store: Store) -> Connect:
            served = await running.enter_async_context(serve_in_process(request.param, store))
            return lambda: connect(served.client_settings)

        yield serve


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`configure_logging` sets up the process's logging; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
