"""Snapshot: every live entry of the store at one revision, as the service hands it out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType

from kv.domain.model import Entry
from kv.domain.ports import StoreSnapshot
from kv.domain.ttl import seconds_left

# Entries per page read from the store: a local store reads a page under its lock.
PAGE_ENTRIES = 1000


class Snapshot:
    """The store's live entries at `revision`, `entries` of them, read page after page.

    Writes go on while it is read; none made after `revision` shows. An
    entry's `ttl_left` is counted from when the snapshot was taken, so a
    restore gives each entry the time it had left then. Use it as an async
    context manager (or `close` it): until closed, the store keeps what the
    snapshot needs.
    """

    def __init__(self, source: StoreSnapshot, entries: int) -> None:
        self._source = source
        self.entries = entries

    @property
    def revision(self) -> int:
        return self._source.revision

    def ttl_left(self, entry: Entry) -> int | None:
        """The whole seconds `entry` had left when the snapshot was taken; None: no expiry."""
        return seconds_left(entry, self._source.taken_at)

    async def pages(self, limit: int = PAGE_ENTRIES) -> AsyncIterator[tuple[Entry, ...]]:
        """The entries, in key order, a page of at most `limit` at a time."""
        after = None
        while True:
            listing = await self._source.page(after, limit)
            if listing.entries:
                yield listing.entries
                after = listing.entries[-1].key
            if not listing.more:
                return

    async def close(self) -> None:
        await self._source.close()

    async def __aenter__(self) -> Snapshot:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
