"""The storage adapters the contract suite runs over: add one line to prove a new engine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

import pytest

from kv.adapters.memory import InMemoryStore
from kv.adapters.sqlite import SqliteStore
from kv.domain import Store
from tests.etcd.cluster import etcd_store
from tests.fakes import FakeClock

# The sweeper's longest sleep in these tests: removal is seen within a poll.
SWEEP_INTERVAL = 0.01


class StoreClock(Protocol):
    """The time the store under test lives in, and a way to let it pass."""

    def __call__(self) -> float: ...

    async def advance(self, seconds: float) -> None: ...


class RealClock:
    """For an engine that expires entries on its own time (etcd leases): advancing waits."""

    def __call__(self) -> float:
        return time.time()

    async def advance(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# name -> factory(directory for the store's files, clock) -> a new, unopened store.
# Stores made by one test share their files (to reopen a durable store).
STORE_FACTORIES: dict[str, Callable[[Path, StoreClock], Store]] = {
    "memory": lambda directory, clock: InMemoryStore(clock=clock, sweep_interval=SWEEP_INTERVAL),
    "sqlite": lambda directory, clock: SqliteStore(
        directory / "data", clock=clock, sweep_interval=SWEEP_INTERVAL
    ),
    "etcd": lambda directory, clock: etcd_store(directory),
}
# Engines that keep their data across close and reopen.
DURABLE = {"sqlite", "etcd"}
# Engines whose expiry follows real time, not a clock the test can move.
REAL_TIME: set[str] = {"etcd"}


# Engines that need a server of their own: their tests carry its tier's marker, which
# `make test-fast` leaves out (docs/testing.md).
TIER_OF_STORE = {"etcd": pytest.mark.etcd}


@pytest.fixture(
    params=[
        pytest.param(name, marks=TIER_OF_STORE.get(name, ())) for name in sorted(STORE_FACTORIES)
    ]
)
def store_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def clock(store_name: str) -> StoreClock:
    return RealClock() if store_name in REAL_TIME else FakeClock()


@pytest.fixture
def store_factory(store_name: str, tmp_path: Path, clock: StoreClock) -> Callable[[], Store]:
    """Makes stores of one engine, all over the same files (to reopen a durable store)."""
    factory = STORE_FACTORIES[store_name]
    return lambda: factory(tmp_path, clock)


@pytest.fixture
async def store(store_factory: Callable[[], Store]) -> AsyncIterator[Store]:
    opened = store_factory()
    await opened.open()
    yield opened
    await opened.close()


# Engines where several store objects may be open over the same data at once
# (as replicas are): the two-services test then gives each service its own.
SHARED: set[str] = {"etcd"}


@pytest.fixture
async def other_store(
    store_name: str, store: Store, store_factory: Callable[[], Store]
) -> AsyncIterator[Store]:
    """A second store object over `store`'s data where the engine allows it, else `store`."""
    if store_name not in SHARED:
        yield store
        return
    opened = store_factory()
    await opened.open()
    yield opened
    await opened.close()
