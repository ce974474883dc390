"""KeyValueService: the rules of every operation, over the in-memory and a fake durable store."""

from __future__ import annotations

import asyncio

import pytest

from kv.adapters.memory import InMemoryStore
from kv.domain import (
    Condition,
    InvalidRequest,
    KeyExists,
    KeyNotFound,
    KeyValueService,
    PreconditionFailed,
    StorageUnavailable,
    ValueTooLarge,
)
from tests.fakes import FakeDurableStore


@pytest.fixture
async def service() -> KeyValueService:
    svc = KeyValueService(InMemoryStore(), max_value_bytes=64)
    await svc.start()
    return svc


async def test_put_creates_then_replaces_with_increasing_revisions(
    service: KeyValueService,
) -> None:
    first = await service.put("k", "one")
    second = await service.put("k", "two")
    assert (first.created, first.entry.revision) == (True, 1)
    assert (second.created, second.entry.revision) == (False, 2)
    assert (await service.get("k")).value == "two"


async def test_put_of_the_stored_value_changes_nothing(service: KeyValueService) -> None:
    await service.put("k", {"a": [1, 2]})
    again = await service.put("k", {"a": [1, 2]})
    assert (again.created, again.entry.revision) == (False, 1)
    assert (await service.put("other", 1)).entry.revision == 2  # no revision was used


