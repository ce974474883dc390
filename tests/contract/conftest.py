"""The storage adapters the contract suite runs over: add one line to prove a new engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kv.adapters.memory import InMemoryStore
from kv.adapters.sqlite import SqliteStore
from kv.domain import Store
from tests.etcd.cluster import etcd_store

# name -> factory(directory for the store's files) -> a new, unopened store.
# Stores made by one test share their files (to reopen a durable store), and
# a test may open two at once only if the engine allows several clients.
STORE_FACTORIES: dict[str, Callable[[Path], Store]] = {
    "memory": lambda directory: InMemoryStore(),
    "sqlite": lambda directory: SqliteStore(directory / "data"),
    "etcd": etcd_store,
}
# Engines that keep their data across close and reopen.
DURABLE = {"sqlite", "etcd"}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def store_factory(store_name: str, tmp_path: Path) -> Callable[[], Store]:
    """Makes stores of one engine, all over the same files (to reopen a durable store)."""
    factory = STORE_FACTORIES[store_name]
    return lambda: factory(tmp_path)


@pytest.fixture
async def store(store_factory: Callable[[], Store]) -> AsyncIterator[Store]:
    opened = store_factory()
    await opened.open()
    yield opened
    await opened.close()
