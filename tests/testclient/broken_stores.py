"""Stores broken on purpose, each in one way, to prove that the scenarios catch the breakage.

Each is served by the real KeyValueService over a real transport (see
conftest.py), so a scenario sees exactly what a client of a KV service with
that bug would see. `DictStore` is the correct base; every broken store
changes one thing of it.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from dataclasses import dataclass, replace
from typing import Any

from kv.adapters.history import ChangeHistory, HistorySubscription
from kv.domain import Change as FeedChange
from kv.domain import Entry, Listing, Outcome, SingleWrites, Transaction
from kv.domain.ttl import Clock


@dataclass(frozen=True, slots=True)
class Change:
    """What a write does to the dict: `key` gets `entry`, or is removed when it is None."""

    key: str
    entry: Entry | None
    revision: int
    expired: bool = False


class DictStore(SingleWrites):
    """A correct Store over a dict that tests can inspect; transactions complete at once.

    `transact` decides on what `get` returns and hands each change to `apply`;
    `get` and `list` show what `visible` allows (expiry); `list` pages over
    `sorted_keys`. A broken store overrides one of these (or `transact` itself).
    Expired entries are hidden, and removed (at a revision of their own) by
    the next write to their key; written for clarity, not speed. Its change
    feed is the local stores' `ChangeHistory`, told of each change `apply`
    makes (in revision order: one applied out of order is not told); a
    broken feed overrides `subscribe`.
    """

    def __init__(self, *, clock: Clock = time.time) -> None:
        self.entries: dict[str, Entry] = {}
        self.revision = 0
        self.clock = clock
        self.history = ChangeHistory()
        self.published = 0

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        self.history.close()

    async def subscribe(self, prefix: str, from_revision: int | None) -> HistorySubscription:
        return self.history.subscribe(prefix, from_revision)

    def publish(self, change: Change) -> None:
        if change.revision < self.published:
            return
        self.published = change.revision
        if change.entry is None:
            self.history.record(
                FeedChange.delete(change.key, change.revision, expired=change.expired)
            )
        else:
            self.history.record(FeedChange.put(change.entry, b""))

    def visible(self, entry: Entry) -> bool:
        return not entry.expired(self.clock())

    async def get(self, key: str) -> Entry | None:
        entry = self.entries.get(key)
        return entry if entry is not None and self.visible(entry) else None

    def sorted_keys(self, prefix: str) -> list[str]:
        return sorted(key for key in self.entries if key.startswith(prefix))

    async def list(
        self, prefix: str, *, after: str | None, limit: int, keys_only: bool = False
    ) -> Listing:
        keys = [key for key in self.sorted_keys(prefix) if after is None or key > after]
        entries = [self.entries[key] for key in keys if self.visible(self.entries[key])]
        if keys_only:
            entries = [replace(entry, value=None) for entry in entries]
        return Listing(tuple(entries[:limit]), len(entries) > limit, self.revision)

    async def transact(self, txn: Transaction) -> Outcome:
        for key in txn.keys:
            stored = self.entries.get(key)
            if stored is not None and not self.visible(stored):
                self.revision += 1
                self.apply(Change(key, None, self.revision, expired=True))
        outcome = await self.decide(txn)
        for write, written in outcome.changes():
            self.apply(Change(write.key, written.entry, written.revision))
        return outcome

    async def decide(self, txn: Transaction) -> Outcome:
        """The outcome of `txn` on what `get` returns, taking the next revision for a change."""
        current = {key: await self.get(key) for key in txn.keys}
        outcome = txn.decide(current, self.revision, self.clock())
        self.revision = outcome.revision
        return outcome

    def apply(self, change: Change) -> None:
        if change.entry is None:
            self.entries.pop(change.key, None)
        else:
            self.entries[change.key] = change.entry
        self.publish(change)

    async def check(self) -> None:
        return None


class DeleteRemovesNothing(DictStore):
    """Acknowledges deletes but never applies them."""

    def apply(self, change: Change) -> None:
        if change.entry is not None:
            super().apply(change)


class ServesDeletedValues(DictStore):
    """A read cache that writes fill and deletes never invalidate."""

    def __init__(self) -> None:
        super().__init__()
        self.cache: dict[str, Entry] = {}

    async def get(self, key: str) -> Entry | None:
        return self.entries.get(key) or self.cache.get(key)

    def apply(self, change: Change) -> None:
        super().apply(change)
        if change.entry is not None:
            self.cache[change.key] = change.entry


class DeleteRemovesNeighbours(DictStore):
    """A delete removes every key under the same parent path ("a/b" takes "a/c" with it)."""

    def apply(self, change: Change) -> None:
        super().apply(change)
        if change.entry is None:
            parent = change.key.rpartition("/")[0] + "/"
            for key in [key for key in self.entries if key.startswith(parent)]:
                del self.entries[key]


class ResurrectsDeleted(DictStore):
    """A deleted key comes back with the next write, as if that write replayed an old state."""

    def __init__(self) -> None:
        super().__init__()
        self.deleted: dict[str, Entry] = {}

    def apply(self, change: Change) -> None:
        if change.entry is None and change.key in self.entries:
            self.deleted[change.key] = self.entries[change.key]
        super().apply(change)
        if change.entry is not None:
            self.entries.update(self.deleted)
            self.deleted.clear()


class OverwriteKeepsOld(DictStore):
    """A write to an existing key is acknowledged, and the old value is kept."""

    def apply(self, change: Change) -> None:
        if change.entry is None or change.key not in self.entries:
            super().apply(change)


class ReadsOneWriteBehind(DictStore):
    """Each write becomes visible only when the next one arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.held: Change | None = None

    def apply(self, change: Change) -> None:
        if self.held is not None:
            super().apply(self.held)
        self.held = change


