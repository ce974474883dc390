"""The storage adapters the contract suite runs over: add one line to prove a new engine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from kv.adapters.memory import InMemoryStore
from kv.adapters.sqlite import SqliteStore
from kv.domain import Store
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


@dataclass(frozen=True)
class Engine:
    """A storage engine under contract, and what it claims beyond the port."""

    # (directory for the store's files, clock) -> a new, unopened store. Stores
    # made by one test share their files or server (to reopen a durable store).
    factory: Callable[[Path, StoreClock], Store]
    durable: bool = False  # keeps its data across close and reopen
    real_time: bool = False  # expires on its own clock (etcd leases), not the test's
    shared: bool = False  # several store objects may be open over the same data at once


# Adding an engine to the contract suite: one line here.
ENGINES: dict[str, Engine] = {
    "memory": Engine(
        lambda directory, clock: InMemoryStore(clock=clock, sweep_interval=SWEEP_INTERVAL)
    ),
    "sqlite": Engine(
        lambda directory, clock: SqliteStore(
            directory / "data", clock=clock, sweep_interval=SWEEP_INTERVAL
        ),
        durable=True,
    ),
}


@pytest.fixture(params=sorted(ENGINES))
def store_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def engine(store_name: str) -> Engine:
    return ENGINES[store_name]


@pytest.fixture
def clock(engine: Engine) -> StoreClock:
    return RealClock() if engine.real_time else FakeClock()


@pytest.fixture
def store_factory(engine: Engine, tmp_path: Path, clock: StoreClock) -> Callable[[], Store]:
    """Makes stores of one engine, all over the same files (to reopen a durable store)."""
    return lambda: engine.factory(tmp_path, clock)


@pytest.fixture
async def store(store_factory: Callable[[], Store]) -> AsyncIterator[Store]:
    opened = store_factory()
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def other_store(
    engine: Engine, store: Store, store_factory: Callable[[], Store]
) -> AsyncIterator[Store]:
    """A second store object over `store`'s data where the engine allows it (as a second
    replica would have), else `store` itself."""
    if not engine.shared:
        yield store
        return
    opened = store_factory()
    await opened.open()
    yield opened
    await opened.close()
