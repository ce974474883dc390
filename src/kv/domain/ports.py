"""The storage port: what the domain needs from a storage engine.

Adapters in `kv.adapters` implement it; the domain never imports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from kv.domain.changes import Change
from kv.domain.errors import KVError
from kv.domain.model import Entry, Listing
from kv.domain.transactions import Outcome, Transaction
from kv.domain.writes import Write, Written

# What `Store.transact_many` answers: per transaction, its outcome or the error it met.
BatchOutcomes = list[Outcome | KVError]


class Store(Protocol):
    """Keeps entries and the store-wide revision, and carries out conditional writes atomically.

    The store, not the service, owns the revision and the atomicity of a
    write, so that any number of services (in one process or in many, over
    a shared engine such as etcd) can write to one store. The contract,
    proven for every adapter by `tests/contract/test_store_contract.py`:

    **Revision.** One counter for the whole store, kept with the data: every
    write that changes something (a put or create that stores a value, a
    delete, later an expiry) takes the next revision, which is above every
    revision the store ever answered, across restarts. An entry carries the
    revision of the write that last changed it. Revisions need not start at
    1 or be dense (etcd's are its own), only strictly increasing.

    **`transact(txn)`: one atomic step.** The store reads the current entry
    of every key in `txn.keys`, calls `txn.decide(current, revision, now)`
    (the domain's one rule: which branch runs, what each op yields; for a
    single write its rules: condition, create-only, delete of nothing, same
    value) and applies the outcome's changes at ONE new revision, with no
    other change of any key (or any revision) in between, in one commit: all
    of them or none, for readers, listings, watchers and after a crash. A
    transaction that changes nothing takes no revision. It answers the
    `Outcome` only once the changes are durable (for a durable engine) and
    visible to every later `get`. An outcome that depends on a change not
    yet durable waits for it too, so no caller is told of a state a crash
    could still undo. `decide`'s errors (KeyExists, KeyNotFound,
    PreconditionFailed) propagate as they are: nothing changed. An engine
    that cannot take a transaction this large refuses it before sending
    anything (ValueTooLarge).

    **`write(write)`**: the one-operation transaction `Transaction.single(write)`,
    answered with its write's `Written` (`SingleWrites` provides it).

    **`transact_many(txns)`: a batch, as if one by one.** Each transaction
    is applied in order, as `transact` would apply it had it been called
    for each in turn with nothing else in between: each at a revision of
    its own (above the one before), each deciding on what the ones before
    it left. The answer has one item per transaction, in order: its
    `Outcome`, or the `KVError` it raised (its own rules: KeyExists,
    KeyNotFound, PreconditionFailed; or StorageUnavailable, OutcomeUnknown);
    one item's error does not stop the others. It answers only once every
    change of the batch is durable and visible. A durable engine should
    write the batch in one commit (one sync): that is what the method is
    for. `SingleWrites` provides it one transaction at a time, which keeps
    the contract for any engine.

    **`get(key)`**: the entry as of a completed write (never one whose
    durability is still pending), or None.

    **`list(prefix, after=, limit=, keys_only=)`**: up to `limit` entries
    whose keys start with `prefix` and sort strictly after `after` (None:
    from the first), in key order (Python's str order: code points, which
    is UTF-8 byte order), as of completed writes; `more` says whether
    another such entry follows; `revision` is the store's revision the page
    was read at (every change it shows is at or below it). With
    `keys_only` the entries' values may be left out (None). A page costs
    O(log n + limit), never a scan of the store.

    **Expiry.** A write with `ttl` stores an entry with `expires_at` = the
    store's time when it applies the write + ttl; a write without one clears
    any expiry. From `expires_at` on, no `get`, `list` or `decide` sees the
    entry (checked on read, not left to a sweeper). Its removal is a change
    at a revision of its own, made by the store itself (in the background,
    bounded, stopped by `close`; and at the latest before the next write to
    the key is decided); a durable store that opens finds entries that
    expired while it was closed removed, with their removals' revisions.

    **Errors.** `StorageUnavailable`: the transaction was NOT applied and never
    will be (the store is down, closed, or refused it before it was sent);
    safe to retry. `OutcomeUnknown`: the write was sent and not confirmed (a
    deadline, a lost connection, a leader change): it may or may not have
    been applied, and may still be. A store must never report
    StorageUnavailable for a write it cannot prove was not applied.

    **Snapshots.** Every store also offers `Snapshots` (below): its entries
    as of one revision, read a page at a time while writes go on.

    **Lifecycle.** `open` loads or connects (a bad data directory raises
    `kv.config.ConfigError`); `close` returns once every write answered is
    durable and background work has stopped. `check` raises
    StorageUnavailable when the store cannot serve (readiness).
    """

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def get(self, key: str) -> Entry | None: ...

    async def list(
        self, prefix: str, *, after: str | None, limit: int, keys_only: bool = False
    ) -> Listing: ...

    async def transact(self, txn: Transaction) -> Outcome: ...

    async def write(self, write: Write) -> Written: ...

    async def transact_many(self, txns: Sequence[Transaction]) -> BatchOutcomes: ...

    async def check(self) -> None: ...


class SingleWrites:
    """`Store.write` and `Store.transact_many` for a store that implements `transact`.

    A base class for adapters (and test doubles): it supplies `write` (the
    one-op transaction) and `transact_many` (each transaction in turn), the
    store `transact`.
    """

    async def transact(self, txn: Transaction) -> Outcome:
        raise NotImplementedError  # the store's own

    async def write(self, write: Write) -> Written:
        outcome = await self.transact(Transaction.single(write))
        return outcome.results[0]

    async def transact_many(self, txns: Sequence[Transaction]) -> BatchOutcomes:
        results: BatchOutcomes = []
        for txn in txns:
            try:
                results.append(await self.transact(txn))
            except KVError as exc:
                results.append(exc)
        return results


class Subscription(Protocol):
    """One watcher's place in a change feed: an async iterator of `Change`s, in revision order.

    Yields every change of a key under the watched prefix, each once, in
    revision order, from the revision it was opened at. Ends (StopAsyncIteration)
    once `close` is called, by its owner or at shutdown. Raises WatcherTooSlow
    when its reader fell further behind than the feed keeps for it. Waiting
    for the next change may be cancelled without losing one.
    """

    def __aiter__(self) -> Subscription: ...

    async def __anext__(self) -> Change: ...

    def ready(self, limit: int) -> list[Change]:
        """Up to `limit` next changes that are available now, without waiting ([]: none).

        What `__anext__` would yield next, so that a transport can send what
        piled up while it was writing in one write. Raises WatcherTooSlow as
        `__anext__` does; once closed, returns [].
        """
        ...

    def close(self) -> None:
        """End the subscription: a waiting or later `__anext__` ends the iteration."""
        ...


@runtime_checkable
class ChangeFeed(Protocol):
    """The committed changes of a store, in revision order, for watchers (a store may offer it).

    The contract, proven for every adapter by `tests/contract/test_store_watch.py`:
    every change a write or an expiry makes is published once it is visible
    to `get` (durable, for a durable store), in revision order, including
    removals by expiry (`Change.expired`); the changes of one transaction
    share its revision, one per changed key, in op order, and are published
    together. The feed keeps a bounded history of
    recent changes, so a watcher can start from a past revision; a revision
    older than that history is Compacted, carrying the oldest one kept.
    Watchers share the history: a watcher costs a cursor, not a copy of the
    changes.
    """

    async def subscribe(self, prefix: str, from_revision: int | None) -> Subscription:
        """Follow the changes of keys starting with `prefix`.

        `from_revision`: start with the change at that revision (or the first
        after it, revisions need not be dense; a future revision waits for
        it); None: only changes after the current revision. Compacted when
        changes at or after `from_revision` are no longer all kept.
        """
        ...


class StoreSnapshot(Protocol):
    """A store's live entries as of one revision, read a page at a time while writes go on.

    The contract, proven for every adapter by `tests/contract/test_store_snapshot.py`:
    the pages show exactly the entries the store held at `revision` (each at
    its own revision, at most `revision`), leaving out those expired at
    `taken_at` (the store's time when the snapshot was taken); no write made
    after `revision` shows, however long the reading takes. `count` is the
    exact number of entries the pages hold. Memory stays bounded: a page costs
    O(log n + limit), and what the store keeps for an open snapshot grows with
    the writes made while it is open, never with the number of keys.
    `StorageUnavailable` when the snapshot cannot be read (closed, the
    storage cannot be reached, or etcd compacted the revision away). The
    owner must `close` it.
    """

    @property
    def revision(self) -> int:
        """The store's revision the snapshot shows: every change up to it, none after."""
        ...

    @property
    def taken_at(self) -> float:
        """The store's time (Unix seconds) when the snapshot was taken: its entries' ttl base."""
        ...

    async def count(self) -> int:
        """How many entries the pages hold, exactly."""
        ...

    async def page(self, after: str | None, limit: int) -> Listing:
        """Up to `limit` entries with keys after `after` (None: from the first), in key order.

        `more` says whether another entry follows; `revision` is the snapshot's.
        """
        ...

    async def close(self) -> None:
        """Let go of what the store keeps for the snapshot; its pages can no longer be read."""
        ...


@runtime_checkable
class Snapshots(Protocol):
    """Snapshots of every entry at one revision (see `StoreSnapshot`): backups, moving stores."""

    async def snapshot(self) -> StoreSnapshot:
        """A snapshot at the store's current revision (every write answered so far is in it)."""
        ...
