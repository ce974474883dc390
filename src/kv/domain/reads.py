"""KeyValueReads: the read side of the KV service (get, list, watch, snapshot, ttl).

`kv.domain.service.KeyValueService` builds on it with the writes; these
operations change nothing in the store.
"""

from __future__ import annotations

import time

from kv.domain.access import Access, Guard
from kv.domain.changes import Change, validate_from_revision
from kv.domain.cursors import (
    DEFAULT_LIMIT,
    make_cursor,
    page_length,
    read_cursor,
    validate_limit,
    validate_prefix,
)
from kv.domain.errors import KeyNotFound, StorageUnavailable
from kv.domain.model import DEFAULT_MAX_VALUE_BYTES, Entry, Page, validate_key
from kv.domain.ports import ChangeFeed, Snapshots, Store, Subscription
from kv.domain.snapshots import Snapshot
from kv.domain.ttl import Clock, seconds_left
from kv.domain.watches import DEFAULT_MAX_WATCHES, OpenWatches


class KeyValueReads:
    """The read operations over any `Store`, each asking the guard first."""

    def __init__(
        self,
        store: Store,
        *,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        clock: Clock = time.time,
        max_watches: int = DEFAULT_MAX_WATCHES,
        guard: Guard | None = None,
    ) -> None:
        """The parameters as for `KeyValueService` (domain/write_plans.py says what each is)."""
        self.guard = guard if guard is not None else Guard()
        self._store = store
        self._max_value_bytes = max_value_bytes
        self._clock = clock
        # The store's change feed, when it has one (watch).
        self._feed = store if isinstance(store, ChangeFeed) else None
        self._snapshots = store if isinstance(store, Snapshots) else None
        self._watches = OpenWatches(max_watches)

    @property
    def max_value_bytes(self) -> int:
        return self._max_value_bytes

    async def get(self, key: str) -> Entry:
        """Return the entry at `key`; KeyNotFound when there is none."""
        key = validate_key(key)
        self.guard.require(Access.READ, key)
        entry = await self._store.get(key)
        if entry is None:
            raise KeyNotFound(f"no such key: {key!r}")
        return entry

    async def list(
        self,
        prefix: str = "",
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        keys_only: bool = False,
    ) -> Page:
        """A page of the entries whose keys start with `prefix`, in key order (UTF-8 byte order).

        `limit`: at most this many entries (1 to 1000), and no more than fit in
        `max_value_bytes` (`page_length`: a page of large values holds fewer,
        with a `next_cursor` to go on; at least one). `cursor`: the
        `next_cursor` of the previous page (None or "": the first page); a cursor
        that is malformed or was made for another prefix is InvalidRequest.
        A key that exists and is not written while the pages are read is on
        exactly one of them; `next_cursor` is None on the last page. With
        `keys_only`, entries carry no value (None). Expired entries are never
        listed. `revision`: the store's revision the page was read at.
        """
        prefix = validate_prefix(prefix)
        self.guard.require(Access.READ, prefix)
        limit = validate_limit(limit)
        after = read_cursor(cursor, prefix) if cursor else None  # "": the first page
        listing = await self._store.list(prefix, after=after, limit=limit, keys_only=keys_only)
        entries = listing.entries[: page_length(listing.entries, self._max_value_bytes)]
        next_cursor = None
        if entries and (listing.more or len(entries) < len(listing.entries)):
            next_cursor = make_cursor(prefix, entries[-1].key)
        return Page(entries, next_cursor, listing.revision)

    def page_head(self, page: Page, prefix: str, count: int) -> Page:
        """The first `count` entries of `page`, a page of `prefix`, with the cursor after them.

        For a transport whose message cannot hold the whole page: the listing
        goes on from the last entry it sends.
        """
        if count >= len(page.entries):
            return page
        entries = page.entries[:count]
        return Page(entries, make_cursor(prefix, entries[-1].key), page.revision)

    async def watch(self, prefix: str = "", from_revision: int | None = None) -> Subscription:
        """Follow every change of the keys starting with `prefix`, in revision order.

        The subscription yields each change (a put, a delete, an expiry) once,
        in revision order: from the change at `from_revision` (or the first
        after it), or, with None, from the first change after now. Compacted
        (carrying the oldest revision kept) when the store no longer keeps
        the changes from `from_revision` on; InvalidRequest for a bad prefix
        or revision (a positive whole number); StorageUnavailable when the
        store has no change feed or the service is shutting down;
        TooManyWatches when `max_watches` are open (nothing was done). The
        subscription raises WatcherTooSlow when its reader falls too far
        behind, and ends at `end_watches`. Its owner must `close` it when
        done with it: until then it holds one of the `max_watches` places.
        """
        prefix = validate_prefix(prefix)
        self.guard.require(Access.READ, prefix)
        from_revision = validate_from_revision(from_revision)
        if self._feed is None:
            raise StorageUnavailable(f"{type(self._store).__name__} has no change feed")
        feed = self._feed
        return await self._watches.open(lambda: feed.subscribe(prefix, from_revision))

    async def snapshot(self) -> Snapshot:
        """Every live entry at the store's current revision, read while writes go on.

        The entries are counted first (`Snapshot.entries`), then read page
        after page (`Snapshot.pages`); no write made after the snapshot's
        revision shows in it. StorageUnavailable when the store cannot take
        one. The caller must close it (or use it in `async with`).
        """
        self.guard.require(Access.READ, "")  # it shows every key: a rule covering them all
        if self._snapshots is None:
            raise StorageUnavailable(f"{type(self._store).__name__} takes no snapshots")
        source = await self._snapshots.snapshot()
        try:
            entries = await source.count()
        except BaseException:
            await source.close()
            raise
        return Snapshot(source, entries)

    @property
    def watch_count(self) -> int:
        """The watches open now."""
        return len(self._watches)

    def end_watches(self) -> None:
        """End every watch, now and from now on (shutdown: streams end before transports drain)."""
        self._watches.end_all()

    def ttl_left(self, entry: Entry) -> int | None:
        """The whole seconds `entry` has left before it expires, rounded up; None: no expiry."""
        return seconds_left(entry, self._clock())

    def event_ttl(self, change: Change) -> int | None:
        """The `ttl` a watch event of `change` carries, as it is sent; None: it carries none.

        The seconds the change's entry has left, rounded up, while it has any.
        A change replayed after its entry expired carries none, rather than
        0: its expiry is a change of its own, which follows (a delete with
        `expired`). So a put's event says, as etcd's says of its lease, how
        long the entry lives from now, and never that a dead one is alive.
        """
        entry = change.entry
        if entry is None or entry.expires_at is None:
            return None
        now = self._clock()
        return None if entry.expired(now) else seconds_left(entry, now)
