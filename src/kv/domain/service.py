"""KeyValueService: every KV operation and its validation, over any `Store`."""

from __future__ import annotations

from dataclasses import dataclass

from kv.domain.errors import KeyNotFound
from kv.domain.model import (
    DEFAULT_MAX_VALUE_BYTES,
    Condition,
    Entry,
    JsonValue,
    check_value_size,
    encode_value,
    validate_key,
)
from kv.domain.ports import Store
from kv.domain.writes import Write


@dataclass(frozen=True, slots=True)
class PutResult:
    """The entry after a put, and whether the put created the key."""

    entry: Entry
    created: bool


class KeyValueService:
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

    def __init__(self, store: Store, *, max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES) -> None:
        self._store = store
        self._max_value_bytes = max_value_bytes

    @property
    def max_value_bytes(self) -> int:
        return self._max_value_bytes

    async def start(self) -> None:
        """Open the store."""
        await self._store.open()

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
        StorageUnavailable: not applied; OutcomeUnknown: maybe applied.
        """
        write = Write.put(validate_key(key), value, self._encode(value), condition)
        written = await self._store.write(write)
        assert written.entry is not None
        return PutResult(written.entry, created=written.previous is None)

    async def create(self, key: str, value: JsonValue) -> Entry:
        """Store `value` at `key` only if there is no entry there; KeyExists otherwise."""
        write = Write.create(validate_key(key), value, self._encode(value))
        written = await self._store.write(write)
        assert written.entry is not None
        return written.entry

    async def delete(self, key: str, condition: Condition | None = None) -> Entry:
        """Remove `key` and return the entry it had; KeyNotFound when there is none.

        With a condition, PreconditionFailed when the current entry does not
        satisfy it.
        """
        written = await self._store.write(Write.delete(validate_key(key), condition))
        assert written.previous is not None
        return written.previous

    def _encode(self, value: JsonValue) -> bytes:
        encoded = encode_value(value)
        check_value_size(encoded, self._max_value_bytes)
        return encoded