class ReplaceKeepsRevision(DictStore):
    """Replacing a value keeps the revision of the entry it replaces."""

    def apply(self, change: Change) -> None:
        old = self.entries.get(change.key)
        if change.entry is not None and old is not None:
            change = replace(change, entry=replace(change.entry, revision=old.revision))
        super().apply(change)


class AppliesConcurrentWritesOutOfOrder(DictStore):
    """Commits that arrive within WINDOW seconds are applied together, newest first.

    As a store that syncs concurrent writes in parallel and applies each when
    its sync completes would: in an order other than their revisions.
    Deterministic (newest first, not random) so that the test cannot pass by luck.
    """

    WINDOW = 0.05

    def __init__(self) -> None:
        super().__init__()
        self.batch: list[tuple[list[Change], asyncio.Future[None]]] = []

    async def transact(self, txn: Transaction) -> Outcome:
        outcome = await self.decide(txn)
        if not outcome.changed:
            return outcome
        loop = asyncio.get_running_loop()
        if not self.batch:
            loop.call_later(self.WINDOW, self._flush)
        future: asyncio.Future[None] = loop.create_future()
        changes = [
            Change(w.key, written.entry, written.revision) for w, written in outcome.changes()
        ]
        self.batch.append((changes, future))
        await future
        return outcome

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        for changes, future in reversed(batch):
            for change in changes:
                self.apply(change)
            future.set_result(None)


class DropsNullMembers(DictStore):
    """Object members whose value is null are not stored (like a serializer's `omitempty`)."""

    def apply(self, change: Change) -> None:
        if change.entry is not None:
            entry = replace(change.entry, value=_without_nulls(change.entry.value))
            change = replace(change, entry=entry)
        super().apply(change)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _without_nulls(v) for name, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


class TruncatesKeys(DictStore):
    """Keys are cut to their first 255 characters (a VARCHAR(255) column): long keys collide."""

    LENGTH = 255

    async def get(self, key: str) -> Entry | None:
        return self.entries.get(key[: self.LENGTH])

    def apply(self, change: Change) -> None:
        super().apply(replace(change, key=change.key[: self.LENGTH]))


class MatchesKeyPrefixes(DictStore):
    """A read of a missing key returns the first key it is a prefix of (an unbounded range scan)."""

    async def get(self, key: str) -> Entry | None:
        if key in self.entries:
            return self.entries[key]
        return next((self.entries[k] for k in sorted(self.entries) if k.startswith(key)), None)


