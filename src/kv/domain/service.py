"""KeyValueService: every KV operation and its validation, over any `Store`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kv.domain.changes import Change, validate_from_revision
from kv.domain.cursors import (
    DEFAULT_LIMIT,
    make_cursor,
    page_length,
    read_cursor,
    validate_limit,
    validate_prefix,
)
from kv.domain.errors import KeyNotFound, PreconditionFailed, StorageUnavailable
from kv.domain.model import (
    DEFAULT_MAX_VALUE_BYTES,
    Condition,
    Entry,
    JsonValue,
    Page,
    check_nesting,
    check_value_size,
    encode_value,
    validate_key,
)
from kv.domain.ports import ChangeFeed, Snapshots, Store, Subscription
from kv.domain.snapshots import Snapshot
from kv.domain.transactions import Outcome
from kv.domain.ttl import Clock, seconds_left, validate_ttl
from kv.domain.txn_requests import read_transaction
from kv.domain.watches import DEFAULT_MAX_WATCHES, OpenWatches
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

    def __init__(
        self,
        store: Store,
        *,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        clock: Clock = time.time,
        max_watches: int = DEFAULT_MAX_WATCHES,
    ) -> None:
        """`clock`: the time in Unix seconds, for `ttl_left` (the store has its own for expiry).

        `max_watches`: watches open at once, over every transport; one more is TooManyWatches.
        """
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
        self,
        key: str,
        value: JsonValue,
        condition: Condition | None = None,
        *,
        ttl: int | None = None,
    ) -> PutResult:
        """Store `value` at `key`, creating or replacing it.

        With `ttl` (whole seconds, 1 to 31,536,000) the entry expires that
        long after the write; without, it never expires (any expiry it had is
        cleared). A put of the value already stored (same compact JSON), with
        no ttl on either side, changes nothing and returns the entry with its
        revision unchanged; a put with a ttl always sets a new expiry, a
        change with a new revision. With a condition, PreconditionFailed when
        the current entry does not satisfy it. StorageUnavailable: not
        applied; OutcomeUnknown: maybe applied.
        """
        write = Write.put(
            validate_key(key), value, self._encode(value), condition, ttl=validate_ttl(ttl)
        )
        _check_possible(condition)
        written = await self._store.write(write)
        assert written.entry is not None
        return PutResult(written.entry, created=written.previous is None)

    async def create(
        self,
        key: str,
        value: JsonValue,
        *,
        ttl: int | None = None,
        condition: Condition | None = None,
    ) -> Entry:
        """Store `value` at `key` only if there is no entry there; KeyExists otherwise.

        `ttl` as for `put`. `condition`: what the client also asked of the
        entry (HTTP's If-Match on POST): one that needs an entry can never
        hold for a create, PreconditionFailed.
        """
        write = Write.create(validate_key(key), value, self._encode(value), ttl=validate_ttl(ttl))
        if condition is not None and condition.must_exist:
            raise PreconditionFailed("create only: the key must be absent, so it cannot also exist")
        written = await self._store.write(write)
        assert written.entry is not None
        return written.entry

    async def delete(self, key: str, condition: Condition | None = None) -> Entry:
        """Remove `key` and return the entry it had; KeyNotFound when there is none.

        With a condition, PreconditionFailed when the current entry does not
        satisfy it.
        """
        write = Write.delete(validate_key(key), condition)
        _check_possible(condition)
        written = await self._store.write(write)
        assert written.previous is not None
        return written.previous

    async def txn(self, request: object) -> Outcome:
        """Carry out a transaction atomically: compares, then the `success` or `failure` ops.

        `request` is the transaction as clients send it (`kv.domain.txn_requests`
        describes the shape and its limits: InvalidRequest, ValueTooLarge). If
        every compare holds on the current entries, `success` runs, otherwise
        `failure`, each op in order (a get sees the writes before it in its
        branch). Every change takes the same new revision (`Outcome.revision`),
        and readers, listings and watchers see all of them or none; a
        transaction that changes nothing takes no revision. A put of the value
        stored (no ttl on either side) changes nothing, as `put` does; a delete
        of nothing answers `deleted: false`. StorageUnavailable: not applied;
        OutcomeUnknown: maybe applied.
        """
        return await self._store.transact(read_transaction(request, self._max_value_bytes))

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

    def _encode(self, value: JsonValue) -> bytes:
        """The compact JSON of a value a client sent, once it passed every value rule.

        Nesting is checked first: the encoder recurses, and must never see
        a value deeper than the limit.
        """
        check_nesting(value)
        encoded = encode_value(value)
        check_value_size(encoded, self._max_value_bytes)
        return encoded


def _check_possible(condition: Condition | None) -> None:
    """PreconditionFailed for a condition no entry can meet, before any store sees it."""
    if condition is not None and condition.unmet is not None:
        raise PreconditionFailed(condition.unmet)
