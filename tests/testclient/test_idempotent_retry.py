"""Each KVClient retries a write that ended OutcomeUnknown ONCE, with the same idempotency key.

The store under the real service applies each write, then answers the first
attempt of every write OutcomeUnknown (as a store whose confirmation was
lost): the client's retry with the same key must get the first answer as a
replay, the write applied once, and the report must say so. A write without
a key is not retried; a second OutcomeUnknown is the caller's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kv.adapters.memory import InMemoryStore
from kv.domain import Outcome, OutcomeUnknown, Transaction
from testclient.client import KVClient
from testclient.client import OutcomeUnknown as ClientOutcomeUnknown
from tests.inprocess import serve_in_process


class LosesFirstConfirmations(InMemoryStore):
    """Applies every transaction; the first `losses` with a claim are answered OutcomeUnknown."""

    def __init__(self, losses: int = 10**9) -> None:
        super().__init__()
        self.losses = losses
        self.applied = 0

    async def transact(self, txn: Transaction) -> Outcome:
        outcome = await super().transact(txn)
        if outcome.changed:
            self.applied += 1
        if txn.claim is not None and not outcome.replayed and self.losses > 0:
            self.losses -= 1
            raise OutcomeUnknown("the confirmation was lost")
        return outcome


@pytest.fixture(params=["http", "grpc"])
async def served(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[KVClient, LosesFirstConfirmations]]:
    store = LosesFirstConfirmations()
    async with serve_in_process(request.param, store) as served:
        yield served.client, store


async def test_a_lost_answer_is_learned_by_one_retry_with_the_key(
    served: tuple[KVClient, LosesFirstConfirmations],
) -> None:
    client, store = served
    written = await client.put("a", 1, idempotency_key="put-a")
    assert written.idempotency is not None
    assert written.idempotency.retried
    assert written.idempotency.replayed
    assert "OutcomeUnknown" in (written.idempotency.first_failure or "")
    assert written.created
    created = await client.create("b", 2, idempotency_key="create-b")
    deleted = await client.delete("b", idempotency_key="delete-b")
    assert deleted == created
    outcome = await client.txn(
        {"success": [{"op": "put", "key": "c", "value": 3}]}, idempotency_key="txn-c"
    )
    assert outcome.succeeded
    assert outcome.idempotency is not None
    assert outcome.idempotency.replayed
    assert store.applied == 4  # each write once


async def test_a_write_without_a_key_is_not_retried(
    served: tuple[KVClient, LosesFirstConfirmations],
) -> None:
    client, store = served
    store.losses = 0
    written = await client.put("a", 1)
    assert written.idempotency is None
    assert (await client.put("a", 1, idempotency_key="k")).idempotency is not None


async def test_a_second_lost_answer_is_the_callers() -> None:
    class LosesEveryAnswer(InMemoryStore):
        async def transact(self, txn: Transaction) -> Outcome:
            await super().transact(txn)
            raise OutcomeUnknown("lost again")

    async with serve_in_process("http", LosesEveryAnswer()) as served:
        with pytest.raises(ClientOutcomeUnknown):
            await served.client.put("a", 1, idempotency_key="k")
