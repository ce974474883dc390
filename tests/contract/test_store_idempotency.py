"""Idempotency records (`Transaction.claim`), run over every store, through the service.

The first write with a key is carried out and its answer kept with it; the
same request again is answered the same, with nothing applied and no new
revision, through another store object over the same data (replicas) and
after a reopen (durable stores); another request with the key is refused;
concurrent requests with one new key apply it once; records are never seen
by reads, listings or watchers, and expire after their ttl.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from kv.domain import (
    ChangeFeed,
    Entry,
    IdempotencyKeyReused,
    KeyExists,
    KeyValueService,
    Snapshots,
    Store,
)
from kv.domain.access import Principal
from kv.domain.idempotency import IdempotentRequest, fingerprint
from tests.contract.conftest import DURABLE, REAL_TIME, StoreClock


def request(
    key: str, method: str = "PUT", target: str = "k", body: bytes = b"1"
) -> IdempotentRequest:
    return IdempotentRequest(key, fingerprint(method, target, body))


async def test_a_repeated_put_is_answered_again_and_applies_nothing(store: Store) -> None:
    service = KeyValueService(store)
    first = request("put-1")
    answer = await service.put("k", 1, idempotency=first)
    assert not first.replayed
    assert answer.created
    await service.put("k", 2)  # another writer's change since
    again = request("put-1")
    replay = await service.put("k", 1, idempotency=again)
    assert again.replayed
    assert replay == answer
    assert (await service.get("k")).value == 2  # not applied again
    listing = await service.list("")
    assert [e.key for e in listing.entries] == ["k"]


async def test_create_delete_and_transactions_replay(store: Store) -> None:
    service = KeyValueService(store)
    created = await service.create("c", "x", idempotency=request("c", "POST", "c", b'"x"'))
    again = request("c", "POST", "c", b'"x"')
    assert await service.create("c", "x", idempotency=again) == created
    assert again.replayed
    deleted = await service.delete("c", idempotency=request("d", "DELETE", "c", b""))
    again = request("d", "DELETE", "c", b"")
    assert await service.delete("c", idempotency=again) == deleted
    assert again.replayed
    body = {"success": [{"op": "put", "key": "t", "value": 1}, {"op": "get", "key": "t"}]}
    outcome = await service.txn(body, idempotency=request("t", "POST", "/v1/txn", b"t"))
    revision = (await service.list("")).revision
    again = request("t", "POST", "/v1/txn", b"t")
    replay = await service.txn(body, idempotency=again)
    assert again.replayed
    assert (replay.succeeded, replay.results, replay.revision) == (
        outcome.succeeded,
        outcome.results,
        outcome.revision,
    )
    assert (await service.list("")).revision == revision  # no new revision


async def test_another_request_with_the_key_is_refused(store: Store) -> None:
    service = KeyValueService(store)
    await service.put("k", 1, idempotency=request("same"))
    with pytest.raises(IdempotencyKeyReused):
        await service.put("k", 1, idempotency=request("same", body=b"2"))
    with pytest.raises(IdempotencyKeyReused):
        await service.delete("k", idempotency=request("same", "DELETE", "k", b""))
    assert (await service.get("k")).value == 1


async def test_keys_are_per_principal(store: Store) -> None:
    """The service files a record under the caller it runs as: bob's key "p" is not alice's."""
    service = KeyValueService(store)
    alice, bob = (Principal.of(name, write=[""]) for name in ("alice", "bob"))
    with service.guard.acting_as(alice):
        await service.put("k", 1, idempotency=IdempotentRequest("p", fingerprint("PUT", "k", b"1")))
    again = IdempotentRequest("p", fingerprint("PUT", "k", b"2"))
    with service.guard.acting_as(bob):
        await service.put("k", 2, idempotency=again)
    assert not again.replayed
    assert (await service.get("k")).value == 2


async def test_a_refused_write_is_not_recorded(store: Store) -> None:
    service = KeyValueService(store)
    await service.put("k", 1)
    with pytest.raises(KeyExists):
        await service.create("k", 2, idempotency=request("r", "POST"))
    await service.delete("k")
    retry = request("r", "POST")
    assert (await service.create("k", 2, idempotency=retry)).value == 2
    assert not retry.replayed


async def test_the_answer_is_kept_across_stores_and_reopens(
    store_name: str, store: Store, other_store: Store, store_factory: Callable[[], Store]
) -> None:
    answer = await KeyValueService(store).put("k", 1, idempotency=request("x"))
    again = request("x")
    assert await KeyValueService(other_store).put("k", 1, idempotency=again) == answer
    assert again.replayed
    if store_name not in DURABLE:
        return
    await store.close()
    reopened = store_factory()
    await reopened.open()
    try:
        again = request("x")
        assert await KeyValueService(reopened).put("k", 1, idempotency=again) == answer
        assert again.replayed
    finally:
        await reopened.close()
        await store.open()  # the fixture closes it


async def test_concurrent_requests_with_one_new_key_apply_it_once(store: Store) -> None:
    service = KeyValueService(store)
    # 100 requests at once, 10 with each key: a create applied twice would be KeyExists.
    requests = [(n % 10, request(f"race-{n % 10}", "POST", f"k{n % 10}")) for n in range(100)]
    answers = await asyncio.gather(
        *(service.create(f"k{key}", 1, idempotency=r) for key, r in requests),
        return_exceptions=True,
    )
    assert all(isinstance(a, Entry) for a in answers), answers
    for key in range(10):
        mine = [(a, r) for a, (k, r) in zip(answers, requests, strict=True) if k == key]
        assert len({a.revision for a, _ in mine if isinstance(a, Entry)}) == 1
        assert sum(not r.replayed for _, r in mine) == 1


async def test_records_are_not_changes(store: Store) -> None:
    if not isinstance(store, ChangeFeed):
        pytest.skip("no change feed")
    service = KeyValueService(store)
    subscription = await store.subscribe("", None)
    try:
        await service.put("k", 1, idempotency=request("w"))
        await service.put("k", 1, idempotency=request("w"))
        await service.put("k", 1, idempotency=request("unchanged", body=b"1 "))
        await service.put("end", 0)
        seen = [await anext(subscription), await anext(subscription)]
        assert [c.key for c in seen] == ["k", "end"]
    finally:
        subscription.close()


async def test_a_record_expires_after_its_ttl(
    store_name: str, store: Store, clock: StoreClock
) -> None:
    if store_name in REAL_TIME:
        pytest.skip("etcd's records end with their lease: a minute at least")
    service = KeyValueService(store, idempotency_ttl=5)
    await service.put("k", 1, idempotency=request("e"))
    await clock.advance(6)
    retry = request("e", body=b"2")
    await service.put("k", 2, idempotency=retry)  # no longer reused: a new first request
    assert not retry.replayed


async def test_records_are_not_in_snapshots(store: Store) -> None:
    assert isinstance(store, Snapshots)
    service = KeyValueService(store)
    await service.put("k", 1, idempotency=request("s"))
    await service.delete("k", idempotency=request("s-delete", "DELETE", "k", b""))
    await service.put("kept", 2, idempotency=request("s-kept", target="kept", body=b"2"))
    snapshot = await store.snapshot()
    try:
        assert await snapshot.count() == 1
        listing = await snapshot.page(None, 100)
        assert [entry.key for entry in listing.entries] == ["kept"]
    finally:
        await snapshot.close()
