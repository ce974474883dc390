"""What the local stores (memory, sqlite) keep in memory: keys in order, and keys by expiry.

`KeyDirectory`: every entry, packed, in key order (a `SortedMap`), so a
key or the first key of a page of a listing is found in O(log n) and the
page is read one step per key. `ExpiryIndex`: the keys that expire, in
order of their expiry, so the due ones are found without a scan.
`ExpirySweeper`: the bounded background task that removes due entries
(each removal a change at its own revision) while a store is open. Expired
entries are hidden from reads by their `expires_at` whether or not the
sweeper has removed them yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Mapping

from sortedcontainers import SortedList

from kv.adapters.packed import Packed, pack, unpack, unpack_key
from kv.adapters.snapshot_view import KeyDirectoryView
from kv.adapters.sorted_map import SortedMap
from kv.domain import Entry
from kv.domain.ttl import Clock
from kv.observability import get_logger

log = get_logger("kv.expiry")

# Removals per sweep round: a round runs on the event loop and must stay short.
EXPIRE_BATCH = 256
# The sweeper wakes at least this often (seconds) while entries may expire.
SWEEP_INTERVAL_SECONDS = 1.0
# Entries read lately kept as built (see KeyDirectory): a bound on the memory they take.
RECENT_ENTRIES = 4096


class KeyDirectory:
    """Entries in key order, keyed by key; copy-on-write views of it for snapshots.

    Each entry is held packed (`kv.adapters.packed`) in a `SortedMap`, and a
    read builds the `Entry` again. The entries of the keys read lately (at
    most RECENT_ENTRIES) are also kept as built, so a key read again and
    again is answered without building its entry each time; a write to a
    kept key keeps the entry written, a removal drops it, so what is kept
    is always what the map holds.
    """

    def __init__(self, entries: Mapping[str, Entry] | None = None) -> None:
        self._entries: SortedMap[Packed] = SortedMap(
            (key, pack(entry)) for key, entry in (entries or {}).items()
        )
        self._recent: dict[str, Entry] = {}
        # Open views: each is told of a key before it changes.
        self._views: list[KeyDirectoryView] = []

    def __len__(self) -> int:
        return len(self._entries)

    def recent(self, key: str) -> Entry | None:
        """The entry at `key` if the key was read lately (None: it was not, or has no entry).

        One dict lookup: safe to call while another thread writes.
        """
        return self._recent.get(key)

    def raw(self, key: str) -> Entry | None:
        """The entry at `key`, expired or not."""
        entry = self._recent.get(key)
        if entry is None:
            packed = self._entries.get(key)
            if packed is None:
                return None
            entry = unpack(key, packed)
            if len(self._recent) >= RECENT_ENTRIES:
                self._recent.clear()
            self._recent[key] = entry
        return entry

    def set(self, entry: Entry) -> None:
        if self._views:
            self._changing(entry.key)
        self._entries.set(entry.key, pack(entry))
        if entry.key in self._recent:
            self._recent[entry.key] = entry

    def remove(self, key: str) -> None:
        if self._views:
            self._changing(key)
        self._entries.pop(key)
        self._recent.pop(key, None)

    def view(self) -> KeyDirectoryView:
        """The entries as they are now, whatever changes later, until the view is closed."""
        view: KeyDirectoryView
        view = KeyDirectoryView(self._entries, lambda: self._views.remove(view))
        self._views.append(view)
        return view

    def _changing(self, key: str) -> None:
        for view in self._views:
            view.changing(key)

    def page(
        self, prefix: str, after: str | None, limit: int, now: float, *, keys_only: bool
    ) -> tuple[tuple[Entry, ...], bool]:
        """Up to `limit` live entries whose keys start with `prefix`, after `after`; more follow?

        Cost: O(log n) to find the first key, then one step per key of the
        page (plus any expired entries not yet removed among them).
        """
        from_prefix = after is None or after < prefix
        pairs = self._entries.items(prefix if from_prefix else after, inclusive=from_prefix)
        found: list[Entry] = []
        build = unpack_key if keys_only else unpack
        for key, packed in pairs:
            if not key.startswith(prefix):
                break
            if isinstance(packed, Entry) and packed.expired(now):  # only an Entry can expire
                continue
            if len(found) == limit:
                return tuple(found), True
            found.append(build(key, packed))
        return tuple(found), False


class ExpiryIndex:
    """The keys that expire, ordered by when."""

    def __init__(self, entries: list[Entry] | None = None) -> None:
        self._index: SortedList[tuple[float, str]] = SortedList(
            (entry.expires_at, entry.key) for entry in entries or () if entry.expires_at is not None
        )

    def __len__(self) -> int:
        return len(self._index)

    def move(self, key: str, old: float | None, new: float | None) -> None:
        """`key` expired at `old` (None: never) and now expires at `new`."""
        if old is not None:
            self._index.discard((old, key))
        if new is not None:
            self._index.add((new, key))

    def due(self, now: float, limit: int) -> list[tuple[float, str]]:
        """At most `limit` of the (expiry, key) pairs due at `now`, soonest first."""
        due: list[tuple[float, str]] = []
        for item in itertools.islice(self._index, limit):
            if item[0] > now:
                break
            due.append(item)
        return due

    def next_due(self) -> float | None:
        """When the next key expires; None when none does."""
        return self._index[0][0] if self._index else None


class ExpirySweeper:
    """Calls `expire_due(EXPIRE_BATCH)` whenever entries are due, until stopped.

    Runs only while something may expire: `ensure_running` (called after a
    write with a ttl) starts it, and it ends by itself once `next_due` says
    no key expires. It sleeps until the next expiry, at most `interval`
    seconds, so a later write that expires sooner is found in time.
    """

    def __init__(
        self,
        expire_due: Callable[[int], int],
        next_due: Callable[[], float | None],
        clock: Clock,
        interval: float = SWEEP_INTERVAL_SECONDS,
    ) -> None:
        self._expire_due = expire_due
        self._next_due = next_due
        self._clock = clock
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def ensure_running(self) -> None:
        """Start the sweeper if it is not running (and not stopped); needs a running loop."""
        if self._stopped or (self._task is not None and not self._task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: reads still hide expired entries, writes remove them
            return
        self._task = loop.create_task(self._run(), name="kv-expiry")

    async def stop(self) -> None:
        """Stop for good; returns once the task has ended."""
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            due = self._next_due()
            if due is None:
                return
            await asyncio.sleep(min(max(due - self._clock(), 0.0), self._interval))
            try:
                removed = self._expire_due(EXPIRE_BATCH)
            except Exception:  # a bug must not end expiry for good: log it and go on
                log.exception("expiring entries failed")
                removed = 0
            if removed == EXPIRE_BATCH:
                await asyncio.sleep(0)  # more are due: let requests run between rounds
            elif (
                removed == 0 and (after := self._next_due()) is not None and after <= self._clock()
            ):
                # Due entries the store would not remove (it has stopped): do not spin.
                await asyncio.sleep(self._interval)