class SkipsKeyAfterPageBoundary(DictStore):
    """A page after the first starts one key too late (an off-by-one on the cursor's key)."""

    async def list(
        self, prefix: str, *, after: str | None, limit: int, keys_only: bool = False
    ) -> Listing:
        listing = await super().list(prefix, after=after, limit=limit + 2, keys_only=keys_only)
        entries = listing.entries if after is None else listing.entries[1:]
        return Listing(entries[:limit], len(entries) > limit, listing.revision)


class RepeatsKeyAtPageBoundary(DictStore):
    """A page after the first starts at the cursor's key itself (>= where > was meant)."""

    async def list(
        self, prefix: str, *, after: str | None, limit: int, keys_only: bool = False
    ) -> Listing:
        if after is not None and after in self.entries:
            # The greatest key below `after` stands in for it: the page then starts at `after`.
            below = [key for key in self.sorted_keys(prefix) if key < after]
            after = below[-1] if below else None
        return await super().list(prefix, after=after, limit=limit, keys_only=keys_only)


class ScansPastThePrefix(DictStore):
    """A listing starts at the prefix but does not stop at its end (a range scan with no
    upper bound): keys that sort after the prefix's range are listed too."""

    def sorted_keys(self, prefix: str) -> list[str]:
        return sorted(key for key in self.entries if key >= prefix)


class SortsByUtf16(DictStore):
    """Keys are ordered by UTF-16 code units (as JavaScript and Java compare strings), not by
    UTF-8 bytes: a key with a character beyond U+FFFF sorts before one with U+E000..U+FFFF."""

    def sorted_keys(self, prefix: str) -> list[str]:
        keys = [key for key in self.entries if key.startswith(prefix)]
        return sorted(keys, key=lambda key: key.encode("utf-16-be"))

    async def list(
        self, prefix: str, *, after: str | None, limit: int, keys_only: bool = False
    ) -> Listing:
        keys = self.sorted_keys(prefix)
        if after is not None:
            keys = keys[keys.index(after) + 1 :] if after in keys else keys
        entries = [self.entries[key] for key in keys if self.visible(self.entries[key])]
        return Listing(tuple(entries[:limit]), len(entries) > limit, self.revision)


class ServesExpiredEntries(DictStore):
    """Entries never expire: a ttl is stored and reported, and never acted on."""

    def visible(self, entry: Entry) -> bool:
        return True


class ListsExpiredEntries(DictStore):
    """Reads hide expired entries, and listings still show them (expiry checked in `get` only)."""

    async def list(
        self, prefix: str, *, after: str | None, limit: int, keys_only: bool = False
    ) -> Listing:
        keys = [key for key in self.sorted_keys(prefix) if after is None or key > after]
        entries = [self.entries[key] for key in keys]
        return Listing(tuple(entries[:limit]), len(entries) > limit, self.revision)


class KeepsTtlAfterPlainWrite(DictStore):
    """A write without a ttl keeps the expiry of the entry it replaces (the answer says none)."""

    def apply(self, change: Change) -> None:
        old = self.entries.get(change.key)
        if change.entry is not None and change.entry.expires_at is None and old is not None:
            change = replace(change, entry=replace(change.entry, expires_at=old.expires_at))
        super().apply(change)


class ExpiryTakesNoRevision(DictStore):
    """An expired entry is dropped without a change of its own: no revision marks its removal."""

    async def transact(self, txn: Transaction) -> Outcome:
        for key in txn.keys:
            stored = self.entries.get(key)
            if stored is not None and not self.visible(stored):
                del self.entries[key]
        return await super().transact(txn)


