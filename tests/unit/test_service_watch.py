"""KeyValueService.watch: validation, stores without a feed, and ending every watch."""

from __future__ import annotations

import asyncio

import pytest

from kv.adapters.memory import InMemoryStore
from kv.domain import (
    InvalidRequest,
    KeyValueService,
    StorageUnavailable,
    Subscription,
    TooManyWatches,
)
from tests.fakes import FakeDurableStore


@pytest.mark.parametrize("revision", [0, -1, True, 1.5, "1"])
async def test_from_revision_must_be_a_positive_whole_number(revision: object) -> None:
    service = KeyValueService(InMemoryStore())
    with pytest.raises(InvalidRequest):
        await service.watch("", revision)  # type: ignore[arg-type]


async def test_a_prefix_over_the_key_limit_is_invalid() -> None:
    with pytest.raises(InvalidRequest):
        await KeyValueService(InMemoryStore()).watch("k" * 1025)


async def test_a_store_without_a_change_feed_is_unavailable_for_watching() -> None:
    with pytest.raises(StorageUnavailable, match="no change feed"):
        await KeyValueService(FakeDurableStore()).watch("")


async def test_end_watches_ends_open_watches_and_refuses_new_ones() -> None:
    service = KeyValueService(InMemoryStore())
    subscription = await service.watch("")
    assert service.watch_count == 1
    waiting = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)
    service.end_watches()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 20)
    with pytest.raises(StorageUnavailable, match="shutting down"):
        await service.watch("")


async def test_watches_see_writes_through_the_service() -> None:
    service = KeyValueService(InMemoryStore())
    subscription = await service.watch("a/")
    await service.put("b", 1)
    written = await service.put("a/1", {"v": 1})
    change = await asyncio.wait_for(anext(subscription), 20)
    assert (change.kind, change.key, change.revision, change.value) == (
        "put",
        "a/1",
        written.entry.revision,
        {"v": 1},
    )


async def test_watches_over_the_limit_are_refused_until_one_closes() -> None:
    service = KeyValueService(InMemoryStore(), max_watches=2)
    first = await service.watch("")
    await service.watch("a/")
    with pytest.raises(TooManyWatches, match="2 watches open"):
        await service.watch("")
    assert service.watch_count == 2
    first.close()
    first.close()  # closing twice frees one place, once
    assert service.watch_count == 1
    third = await service.watch("")
    with pytest.raises(TooManyWatches):
        await service.watch("")
    await service.put("k", 1)
    assert (await asyncio.wait_for(anext(third), 20)).key == "k"


async def test_a_watch_being_subscribed_holds_its_place() -> None:
    subscribing = asyncio.Event()
    release = asyncio.Event()
    store = InMemoryStore()
    subscribe = store.subscribe

    async def slow_subscribe(prefix: str, from_revision: int | None) -> Subscription:
        subscribing.set()
        await release.wait()
        return await subscribe(prefix, from_revision)

    store.subscribe = slow_subscribe  # type: ignore[method-assign]
    service = KeyValueService(store, max_watches=1)
    pending = asyncio.ensure_future(service.watch(""))
    await asyncio.wait_for(subscribing.wait(), 20)
    with pytest.raises(TooManyWatches):
        await service.watch("")
    service.end_watches()  # shutdown while the store subscribes: that watch is refused too
    release.set()
    with pytest.raises(StorageUnavailable, match="shutting down"):
        await asyncio.wait_for(pending, 20)
    assert service.watch_count == 0
