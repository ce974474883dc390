"""A batch of single writes: planned (validated, allowed) one by one, applied together.

A transport that has several writes in hand at once (RESP pipelines) plans
each through the service (`KeyValueService.plan_put`, `plan_create`,
`plan_delete`), which checks it exactly as `put`, `create` and `delete` do,
under the caller of that moment, and then applies them all with
`KeyValueService.write_batch`: one `Store.transact_many`, so that a durable
store writes them in one commit. Each write keeps its own answer and error,
as if it had been sent alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kv.domain.errors import KVError
from kv.domain.frozen import direct_init
from kv.domain.transactions import Transaction
from kv.domain.writes import Write, Written

if TYPE_CHECKING:
    from kv.domain.idempotency import Claim, IdempotentRequest
    from kv.domain.ports import Store


@direct_init
@dataclass(frozen=True, slots=True)
class PlannedWrite:
    """One validated write and, when it carries an idempotency key, the record it claims."""

    write: Write
    claim: Claim | None = None
    idempotency: IdempotentRequest | None = None

    @property
    def transaction(self) -> Transaction:
        """The one-operation transaction a store applies for it."""
        return Transaction.single(self.write, self.claim)


async def apply_batch(store: Store, planned: Sequence[PlannedWrite]) -> list[Written | KVError]:
    """Apply `planned` in order through `store.transact_many`; one answer per write."""
    outcomes = await store.transact_many([item.transaction for item in planned])
    answers: list[Written | KVError] = []
    for item, outcome in zip(planned, outcomes, strict=True):
        if isinstance(outcome, KVError):
            answers.append(outcome)
            continue
        if item.idempotency is not None:
            item.idempotency.replayed = outcome.replayed
        answers.append(outcome.results[0])
    return answers
