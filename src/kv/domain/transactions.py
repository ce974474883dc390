"""Transactions: compares and two branches of operations, decided by one pure rule.

Every change a store makes for a client is a `Transaction`: if every
`Compare` holds on the current entries, the `success` ops run, otherwise
the `failure` ops, in order. A single write (PUT, create, DELETE) is the
one-operation transaction `Transaction.single(write)`: no compares, the write
alone in `success`, its own rules (condition, create-only, delete of
nothing, same value) raising the domain's errors as they always did.

`Transaction.decide` is THE rule: given the current entry of every key the
transaction touches, it says which branch runs and what each op yields, and
whether anything changes. A local store calls it under its own lock and
applies what it answers in one commit; etcd's adapter turns the same rules
into one etcd Txn and reads the answer back with the same value types.
Every write of one transaction takes the same new revision; a transaction
that changes nothing takes none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kv.domain.frozen import direct_init
from kv.domain.model import Entry, JsonValue, same_value
from kv.domain.writes import Decision, Write, Written

if TYPE_CHECKING:
    from kv.domain.idempotency import Claim, IdempotencyRecord

MAX_COMPARES = 128
MAX_OPS = 128  # per branch


@dataclass(frozen=True, slots=True)
class Compare:
    """One test of a key's current entry; exactly one of `revision`, `value_json`, `exists` is set.

    `revision`: the entry's revision is this (0: the key has no entry).
    `value`/`value_json`: the entry's value has this compact JSON.
    `exists`: the key has an entry (True) or has none (False).
    """

    key: str
    revision: int | None = None
    value: JsonValue = None
    value_json: bytes | None = None
    exists: bool | None = None

    def holds(self, current: Entry | None) -> bool:
        """Whether `current` (None: no entry at the key) passes this compare."""
        if self.revision is not None:
            return (0 if current is None else current.revision) == self.revision
        if self.exists is not None:
            return (current is not None) is self.exists
        assert self.value_json is not None
        return current is not None and same_value(current.value, self.value, self.value_json)


@dataclass(frozen=True, slots=True)
class Read:
    """A read of one key inside a transaction: it sees the writes before it in its branch."""

    key: str


Op = Write | Read


@direct_init
@dataclass(frozen=True, slots=True)
class Outcome:
    """What a transaction did: the branch that ran, one result per op of it, the revision.

    `results[i]` answers `ops[i]`: a `Written` for a write, and for a `Read`
    an UNCHANGED `Written` whose `entry` is what it saw (None: no entry).
    `revision`: the store's revision after the transaction, the one every
    change of it took when `changed`.

    `replayed`: the answer is the one recorded for the transaction's
    idempotency key (nothing was applied). `record`: what the store must write
    with the changes, in the same commit, when the transaction carries a
    `Claim` (also when nothing changed).
    """

    succeeded: bool
    ops: tuple[Op, ...]
    results: tuple[Written, ...]
    revision: int
    changed: bool
    replayed: bool = False
    record: IdempotencyRecord | None = None

    @classmethod
    def of_write(cls, ops: tuple[Op, ...], written: Written, revision: int) -> Outcome:
        """The outcome of a lone write (`Transaction.lone_write`) that answered `written`.

        `revision`: the store's revision after it. The same outcome `decide` gives.
        """
        return cls(True, ops, (written,), revision, written.decision is not Decision.UNCHANGED)

    def changes(self) -> Iterator[tuple[Write, Written]]:
        """Each write that changed its key, with its result, in op order (one per key).

        None for an outcome that changes nothing, a replay included (its results
        say what the first request changed).
        """
        if not self.changed:
            return
        for op, result in zip(self.ops, self.results, strict=True):
            if isinstance(op, Write) and result.decision is not Decision.UNCHANGED:
                yield op, result

    def at(self, revision: int) -> Outcome:
        """The same outcome with its changes at `revision` (etcd learns it from its answer).

        Every result that shows an entry this transaction made (its writes, and the reads
        after them in the branch) moves from the revision `decide` gave it to `revision`.
        """
        if not self.changed:
            return Outcome(self.succeeded, self.ops, self.results, revision, False)
        made = self.revision
        results = tuple(_moved(result, made, revision) for result in self.results)
        return Outcome(self.succeeded, self.ops, results, revision, True)


def _moved(result: Written, made: int, revision: int) -> Written:
    """`result` with what carries revision `made` (this transaction's changes) at `revision`."""

    def move(entry: Entry | None) -> Entry | None:
        if entry is None or entry.revision != made:
            return entry
        return Entry(entry.key, entry.value, revision, entry.expires_at)

    return Written(
        result.decision,
        move(result.previous),
        move(result.entry),
        revision if result.revision == made else result.revision,
    )


@direct_init
@dataclass(frozen=True, slots=True)
class Transaction:
    """Compares, and the ops to run when they all hold (`success`) or not (`failure`).

    The service validates one before a store sees it: at most MAX_COMPARES
    compares and MAX_OPS ops per branch, no key written twice in a branch.
    """

    compare: tuple[Compare, ...] = ()
    success: tuple[Op, ...] = ()
    failure: tuple[Op, ...] = ()
    # The idempotency key it carries (kv.domain.idempotency): the store reads its record too.
    claim: Claim | None = None

    @classmethod
    def single(cls, write: Write, claim: Claim | None = None) -> Transaction:
        """The one-operation transaction that is a single write."""
        return cls(success=(write,), claim=claim)

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key the transaction touches (compares and both branches), each once, in order.

        What a store reads before deciding, and what access control must allow.
        """
        if not self.compare and not self.failure and len(self.success) == 1:
            return (self.success[0].key,)  # a single write, the most common transaction
        every = [c.key for c in self.compare]
        every += [op.key for op in self.success]
        every += [op.key for op in self.failure]
        return tuple(dict.fromkeys(every))

    @property
    def lone_write(self) -> Write | None:
        """The write, when the transaction is one write and nothing else (no compare, no claim).

        Its outcome is `Outcome.of_write` of `Write.written`: a store may apply
        such a write without deciding the whole transaction.
        """
        if self.compare or self.failure or self.claim is not None or len(self.success) != 1:
            return None
        op = self.success[0]
        return op if isinstance(op, Write) else None

    @property
    def writes(self) -> tuple[Write, ...]:
        """Every write of either branch."""
        return tuple(op for op in (*self.success, *self.failure) if isinstance(op, Write))

    def decide(
        self,
        current: Mapping[str, Entry | None],
        revision: int,
        now: float,
        recorded: IdempotencyRecord | None = None,
    ) -> Outcome:
        """What the transaction does to `current`, the store being at `revision` at time `now`.

        `current` maps every key of `keys` to its live entry (None: none; an
        expired entry is none: the store removes it first, at its own
        revision). Changes are made at `revision + 1`. A write's own rules
        raise as `Write.decide` does (only a single write carries any that
        can): then nothing changes. Pure: the same input, the same outcome.

        With a `claim`, `recorded` is the record the store holds under its
        key (None: none, or expired): when there is one, the outcome is its
        replay (`Claim.replay`: IdempotencyKeyReused for another request),
        nothing changes; otherwise the outcome carries the `record` to write.
        """
        if self.claim is not None and recorded is not None and not recorded.expired(now):
            return self.claim.replay(recorded)
        outcome = self._decide(current, revision, now)
        if self.claim is None:
            return outcome
        return replace(outcome, record=self.claim.record(outcome, now))

    def _decide(self, current: Mapping[str, Entry | None], revision: int, now: float) -> Outcome:
        succeeded = all(compare.holds(current[compare.key]) for compare in self.compare)
        ops = self.success if succeeded else self.failure
        state = dict(current)
        results: list[Written] = []
        changed = False
        for op in ops:
            seen = state[op.key]
            if isinstance(op, Read):
                results.append(Written.apply_read(seen))
                continue
            written = op.written(seen, revision, now)
            if written.decision is not Decision.UNCHANGED:
                changed = True
                state[op.key] = written.entry
            results.append(written)
        return Outcome(
            succeeded, ops, tuple(results), revision + 1 if changed else revision, changed
        )
