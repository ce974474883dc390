"""A conditional write and its rules, as values a store can carry out atomically.

The service validates a request and describes it as a `Write`: one
operation of a transaction (`kv.domain.transactions`; a single write is the
one-operation transaction). The store reads the current entries, and the
transaction asks `Write.decide` what each write does to its key's entry; the
store applies that at the next store-wide revision and answers `Written`s.
`decide` is a pure function of the current entry, so a local store calls it
under its own lock, and a remote one (etcd) can express the same rules as
the compares of an etcd Txn, then call `decide` on the entry it read back to
learn which error a failed compare means.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kv.domain.errors import KeyExists, KeyNotFound
from kv.domain.frozen import direct_init
from kv.domain.model import Condition, Entry, JsonValue, same_value


class WriteKind(enum.Enum):
    """What a write asks for."""

    PUT = "put"  # create or replace (with an optional condition)
    CREATE = "create"  # create only: KeyExists when the key has an entry
    DELETE = "delete"  # remove (with an optional condition): KeyNotFound when absent


class Decision(enum.Enum):
    """What a write does to the current entry, once its rules allow it."""

    UNCHANGED = "unchanged"  # nothing changes: no revision is used
    STORE = "store"  # the key gets the write's value at the next revision
    REMOVE = "remove"  # the key is removed at the next revision


@direct_init
@dataclass(frozen=True, slots=True)
class Write:
    """One validated write: the key, the new value (with its compact JSON), condition and ttl.

    `value_json` is the value's compact UTF-8 JSON, made once by the service
    (it measured the size limit on it): a store that keeps JSON stores these
    bytes instead of encoding the value again, and the same-value rule
    compares them. `ttl`: the entry expires `ttl` seconds after the store
    applies the write (None: it never expires, and any expiry it had is
    cleared). Build one with `put`, `create` or `delete`.
    """

    kind: WriteKind
    key: str
    value: JsonValue = None
    value_json: bytes = b""
    condition: Condition | None = None
    ttl: int | None = None
    # A delete of a key that has no entry is UNCHANGED instead of KeyNotFound (a transaction's
    # delete answers `deleted: false`).
    missing_ok: bool = False

    @classmethod
    def put(
        cls,
        key: str,
        value: JsonValue,
        value_json: bytes,
        condition: Condition | None = None,
        *,
        ttl: int | None = None,
    ) -> Write:
        return cls(WriteKind.PUT, key, value, value_json, condition, ttl)

    @classmethod
    def create(
        cls, key: str, value: JsonValue, value_json: bytes, *, ttl: int | None = None
    ) -> Write:
        return cls(WriteKind.CREATE, key, value, value_json, ttl=ttl)

    @classmethod
    def delete(
        cls, key: str, condition: Condition | None = None, *, missing_ok: bool = False
    ) -> Write:
        return cls(WriteKind.DELETE, key, condition=condition, missing_ok=missing_ok)

    def decide(self, current: Entry | None) -> Decision:
        """What this write does to `current` (None: no entry at the key).

        Raises PreconditionFailed when the condition is not met, KeyExists
        for a create over an entry and KeyNotFound for a delete of nothing
        (UNCHANGED with `missing_ok`): then nothing changes. A put of the
        value already stored (the same compact JSON) is UNCHANGED, keeping
        the entry and its revision, when neither the entry nor the put has a
        ttl: a put with a ttl sets a new expiry and a put without one clears
        the entry's, and each is a change (etcd likewise gives a put with a
        new lease a new revision).

        The caller passes the entry as it is at this moment: an expired
        entry is no entry (the store removes it first, at its own revision).
        """
        if self.condition is not None:
            self.condition.check(current)
        if self.kind is WriteKind.DELETE:
            if current is None:
                if self.missing_ok:
                    return Decision.UNCHANGED
                raise KeyNotFound(f"no such key: {self.key!r}")
            return Decision.REMOVE
        if current is None:
            return Decision.STORE
        if self.kind is WriteKind.CREATE:
            raise KeyExists(f"key exists at revision {current.revision}")
        if (
            self.ttl is None
            and current.expires_at is None
            and same_value(current.value, self.value, self.value_json)
        ):
            return Decision.UNCHANGED
        return Decision.STORE

    def written(self, current: Entry | None, revision: int, now: float) -> Written:
        """`decide` on `current` and its answer, the store being at `revision` at time `now`.

        A change is made at `revision + 1`. Raises as `decide` does. What the
        one-write transaction answers for its write, and what a store that
        applies a lone write directly (without a `Transaction`) answers.
        """
        return Written.apply(self, current, self.decide(current), revision + 1, now)

    def entry(self, revision: int, now: float) -> Entry:
        """The entry this write stores when it is applied at `revision`, at time `now`."""
        expires_at = None if self.ttl is None else now + self.ttl
        return Entry(self.key, self.value, revision, expires_at)


@direct_init
@dataclass(frozen=True, slots=True)
class Written:
    """What a store answers for a write it carried out.

    `previous`: the entry before the write (None: there was none). `entry`:
    the entry after it (None: the key is gone). `revision`: the store-wide
    revision the write was applied at; for an UNCHANGED write, the revision
    of the entry it left as it was (0: there is none, a `missing_ok` delete
    of nothing). A transaction's read is answered as an UNCHANGED `Written`
    whose `entry` is what it read.
    """

    decision: Decision
    previous: Entry | None
    entry: Entry | None
    revision: int

    @classmethod
    def apply(
        cls, write: Write, current: Entry | None, decision: Decision, revision: int, now: float
    ) -> Written:
        """The answer for `write` with `decision` on `current`, the change made at `revision`.

        `now`: the store's time when it applies the write (the ttl counts from it).
        """
        if decision is Decision.UNCHANGED:
            return cls(decision, current, current, 0 if current is None else current.revision)
        entry = write.entry(revision, now) if decision is Decision.STORE else None
        return cls(decision, current, entry, revision)

    @classmethod
    def apply_read(cls, seen: Entry | None) -> Written:
        """The answer for a transaction's read that saw `seen` (None: no entry)."""
        return cls(Decision.UNCHANGED, seen, seen, 0 if seen is None else seen.revision)
