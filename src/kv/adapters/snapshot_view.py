"""Snapshots of the local stores (memory, sqlite): a copy-on-write view of the key directory.

`KeyDirectoryView`: the key directory as it was when the view was opened.
Nothing is copied when it opens; from then on, the first change to each key
keeps the entry the key had before (None: it had none) in the view, so a
page reads the live directory where a key is unchanged and the kept entry
where it changed. What a view keeps grows with the keys written while it is
open, never with the number of keys, and what it keeps is what the
directory held (packed, immutable), not a copy.

`LocalSnapshot`: a `kv.domain.ports.StoreSnapshot` over such a view.

For sqlite this stands in for a read transaction on a second connection:
the store holds its file with `locking_mode=EXCLUSIVE` (no second connection
may read it), and its key directory is exactly what is durable, so a view
of the directory is the database at one revision, read without touching
the disk.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from contextlib import AbstractContextManager

from kv.adapters.packed import Packed, unpack
from kv.adapters.sorted_map import SortedMap
from kv.domain import Entry, StorageUnavailable
from kv.domain.model import Listing

# Entries per page of the count pass: one page is read under the store's lock, without a pause.
COUNT_PAGE = 4096


class KeyDirectoryView:
    """The entries of a key directory as of the moment the view was opened."""

    def __init__(self, live: SortedMap[Packed], on_close: Callable[[], None]) -> None:
        self._live = live
        # The entries (None: no entry) that changed keys had when the view opened.
        self._kept: SortedMap[Packed | None] = SortedMap()
        self._on_close = on_close

    def __len__(self) -> int:
        """The keys kept because they changed since the view opened."""
        return len(self._kept)

    def changing(self, key: str) -> None:
        """`key` is about to change in the live directory: keep what it is now, the first time."""
        if key not in self._kept:
            self._kept.set(key, self._live.get(key))

    def page(self, after: str | None, limit: int, now: float) -> tuple[tuple[Entry, ...], bool]:
        """Up to `limit` entries after `after` not expired at `now`, in key order; more follow?

        The kept keys and the live keys are merged in order, each key once
        (kept first, so a key in both is read as kept).
        """
        found: list[Entry] = []
        previous = None
        pairs = heapq.merge(
            self._kept.items(after, inclusive=False),
            self._live.items(after, inclusive=False),
            key=lambda pair: pair[0],
        )
        for key, packed in pairs:
            if key == previous:
                continue
            previous = key
            if packed is None:
                continue
            entry = unpack(key, packed)
            if entry.expired(now):
                continue
            if len(found) == limit:
                return tuple(found), True
            found.append(entry)
        return tuple(found), False

    def close(self) -> None:
        """Stop following the live directory and drop what was kept."""
        self._on_close()
        self._kept = SortedMap()


class LocalSnapshot:
    """A `StoreSnapshot` of a local store: its key directory's view, read under the store's lock.

    `revision` and `taken_at` are the store's visible revision and time when
    the view opened; `lock` is the store's (held while a page is read).
    """

    def __init__(
        self,
        view: KeyDirectoryView,
        revision: int,
        taken_at: float,
        lock: AbstractContextManager[object],
    ) -> None:
        self._view = view
        self._revision = revision
        self._taken_at = taken_at
        self._lock = lock
        self._count: int | None = None
        self._closed = False

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def taken_at(self) -> float:
        return self._taken_at

    async def count(self) -> int:
        """Counted once, a page at a time, letting other work run between pages."""
        if self._count is None:
            count, after, more = 0, None, True
            while more:
                listing = await self.page(after, COUNT_PAGE)
                count += len(listing.entries)
                more = listing.more
                after = listing.entries[-1].key if listing.entries else None
                await asyncio.sleep(0)
            self._count = count
        return self._count

    async def page(self, after: str | None, limit: int) -> Listing:
        if self._closed:
            raise StorageUnavailable("the snapshot is closed")
        with self._lock:
            entries, more = self._view.page(after, limit, self._taken_at)
        return Listing(entries, more, self._revision)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            with self._lock:
                self._view.close()
