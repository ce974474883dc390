"""KeyValueService: every KV operation, its validation, locking and idempotency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from kv.domain.errors import KeyExists, KeyNotFound, KVError
from kv.domain.model import (
    DEFAULT_MAX_VALUE_BYTES,
    Change,
    Condition,
    Entry,
    JsonValue,
    check_nesting,
    check_value_size,
    encode_value,
    same_value,
    validate_key,
)
from kv.domain.ports import Store

T = TypeVar("T")

# What a write decides from the current entry: the change to commit (None for
# none) and what the operation returns once that change is durable.
Plan = tuple[Change | None, T]


@dataclass(frozen=True, slots=True)
class PutResult:
    """The entry after a put, and whether the put created the key."""

    entry: Entry
    created: bool


class KeyValueService:
    """The KV operations, over any `Store`.

    One lock covers each read-modify-write, so concurrent writes to a key are
    applied one after another and every write gets the next store-wide
    revision. The lock is not held while a durable store syncs: the change is
    queued in order, the lock released, and the caller answered only when its
    change (and so every earlier one) is durable. Writes queued but not yet
    durable are "staged": later writers decide on top of them, and any answer
    that depends on one waits for it, so no caller is told of a state that a
    crash could still undo. Readers see only completed commits.

    Every operation is idempotent in effect: a put of the value already
    stored changes nothing and keeps the revision; a second delete finds no
    key and changes nothing.
    """

    def __init__(self, store: Store, *, max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES) -> None:
        self._store = store
        self._max_value_bytes = max_value_bytes
        self._lock = asyncio.Lock()
        self._revision = 0
        self._staged: dict[str, tuple[Entry | None, asyncio.Future[None]]] = {}

    @property
    def max_value_bytes(self) -> int:
        return self._max_value_bytes

    @property
    def revision(self) -> int:
        """The revision of the last write made (staged or durable)."""
        return self._revision

    async def start(self) -> None:
        """Open the store and continue its revision counter."""
        self._revision = await self._store.open()

    async def stop(self) -> None:
        """Close the store; every write already answered is durable before this returns."""
        await self._store.close()

    async def check(self) -> None:
        """Raise StorageUnavailable when the store cannot serve requests."""
        await self._store.check()

    async def get(self, key: str) -> Entry:
        """Return the entry at `key`; KeyNotFound when there is none."""
        entry = await self._store.get(validate_key(key))
        if entry is None:
            raise KeyNotFound(f"no such key: {key!r}")
        return entry

    async def put(
        self, key: str, value: JsonValue, condition: Condition | None = None
    ) -> PutResult:
        """Store `value` at `key`, creating or replacing it.

        A put of the value already stored (same compact JSON) changes nothing
        and returns the entry with its revision unchanged. With a condition,
        PreconditionFailed when the current entry does not satisfy it.
        """
        encoded = self._encode(value)

        def plan(current: Entry | None) -> Plan[PutResult]:
            if condition is not None:
                condition.check(current)
            if current is not None and same_value(current.value, value, encoded):
                return None, PutResult(current, created=False)
            change = self._next_change(key, value)
            assert change.entry is not None
            return change, PutResult(change.entry, created=current is None)

        return await self._write(validate_key(key), plan)

    async def create(self, key: str, value: JsonValue) -> Entry:
        """Store `value` at `key` only if there is no entry there; KeyExists otherwise."""
        self._encode(value)

        def plan(current: Entry | None) -> Plan[Entry]:
            if current is not None:
                raise KeyExists(f"key exists at revision {current.revision}")
            change = self._next_change(key, value)
            assert change.entry is not None
            return change, change.entry

        return await self._write(validate_key(key), plan)

    async def delete(self, key: str, condition: Condition | None = None) -> Entry:
        """Remove `key` and return the entry it had; KeyNotFound when there is none."""

        def plan(current: Entry | None) -> Plan[Entry]:
            if condition is not None:
                condition.check(current)
            if current is None:
                raise KeyNotFound(f"no such key: {key!r}")
            self._revision += 1
            return Change(key, None, self._revision), current

        return await self._write(validate_key(key), plan)

    def _encode(self, value: JsonValue) -> bytes:
        """The compact JSON of a value a client sent, once it passed every value rule.

        Nesting is checked first: the encoder recurses, and must never see
        a value deeper than the limit.
        """
        check_nesting(value)
        encoded = encode_value(value)
        check_value_size(encoded, self._max_value_bytes)
        return encoded

    def _next_change(self, key: str, value: JsonValue) -> Change:
        self._revision += 1
        return Change(key, Entry(key, value, self._revision), self._revision)

    async def _write(self, key: str, plan: Callable[[Entry | None], Plan[T]]) -> T:
        failure: KVError | None = None
        async with self._lock:
            current, durable = await self._current(key)
            try:
                change, result = plan(current)
            except KVError as exc:
                failure = exc
            else:
                if change is not None:
                    durable = self._commit(change)
        if durable is not None and not durable.done():
            # Shielded: a caller that goes away must not cancel the store's future.
            await asyncio.shield(durable)
        if durable is not None:
            durable.result()
        if failure is not None:
            raise failure
        return result

    async def _current(self, key: str) -> tuple[Entry | None, asyncio.Future[None] | None]:
        """The entry writers decide on: the staged one if any (with its future), else the stored."""
        staged = self._staged.get(key)
        if staged is not None:
            return staged
        return await self._store.get(key), None

    def _commit(self, change: Change) -> asyncio.Future[None]:
        durable = self._store.commit(change)
        if not durable.done():
            key = change.key
            self._staged[key] = (change.entry, durable)

            def unstage(future: asyncio.Future[None]) -> None:
                staged = self._staged.get(key)
                if staged is not None and staged[1] is future:
                    del self._staged[key]

            durable.add_done_callback(unstage)
        return durable
