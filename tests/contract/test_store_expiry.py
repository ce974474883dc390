"""The storage port's expiry contract (Write.ttl, Entry.expires_at), run over every adapter.

The store's clock is the test's (`clock` fixture): moving it expires entries
without sleeping. Removal by the store's own sweeper is polled for, never
waited for by a fixed sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from kv.domain import (
    Condition,
    Decision,
    KeyNotFound,
    PreconditionFailed,
    Store,
    Write,
)
from tests.contract.conftest import DURABLE, StoreClock
from tests.store_writes import put

POLL_SECONDS = 0.01
POLL_LIMIT = 2000  # 20 s: generous for a loaded machine


async def revision_of(store: Store) -> int:
    return (await store.list("", after=None, limit=1)).revision


async def wait_for_revision_above(store: Store, revision: int) -> int:
    for _ in range(POLL_LIMIT):
        now = await revision_of(store)
        if now > revision:
            return now
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"the store's revision stayed at {revision}")


async def test_an_entry_with_a_ttl_carries_its_expiry(store: Store, clock: StoreClock) -> None:
    before = clock()
    written = await store.write(put("k", 1, ttl=30))
    after = clock()
    assert written.entry is not None
    assert written.entry.expires_at is not None
    assert before + 30 <= written.entry.expires_at <= after + 30
    assert await store.get("k") == written.entry


async def test_from_expiry_on_no_read_list_or_condition_sees_the_entry(
    store: Store, clock: StoreClock
) -> None:
    await store.write(put("gone", 1, ttl=1))
    await store.write(put("kept", 1))
    await clock.advance(1.5)
    assert await store.get("gone") is None
    assert [e.key for e in (await store.list("", after=None, limit=10)).entries] == ["kept"]
    with pytest.raises(PreconditionFailed):
        await store.write(put("gone", 2, condition=Condition.exists()))
    with pytest.raises(KeyNotFound):
        await store.write(Write.delete("gone"))
    created = await store.write(Write.create("gone", 3, b"3"))
    assert created.previous is None


async def test_the_removal_is_a_change_with_its_own_revision(
    store: Store, clock: StoreClock
) -> None:
    written = await store.write(put("k", 1, ttl=1))
    await clock.advance(1.5)
    removed_at = await wait_for_revision_above(store, written.revision)  # the sweeper's
    again = await store.write(put("k", 1))
    assert again.previous is None
    assert again.revision > removed_at > written.revision


async def test_a_write_to_an_expired_key_removes_it_first_at_its_own_revision(
    store: Store, clock: StoreClock
) -> None:
    written = await store.write(put("k", 1, ttl=1))
    await clock.advance(1.5)
    again = await store.write(put("k", 2))
    assert again.previous is None
    assert again.revision >= written.revision + 2  # one for the removal, one for the put


async def test_a_write_without_ttl_clears_the_expiry(store: Store, clock: StoreClock) -> None:
    first = await store.write(put("k", "v", ttl=2))
    plain = await store.write(put("k", "v"))  # the same value: still a change
    assert plain.decision is Decision.STORE
    assert plain.entry is not None
    assert plain.entry.expires_at is None
    assert plain.revision > first.revision
    await clock.advance(5)
    assert await store.get("k") == plain.entry


async def test_a_put_with_a_ttl_of_the_stored_value_sets_a_new_expiry(
    store: Store, clock: StoreClock
) -> None:
    first = await store.write(put("k", "v", ttl=2))
    await clock.advance(1)
    refreshed = await store.write(put("k", "v", ttl=2))
    assert refreshed.decision is Decision.STORE
    assert refreshed.entry is not None
    assert first.entry is not None
    assert refreshed.revision > first.revision
    assert refreshed.entry.expires_at is not None
    assert first.entry.expires_at is not None
    assert refreshed.entry.expires_at > first.entry.expires_at
    await clock.advance(1.5)  # past the first expiry, not the second
    assert await store.get("k") == refreshed.entry


async def test_expiry_survives_a_restart_and_the_removal_gets_a_revision(
    store_factory: Callable[[], Store], store_name: str, clock: StoreClock
) -> None:
    if store_name not in DURABLE:
        pytest.skip(f"the {store_name} store is not durable by design")
    store = store_factory()
    await store.open()
    expiring = await store.write(put("expiring", 1, ttl=2))
    lasting = await store.write(put("lasting", 1, ttl=1000))
    await store.close()

    await clock.advance(3)  # the first expires while the store is closed
    reopened = store_factory()
    await reopened.open()
    assert await reopened.get("expiring") is None
    assert await reopened.get("lasting") == lasting.entry
    await wait_for_revision_above(reopened, lasting.revision)
    after = await reopened.write(put("expiring", 2))
    assert after.previous is None
    assert after.revision >= lasting.revision + 2
    assert expiring.revision < lasting.revision
    await reopened.close()