class PagesByPositionInAStaleIndex(DictStore):
    """A later page starts at the cursor key's position in the key order of the listing's first
    page, applied to the key order of now: correct while nothing is written, and a key is
    skipped or repeated for every key created or deleted before the cursor meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.first_page_order: dict[str, list[str]] = {}

    async def list(
        self, prefix: str, *, after: str | None, limit: int, keys_only: bool = False
    ) -> Listing:
        keys = self.sorted_keys(prefix)
        if after is None:
            self.first_page_order[prefix] = keys
            start = 0
        else:
            start = bisect.bisect_right(self.first_page_order.get(prefix, keys), after)
        entries = [self.entries[key] for key in keys[start:] if self.visible(self.entries[key])]
        return Listing(tuple(entries[:limit]), len(entries) > limit, self.revision)


class WatchDropsEvents(DictStore):
    """The change feed loses every change whose revision is a multiple of 4 (as a feed fed by a
    fire-and-forget notification would, when one is lost)."""

    def publish(self, change: Change) -> None:
        if change.revision % 4:
            super().publish(change)


class ReorderedSubscription:
    """Hands out the changes of `inner` in swapped pairs: the second of each pair first."""

    def __init__(self, inner: HistorySubscription) -> None:
        self.inner = inner
        self.held: list[FeedChange] = []

    def __aiter__(self) -> ReorderedSubscription:
        return self

    async def __anext__(self) -> FeedChange:
        if self.held:
            return self.held.pop()
        first = await anext(self.inner)
        self.held.append(first)
        return await anext(self.inner)

    def ready(self, limit: int) -> list[FeedChange]:
        return []

    def close(self) -> None:
        self.inner.close()


class WatchReordersEvents(DictStore):
    """Changes reach a watcher in swapped pairs: out of revision order."""

    async def subscribe(self, prefix: str, from_revision: int | None) -> ReorderedSubscription:
        return ReorderedSubscription(await super().subscribe(prefix, from_revision))


class WatchResumeRepeats(DictStore):
    """A watch from revision R starts at R - 1: a resume after R - 1 repeats it (>= for >)."""

    async def subscribe(self, prefix: str, from_revision: int | None) -> HistorySubscription:
        start = None if from_revision is None else max(1, from_revision - 1)
        return await super().subscribe(prefix, start)


class WatchResumeSkips(DictStore):
    """A watch from revision R starts after R: a resume skips the first change it should give."""

    async def subscribe(self, prefix: str, from_revision: int | None) -> HistorySubscription:
        start = None if from_revision is None else from_revision + 1
        return await super().subscribe(prefix, start)


class ReadsFromLaggingCopy(DictStore):
    """Every other read is served from a copy that applies each change LAG seconds late
    (a replica behind a load balancer, read without a quorum)."""

    # Far longer than a call takes even on a loaded machine, so that a stale answer falls
    # after the write it misses completed, where no order can explain it.
    LAG = 0.3

    def __init__(self) -> None:
        super().__init__()
        self.copy: dict[str, Entry] = {}
        self.reads = 0

    async def get(self, key: str) -> Entry | None:
        self.reads += 1
        return (self.copy if self.reads % 2 else self.entries).get(key)

    def apply(self, change: Change) -> None:
        super().apply(change)
        asyncio.get_running_loop().call_later(self.LAG, self._copy, change)

    def _copy(self, change: Change) -> None:
        if change.entry is None:
            self.copy.pop(change.key, None)
        else:
            self.copy[change.key] = change.entry


class AcknowledgesBeforeApplying(DictStore):
    """A write is answered at once, and its change becomes visible LAG seconds later."""

    # Far longer than a call takes even on a loaded machine, so that a stale answer falls
    # after the write it misses completed, where no order can explain it.
    LAG = 0.3

    def apply(self, change: Change) -> None:
        asyncio.get_running_loop().call_later(self.LAG, super().apply, change)


class AppliesTransactionWritesOneByOne(DictStore):
    """A transaction's writes are applied one at a time, each at a revision of its own, with
    other requests served in between (as a store that turned a transaction into single writes)."""

    async def transact(self, txn: Transaction) -> Outcome:
        outcome = await self.decide(txn)
        self.revision = outcome.revision - 1 if outcome.changed else self.revision
        for write, written in outcome.changes():
            self.revision += 1
            entry = written.entry
            if entry is not None:
                entry = replace(entry, revision=self.revision)
            self.apply(Change(write.key, entry, self.revision))
            await asyncio.sleep(0.001)
        return outcome


class IgnoresCompares(DictStore):
    """Every transaction runs its success branch, whatever its compares say."""

    async def decide(self, txn: Transaction) -> Outcome:
        return await super().decide(replace(txn, compare=()))
