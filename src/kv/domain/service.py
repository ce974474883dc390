"""KeyValueService: every KV operation and its validation, over any `Store`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kv.domain.access import transaction_needs
from kv.domain.batches import PlannedWrite, apply_batch
from kv.domain.errors import KVError
from kv.domain.frozen import direct_init
from kv.domain.idempotency import IdempotentRequest
from kv.domain.model import (
    Condition,
    Entry,
    JsonValue,
)
from kv.domain.transactions import Outcome, Transaction
from kv.domain.txn_requests import read_transaction
from kv.domain.write_plans import WritePlans
from kv.domain.writes import Written


@direct_init
@dataclass(frozen=True, slots=True)
class PutResult:
    """The entry after a put, and whether the put created the key."""

    entry: Entry
    created: bool


class KeyValueService(WritePlans):
    """The KV operations, over any `Store`.

    The service validates requests (key, value size, condition) and
    describes each write as a `Write`; the store carries it out atomically
    and assigns its revision (see `kv.domain.ports.Store`). The service holds
    no counter and no lock, so several services (in one process, or replicas
    over a shared store) can write to one store at once.

    Every operation is idempotent in effect: a put of the value already
    stored changes nothing and keeps the revision; a second delete finds no
    key and changes nothing.
    """

    async def start(self) -> None:
        """Open the store."""
        await self._store.open()

    async def stop(self) -> None:
        """Close the store; every write already answered is durable before this returns."""
        await self._store.close()

    async def check(self) -> None:
        """Raise StorageUnavailable when the store cannot serve requests."""
        await self._store.check()

    async def put(
        self,
        key: str,
        value: JsonValue,
        condition: Condition | None = None,
        *,
        ttl: int | None = None,
        idempotency: IdempotentRequest | None = None,
    ) -> PutResult:
        """Store `value` at `key`, creating or replacing it.

        With `ttl` (whole seconds, 1 to 31,536,000) the entry expires that
        long after the write; without, it never expires (any expiry it had is
        cleared). A put of the value already stored (same compact JSON), with
        no ttl on either side, changes nothing and returns the entry with its
        revision unchanged; a put with a ttl always sets a new expiry, a
        change with a new revision. With a condition, PreconditionFailed when
        the current entry does not satisfy it. StorageUnavailable: not
        applied; OutcomeUnknown: maybe applied.

        `idempotency` (every write takes one): the first write with its key is
        carried out and its answer recorded with it; a later one with the same
        key and fingerprint gets that answer and changes nothing
        (`idempotency.replayed`); with another fingerprint, IdempotencyKeyReused.
        """
        planned = self.plan_put(key, value, condition, ttl=ttl, idempotency=idempotency)
        written = await self._write(planned)
        assert written.entry is not None
        return PutResult(written.entry, created=written.previous is None)

    async def create(
        self,
        key: str,
        value: JsonValue,
        *,
        ttl: int | None = None,
        condition: Condition | None = None,
        idempotency: IdempotentRequest | None = None,
    ) -> Entry:
        """Store `value` at `key` only if there is no entry there; KeyExists otherwise.

        `ttl` and `idempotency` as for `put`. `condition`: what the client also asked of the
        entry (HTTP's If-Match on POST): one that needs an entry can never
        hold for a create, PreconditionFailed.
        """
        planned = self.plan_create(
            key, value, ttl=ttl, condition=condition, idempotency=idempotency
        )
        written = await self._write(planned)
        assert written.entry is not None
        return written.entry

    async def delete(
        self,
        key: str,
        condition: Condition | None = None,
        *,
        idempotency: IdempotentRequest | None = None,
    ) -> Entry:
        """Remove `key` and return the entry it had; KeyNotFound when there is none.

        With a condition, PreconditionFailed when the current entry does not
        satisfy it. `idempotency` as for `put`.
        """
        written = await self._write(self.plan_delete(key, condition, idempotency=idempotency))
        assert written.previous is not None
        return written.previous

    async def write_batch(self, planned: Sequence[PlannedWrite]) -> list[Written | KVError]:
        """Apply planned writes in order, as if each were `put`, `create` or `delete` in turn.

        One item per write, in order: its `Written` (`previous` and `entry`
        as those methods answer them) or the `KVError` it met; one write's
        error does not stop the others. Answers once every write is durable:
        the store applies the batch through `Store.transact_many` (one commit
        on a durable engine). Validation and access were checked as each
        write was planned, under the caller of that moment.
        """
        if len(planned) == 1:  # alone: the store's single-write path
            try:
                return [await self._write(planned[0])]
            except KVError as exc:
                return [exc]
        return await apply_batch(self._store, planned)

    async def txn(
        self, request: object, *, idempotency: IdempotentRequest | None = None
    ) -> Outcome:
        """Carry out a transaction atomically: compares, then the `success` or `failure` ops.

        `request` is the transaction as clients send it (`kv.domain.txn_requests`
        describes the shape and its limits: InvalidRequest, ValueTooLarge). If
        every compare holds on the current entries, `success` runs, otherwise
        `failure`, each op in order (a get sees the writes before it in its
        branch). Every change takes the same new revision (`Outcome.revision`),
        and readers, listings and watchers see all of them or none; a
        transaction that changes nothing takes no revision. A put of the value
        stored (no ttl on either side) changes nothing, as `put` does; a delete
        of nothing answers `deleted: false`. StorageUnavailable: not applied;
        OutcomeUnknown: maybe applied. PermissionDenied (nothing done) unless the
        caller may read every key compared or got and write every key put or
        deleted, in both branches. `idempotency` as for `put`.
        """
        txn = read_transaction(request, self._max_value_bytes)
        self.guard.require_all(transaction_needs(txn))
        if idempotency is None:
            return await self._store.transact(txn)
        claimed = Transaction(txn.compare, txn.success, txn.failure, self._claim(idempotency))
        outcome = await self._store.transact(claimed)
        idempotency.replayed = outcome.replayed
        return outcome

    async def _write(self, planned: PlannedWrite) -> Written:
        """One write, through the store's transaction when it carries an idempotency key."""
        if planned.idempotency is None:
            return await self._store.write(planned.write)
        outcome = await self._store.transact(planned.transaction)
        planned.idempotency.replayed = outcome.replayed
        return outcome.results[0]
