"""Stores broken on purpose, each in one way, to prove that the scenarios catch the breakage.

Each is served by the real KeyValueService over a real transport (see
conftest.py), so a scenario sees exactly what a client of a KV service with
that bug would see. `DictStore` is the correct base; every broken store
changes one thing of it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Any

from kv.domain import Decision, Entry, Listing, Write, Written
from kv.domain.ttl import Clock


@dataclass(frozen=True, slots=True)
class Change:
    """What a write does to the dict: `key` gets `entry`, or is removed when it is None."""

    key: str
    entry: Entry | None
    revision: int


class DictStore:
    """A correct Store over a dict that tests can inspect; writes complete at once.

    `write` decides on what `get` returns and hands the change to `apply`;
    `get` and `list` show what `visible` allows (expiry); `list` pages over
    `sorted_keys`. A broken store overrides one of these (or `write` itself).
    Expired entries are hidden, and removed (at a revision of their own) by
    the next write to their key; written for clarity, not speed.
    """

    def __init__(self, *, clock: Clock = time.time) -> None:
        self.entries: dict[str, Entry] = {}
        self.revision = 0
        self.clock = clock

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

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

    async def write(self, write: Write) -> Written:
        stored = self.entries.get(write.key)
        if stored is not None and not self.visible(stored):
            self.revision += 1
            self.apply(Change(write.key, None, self.revision))
        written = self.decide(write, await self.get(write.key))
        if written.decision is not Decision.UNCHANGED:
            self.apply(Change(write.key, written.entry, written.revision))
        return written

    def decide(self, write: Write, current: Entry | None) -> Written:
        """The answer to `write` on `current`, taking the next revision for a change."""
        decision = write.decide(current)
        if decision is not Decision.UNCHANGED:
            self.revision += 1
        return Written.apply(write, current, decision, self.revision, self.clock())

    def apply(self, change: Change) -> None:
        if change.entry is None:
            self.entries.pop(change.key, None)
        else:
            self.entries[change.key] = change.entry

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
        self.batch: list[tuple[Change, asyncio.Future[None]]] = []

    async def write(self, write: Write) -> Written:
        written = self.decide(write, await self.get(write.key))
        if written.decision is Decision.UNCHANGED:
            return written
        loop = asyncio.get_running_loop()
        if not self.batch:
            loop.call_later(self.WINDOW, self._flush)
        future: asyncio.Future[None] = loop.create_future()
        self.batch.append((Change(write.key, written.entry, written.revision), future))
        await future
        return written

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        for change, future in reversed(batch):
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
