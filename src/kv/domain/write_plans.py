"""WritePlans: a write request validated, allowed and described as a `PlannedWrite`.

`KeyValueService` builds on it: `put`, `create` and `delete` plan their
write and apply it at once; a transport with several writes in hand plans
each (under the caller of that moment) and applies them together with
`KeyValueService.write_batch` (kv.domain.batches).
"""

from __future__ import annotations

import time

from kv.domain.access import Access, Guard
from kv.domain.batches import PlannedWrite
from kv.domain.errors import PreconditionFailed
from kv.domain.idempotency import DEFAULT_TTL_SECONDS, Claim, IdempotentRequest
from kv.domain.model import (
    DEFAULT_MAX_VALUE_BYTES,
    Condition,
    JsonValue,
    check_nesting,
    check_value_size,
    encode_value,
    validate_key,
)
from kv.domain.ports import Store
from kv.domain.reads import KeyValueReads
from kv.domain.ttl import Clock, validate_ttl
from kv.domain.watches import DEFAULT_MAX_WATCHES
from kv.domain.writes import Write


class WritePlans(KeyValueReads):
    """The checks every write passes before a store sees it, each answered as a `PlannedWrite`.

    A plan raises what the write would raise before it reaches the store
    (InvalidRequest, ValueTooLarge, PermissionDenied, PreconditionFailed for
    a condition no entry can meet); it changes nothing until it is applied.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        clock: Clock = time.time,
        max_watches: int = DEFAULT_MAX_WATCHES,
        guard: Guard | None = None,
        idempotency_ttl: int = DEFAULT_TTL_SECONDS,
    ) -> None:
        """`clock`: the time in Unix seconds, for `ttl_left` (the store has its own for expiry).

        `max_watches`: watches open at once, over every transport; one more is TooManyWatches.
        `guard`: access control (domain/access.py); every operation on keys asks it first,
        and raises PermissionDenied (or Unauthenticated) for a caller it does not cover.
        Without one, every caller may do everything.
        `idempotency_ttl`: seconds the answer of a write with an idempotency key is kept.
        """
        super().__init__(
            store,
            max_value_bytes=max_value_bytes,
            clock=clock,
            max_watches=max_watches,
            guard=guard,
        )
        self._idempotency_ttl = idempotency_ttl

    def plan_put(
        self,
        key: str,
        value: JsonValue,
        condition: Condition | None = None,
        *,
        ttl: int | None = None,
        idempotency: IdempotentRequest | None = None,
    ) -> PlannedWrite:
        """`put`'s write, validated and allowed for the caller, not yet applied.

        Raises what `put` raises before it writes; `write_batch` (or `put`) applies it.
        """
        key = self._writable(key)
        write = Write.put(key, value, self._encode(value), condition, ttl=validate_ttl(ttl))
        _check_possible(condition)
        return self._planned(write, idempotency)

    def plan_create(
        self,
        key: str,
        value: JsonValue,
        *,
        ttl: int | None = None,
        condition: Condition | None = None,
        idempotency: IdempotentRequest | None = None,
    ) -> PlannedWrite:
        """`create`'s write, validated and allowed for the caller, not yet applied."""
        write = Write.create(self._writable(key), value, self._encode(value), ttl=validate_ttl(ttl))
        if condition is not None and condition.must_exist:
            raise PreconditionFailed("create only: the key must be absent, so it cannot also exist")
        return self._planned(write, idempotency)

    def plan_delete(
        self,
        key: str,
        condition: Condition | None = None,
        *,
        idempotency: IdempotentRequest | None = None,
    ) -> PlannedWrite:
        """`delete`'s write, validated and allowed for the caller, not yet applied."""
        write = Write.delete(self._writable(key), condition)
        _check_possible(condition)
        return self._planned(write, idempotency)

    def _claim(self, idempotency: IdempotentRequest) -> Claim:
        """The record a write with an idempotency key claims: the key is the caller's own."""
        idempotency.principal = self.guard.caller_name()
        return idempotency.claim(self._idempotency_ttl)

    def _planned(self, write: Write, idempotency: IdempotentRequest | None) -> PlannedWrite:
        """The write with the record it claims, filed under the caller of this moment."""
        if idempotency is None:
            return PlannedWrite(write)
        return PlannedWrite(write, self._claim(idempotency), idempotency)

    def _writable(self, key: str) -> str:
        """The key, once valid and writable by the caller (InvalidRequest, PermissionDenied)."""
        key = validate_key(key)
        self.guard.require(Access.WRITE, key)
        return key

    def _encode(self, value: JsonValue) -> bytes:
        """The compact JSON of a value a client sent, once it passed every value rule.

        Nesting is checked first: the encoder recurses, and must never see
        a value deeper than the limit.
        """
        check_nesting(value)
        encoded = encode_value(value)
        check_value_size(encoded, self._max_value_bytes)
        return encoded


def _check_possible(condition: Condition | None) -> None:
    """PreconditionFailed for a condition no entry can meet, before any store sees it."""
    if condition is not None and condition.unmet is not None:
        raise PreconditionFailed(condition.unmet)
