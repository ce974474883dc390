"""The storage port's contract (kv.domain.ports.Store), run over every adapter.

Tests speak only the port (and the service over it), so a new engine is
proven by one line in conftest. Durability across reopen is checked only for
engines that claim it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from kv.domain import (
    Condition,
    Decision,
    Entry,
    JsonValue,
    KeyExists,
    KeyNotFound,
    KeyValueService,
    PreconditionFailed,
    Store,
    Write,
)
from kv.domain.model import MAX_REVISION, encode_value
from tests.contract.conftest import DURABLE
from tests.store_writes import put


def create(key: str, value: JsonValue) -> Write:
    return Write.create(key, value, encode_value(value))


async def test_a_new_store_is_empty(store_factory: Callable[[], Store]) -> None:
    store = store_factory()
    await store.open()
    assert await store.get("k") is None
    await store.check()
    await store.close()


async def test_a_write_is_visible_once_answered_with_its_revision(store: Store) -> None:
    first = await store.write(put("k", {"v": [1, "é", None, True, 2.5]}))
    assert first.decision is Decision.STORE
    assert first.previous is None
    assert first.entry == Entry("k", {"v": [1, "é", None, True, 2.5]}, first.revision)
    assert await store.get("k") == first.entry
    second = await store.write(put("k", "new"))
    assert second.revision > first.revision
    assert second.previous == first.entry
    assert await store.get("k") == Entry("k", "new", second.revision)


async def test_revisions_are_store_wide_and_strictly_increasing(store: Store) -> None:
    revisions = [
        (await store.write(put("a", 1))).revision,
        (await store.write(put("b", 1))).revision,
        (await store.write(Write.delete("a"))).revision,
        (await store.write(create("a", 2))).revision,
    ]
    assert revisions == sorted(set(revisions))


async def test_a_put_of_the_stored_value_changes_nothing(store: Store) -> None:
    first = await store.write(put("k", {"a": [1, 2]}))
    again = await store.write(put("k", {"a": [1, 2]}))
    assert again.decision is Decision.UNCHANGED
    assert again.entry == first.entry
    assert again.revision == first.revision
    after = await store.write(put("other", 1))
    assert after.revision > first.revision


async def test_a_delete_removes_only_its_key_and_answers_the_entry(store: Store) -> None:
    kept = await store.write(put("a/b", 2))
    removed = await store.write(put("a", 1))
    deleted = await store.write(Write.delete("a"))
    assert deleted.decision is Decision.REMOVE
    assert (deleted.previous, deleted.entry) == (removed.entry, None)
    assert deleted.revision > removed.revision
    assert await store.get("a") is None
    assert await store.get("a/b") == kept.entry


async def test_refused_writes_change_nothing(store: Store) -> None:
    stored = (await store.write(put("k", 1))).entry
    refusals = [
        (create("k", 2), KeyExists),
        (Write.delete("missing"), KeyNotFound),
        (put("k", 2, Condition.absent()), PreconditionFailed),
        (put("missing", 2, Condition.exists()), PreconditionFailed),
        (put("k", 2, Condition.at_revision(stored.revision + 1000)), PreconditionFailed),
        (Write.delete("k", Condition.at_revision(stored.revision + 1000)), PreconditionFailed),
    ]
    for write, error in refusals:
        with pytest.raises(error):
            await store.write(write)
    assert await store.get("k") == stored
    assert await store.get("missing") is None
    matched = await store.write(put("k", 3, Condition.at_revision(stored.revision)))
    assert matched.entry is not None
    assert matched.entry.value == 3


@pytest.mark.parametrize(
    "key", ["x" * 1024, "a/b c", "%2F", "ünï🔑", "\x00nul", " lead", "UPPER", "upper"]
)
async def test_keys_are_kept_exactly(store: Store, key: str) -> None:
    written = await store.write(put(key, key))
    assert await store.get(key) == Entry(key, key, written.revision)


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
async def test_every_json_value_is_kept_exactly(store: Store, value: JsonValue) -> None:
    await store.write(put("k", value))
    entry = await store.get("k")
    assert entry is not None
    assert entry.value == value
    assert repr(entry.value) == repr(value)  # 1, 1.0 and True are == in Python; not here


async def test_two_services_over_one_store_write_one_history(
    store: Store, other_store: Store
) -> None:
    """Concurrent writers through two services: every change gets its own revision, and
    exactly one of the creates and one of each round of conditional puts wins."""
    services = [KeyValueService(store), KeyValueService(other_store)]
    outcomes = await asyncio.gather(
        *(services[i % 2].create("race", i) for i in range(20)), return_exceptions=True
    )
    winners = [outcome for outcome in outcomes if isinstance(outcome, Entry)]
    assert len(winners) == 1
    assert all(isinstance(o, KeyExists) for o in outcomes if not isinstance(o, Entry))
    revision = winners[0].revision
    for round_ in range(5):
        attempts = await asyncio.gather(
            *(
                services[i % 2].put("race", [round_, i], Condition.at_revision(revision))
                for i in range(8)
            ),
            return_exceptions=True,
        )
        won = [a for a in attempts if not isinstance(a, BaseException)]
        assert len(won) == 1, attempts
        assert all(isinstance(a, PreconditionFailed) for a in attempts if a not in won)
        revision = won[0].entry.revision
    puts = await asyncio.gather(*(services[i % 2].put(f"k{i % 4}", i) for i in range(64)))
    revisions = [result.entry.revision for result in puts]
    assert len(set(revisions)) == 64
    assert min(revisions) > revision
    for key in ("k0", "k1", "k2", "k3"):
        last = max((r.entry for r in puts if r.entry.key == key), key=lambda e: e.revision)
        assert await services[0].get(key) == last
        assert await services[1].get(key) == last


async def test_the_service_over_the_store(store_factory: Callable[[], Store]) -> None:
    service = KeyValueService(store_factory())
    await service.start()
    results = await asyncio.gather(*(service.put("k", i) for i in range(64)))
    last = max(results, key=lambda result: result.entry.revision)
    assert await service.get("k") == last.entry
    assert await service.delete("k") == last.entry
    await service.stop()


@pytest.mark.parametrize("revision", [MAX_REVISION + 1, 10**20])
async def test_a_revision_beyond_every_store_is_a_failed_condition(
    store_factory: Callable[[], Store], revision: int
) -> None:
    # etcd's revisions are signed 64-bit: the domain refuses a larger one the
    # same way for every store, as no entry can be at it.
    service = KeyValueService(store_factory())
    await service.start()
    try:
        entry = (await service.put("k", 1)).entry
        condition = Condition.at_revision(revision)
        with pytest.raises(PreconditionFailed):
            await service.put("k", 2, condition)
        with pytest.raises(PreconditionFailed):
            await service.put("absent", 2, condition)
        with pytest.raises(PreconditionFailed):
            await service.delete("k", condition)
        assert await service.get("k") == entry
    finally:
        await service.stop()


async def test_a_durable_store_keeps_entries_and_revision_across_reopen(
    store_factory: Callable[[], Store], store_name: str
) -> None:
    if store_name not in DURABLE:
        pytest.skip(f"the {store_name} store is not durable by design")
    store = store_factory()
    await store.open()
    kept = await store.write(put("kept", "v"))
    await store.write(put("gone", "v"))
    deleted = await store.write(Write.delete("gone"))
    await store.close()

    reopened = store_factory()
    await reopened.open()
    assert await reopened.get("kept") == kept.entry
    assert await reopened.get("gone") is None
    after = await reopened.write(put("new", 1))
    assert after.revision > deleted.revision  # the delete's revision is never reused
    await reopened.close()