@pytest.mark.parametrize(
    ("stored", "new"),
    [
        (1, 1.0),
        (1, True),
        (0, False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ("1", 1),
        (None, "null"),
    ],
)
async def test_values_equal_in_python_but_not_in_json_are_a_change(
    service: KeyValueService, stored: object, new: object
) -> None:
    await service.put("k", stored)  # type: ignore[arg-type]
    result = await service.put("k", new)  # type: ignore[arg-type]
    assert result.entry.revision == 2
    assert (await service.get("k")).value == new


async def test_create_refuses_an_existing_key(service: KeyValueService) -> None:
    created = await service.create("k", 1)
    with pytest.raises(KeyExists):
        await service.create("k", 2)
    assert await service.get("k") == created


async def test_get_of_a_missing_key_is_not_found(service: KeyValueService) -> None:
    with pytest.raises(KeyNotFound):
        await service.get("missing")


async def test_delete_returns_the_entry_and_is_idempotent(service: KeyValueService) -> None:
    await service.put("k", "v")
    deleted = await service.delete("k")
    assert (deleted.key, deleted.value, deleted.revision) == ("k", "v", 1)
    with pytest.raises(KeyNotFound):
        await service.get("k")
    with pytest.raises(KeyNotFound):
        await service.delete("k")
    # the delete consumed a revision; the second changed nothing
    assert (await service.put("k", "v")).entry.revision == 3


async def test_revision_is_store_wide_and_strictly_increasing(service: KeyValueService) -> None:
    revisions = [
        (await service.put("a", 1)).entry.revision,
        (await service.put("b", 1)).entry.revision,
        (await service.delete("a")).revision,
        (await service.put("a", 2)).entry.revision,
    ]
    assert revisions == [1, 2, 1, 4]  # delete returns the deleted entry, at its own revision


async def test_conditions_on_put(service: KeyValueService) -> None:
    with pytest.raises(PreconditionFailed):
        await service.put("k", 1, Condition.exists())
    assert (await service.put("k", 1, Condition.absent())).created
    with pytest.raises(PreconditionFailed):
        await service.put("k", 2, Condition.absent())
    with pytest.raises(PreconditionFailed):
        await service.put("k", 2, Condition.at_revision(7))
    assert (await service.put("k", 2, Condition.at_revision(1))).entry.revision == 2
    assert (await service.put("k", 3, Condition.exists())).entry.revision == 3
    assert (await service.get("k")).value == 3


async def test_conditions_on_delete(service: KeyValueService) -> None:
    await service.put("k", 1)
    with pytest.raises(PreconditionFailed):
        await service.delete("k", Condition.at_revision(2))
    assert (await service.get("k")).value == 1
    await service.delete("k", Condition.at_revision(1))
    with pytest.raises(PreconditionFailed):
        await service.delete("k", Condition.exists())


def test_expected_revision_must_be_positive() -> None:
    with pytest.raises(InvalidRequest):
        Condition.at_revision(0)


@pytest.mark.parametrize(
    "key",
    ["", "x" * 1025, "é" * 513, "\ud800"],
    ids=["empty", "1025-ascii", "1026-utf8", "surrogate"],
)
async def test_bad_keys_are_refused_before_anything_changes(
    service: KeyValueService, key: str
) -> None:
    for operation in (
        service.put(key, 1),
        service.create(key, 1),
        service.get(key),
        service.delete(key),
    ):
        with pytest.raises(InvalidRequest):
            await operation
    assert (await service.put("k", 1)).entry.revision == 1


@pytest.mark.parametrize("key", ["x" * 1024, "é" * 512, "a/b c/%2F/ünï/🔑", "\x00"])
async def test_keys_up_to_1024_utf8_bytes_with_any_character(
    service: KeyValueService, key: str
) -> None:
    await service.put(key, 1)
    assert (await service.get(key)).key == key


async def test_value_size_limit_is_on_compact_json(service: KeyValueService) -> None:
    at_limit = "x" * 62  # 62 characters plus two quotes: 64 bytes
    await service.put("k", at_limit)
    with pytest.raises(ValueTooLarge):
        await service.put("k", at_limit + "x")
    with pytest.raises(ValueTooLarge):
        await service.create("other", [at_limit])
    assert (await service.get("k")).value == at_limit


async def test_values_that_are_not_json_are_refused(service: KeyValueService) -> None:
    for value in (float("nan"), float("inf"), {1, 2}):
        with pytest.raises(InvalidRequest):
            await service.put("k", value)  # type: ignore[arg-type]
    with pytest.raises(KeyNotFound):
        await service.get("k")


async def test_concurrent_puts_get_distinct_revisions_and_the_highest_wins(
    service: KeyValueService,
) -> None:
    results = await asyncio.gather(*(service.put("k", i) for i in range(200)))
    revisions = [result.entry.revision for result in results]
    assert len(set(revisions)) == 200
    last = max(results, key=lambda result: result.entry.revision)
    assert await service.get("k") == last.entry


class TestDurableStore:
    """With a durable store, nobody is told of a write before the store answers it."""

    @pytest.fixture
    async def store(self) -> FakeDurableStore:
        return FakeDurableStore()

    @pytest.fixture
    async def service(self, store: FakeDurableStore) -> KeyValueService:
        svc = KeyValueService(store)
        await svc.start()
        return svc

    async def test_a_write_is_answered_only_once_durable(
        self, service: KeyValueService, store: FakeDurableStore
    ) -> None:
        write = asyncio.ensure_future(service.put("k", 1))
        # Until the write reaches the store (a fixed sleep may end before it does).
        await asyncio.wait_for(store.has_pending.wait(), 60)
        assert not write.done()
        with pytest.raises(KeyNotFound):  # readers see only durable writes
            await service.get("k")
        store.sync()
        assert (await write).entry.revision == 1
        assert (await service.get("k")).value == 1

    async def test_a_failed_sync_fails_its_writers_and_leaves_nothing_behind(
        self, service: KeyValueService, store: FakeDurableStore
    ) -> None:
        first = asyncio.ensure_future(service.put("k", 1))
        await asyncio.sleep(0)
        delete = asyncio.ensure_future(service.delete("k"))
        await asyncio.sleep(0.01)
        store.fail()
        for task in (first, delete):
            with pytest.raises(StorageUnavailable):
                await task
        with pytest.raises(StorageUnavailable):
            await service.put("k", 2)
        with pytest.raises(StorageUnavailable):
            await service.check()
        with pytest.raises(KeyNotFound):
            await service.get("k")

    async def test_a_caller_that_goes_away_does_not_cancel_the_commit(
        self, service: KeyValueService, store: FakeDurableStore
    ) -> None:
        write = asyncio.ensure_future(service.put("k", 1))
        await asyncio.wait_for(store.has_pending.wait(), 60)
        write.cancel()
        await asyncio.sleep(0)
        store.sync()  # would raise InvalidStateError had the store's future been cancelled
        assert (await service.get("k")).value == 1

    async def test_stop_closes_the_store(
        self, service: KeyValueService, store: FakeDurableStore
    ) -> None:
        await service.stop()
        assert store.closed
