"""The storage port's contract (kv.domain.ports.Store), run over every adapter.

Tests speak only the port, so a new engine is proven by one line in conftest.
Durability across reopen is checked only for engines that claim it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from kv.adapters.memory import InMemoryStore
from kv.domain import Change, Entry, KeyValueService, Store


def put(key: str, value: object, revision: int) -> Change:
    return Change(key, Entry(key, value, revision), revision)  # type: ignore[arg-type]


async def test_a_new_store_is_empty_at_revision_zero(store_factory: Callable[[], Store]) -> None:
    store = store_factory()
    assert await store.open() == 0
    assert await store.get("k") is None
    await store.check()
    await store.close()


async def test_a_completed_commit_is_visible_to_get(store: Store) -> None:
    await store.commit(put("k", {"v": [1, "é", None, True, 2.5]}, 1))
    assert await store.get("k") == Entry("k", {"v": [1, "é", None, True, 2.5]}, 1)
    await store.commit(put("k", "new", 2))
    assert await store.get("k") == Entry("k", "new", 2)


async def test_a_delete_removes_only_its_key(store: Store) -> None:
    await store.commit(put("a", 1, 1))
    await store.commit(put("a/b", 2, 2))
    await store.commit(Change("a", None, 3))
    assert await store.get("a") is None
    assert await store.get("a/b") == Entry("a/b", 2, 2)


async def test_commits_complete_in_order(store: Store) -> None:
    futures = [store.commit(put("k", i, i)) for i in range(1, 101)]
    done_order: list[int] = []
    for number, future in enumerate(futures, start=1):
        future.add_done_callback(lambda _, n=number: done_order.append(n))
    await asyncio.gather(*futures)
    assert done_order == sorted(done_order)
    assert await store.get("k") == Entry("k", 100, 100)


@pytest.mark.parametrize(
    "key", ["x" * 1024, "a/b c", "%2F", "ünï🔑", "\x00nul", " lead", "UPPER", "upper"]
)
async def test_keys_are_kept_exactly(store: Store, key: str) -> None:
    await store.commit(put(key, key, 1))
    assert await store.get(key) == Entry(key, key, 1)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -1,
        2**53 + 1,
        10**30,
        1.5,
        1e300,
        "",
        'é\n"\\',
        [],
        {},
        {"a": {"b": [1]}},
    ],
)
async def test_every_json_value_is_kept_exactly(store: Store, value: object) -> None:
    await store.commit(put("k", value, 1))
    entry = await store.get("k")
    assert entry is not None
    assert entry.value == value
    assert type(entry.value) is type(value)


async def test_the_service_over_the_store(store_factory: Callable[[], Store]) -> None:
    service = KeyValueService(store_factory())
    await service.start()
    results = await asyncio.gather(*(service.put("k", i) for i in range(64)))
    last = max(results, key=lambda result: result.entry.revision)
    assert await service.get("k") == last.entry
    assert (await service.delete("k")).revision == 64
    await service.stop()


async def test_a_durable_store_keeps_entries_and_revision_across_reopen(
    store_factory: Callable[[], Store],
) -> None:
    store = store_factory()
    if isinstance(store, InMemoryStore):
        pytest.skip("the in-memory store is not durable by design")
    await store.open()
    await store.commit(put("kept", "v", 1))
    await store.commit(put("gone", "v", 2))
    await store.commit(Change("gone", None, 3))
    await store.close()

    reopened = store_factory()
    assert await reopened.open() == 3
    assert await reopened.get("kept") == Entry("kept", "v", 1)
    assert await reopened.get("gone") is None
    await reopened.close()
