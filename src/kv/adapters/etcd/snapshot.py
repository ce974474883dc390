"""EtcdSnapshot: the entries under the store's prefix at one etcd revision, read in pages.

etcd keeps every revision until it is compacted, so a snapshot is nothing but
its revision: each page is a Range at that revision, whatever was written
since. A snapshot read past the moment etcd compacts its revision fails
(StorageUnavailable); etcd does not compact unless told to (an operator's
`etcdctl compact`, or `--auto-compaction-*`), and then keeps at least the
retention it was given.

A page of whole values has no size etcd can be asked for, and an answer over
the channel's message limit is refused, so the number of keys asked per Range
follows the sizes of the entries read so far (about PAGE_BYTES per answer),
and halves when an answer is still too large.
"""

from __future__ import annotations

import asyncio

from kv.adapters.etcd.client import EtcdClient
from kv.adapters.etcd.values import Keyspace, is_delete_marker, prefix_end
from kv.domain import Entry, StorageUnavailable
from kv.domain.model import Listing
from kv.etcdpb import kv_pb2, rpc_pb2

# What one Range of a page aims to carry, in bytes of keys and values.
PAGE_BYTES = 1024 * 1024
# Keys asked for by the first Range of a snapshot, before any size is known.
FIRST_BATCH = 16
# Keys asked for by one Range at most (also the pages of the count, which read no values).
MAX_BATCH = 1000
# Reads of leased keys' values at once while counting (their expiry is in the value).
LEASED_READS = 64


class EtcdSnapshot:
    """A `StoreSnapshot` of the keys under `keys.prefix` at etcd revision `revision`."""

    def __init__(self, client: EtcdClient, keys: Keyspace, revision: int, taken_at: float) -> None:
        self._client = client
        self._keys = keys
        self._revision = revision
        self._taken_at = taken_at
        self._end = prefix_end(keys.prefix)
        self._batch = FIRST_BATCH
        self._count: int | None = None
        self._closed = False

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def taken_at(self) -> float:
        return self._taken_at

    async def count(self) -> int:
        """Counted once, from pages of keys only; a leased key's value is read for its expiry."""
        if self._count is None:
            count, start, more = 0, self._keys.prefix, True
            while more:
                kvs, more = await self._read(start, MAX_BATCH, keys_only=True)
                leased = []
                for kv in kvs:
                    if is_delete_marker(kv.key):
                        continue
                    if kv.lease:
                        leased.append(kv.key)
                    else:
                        count += 1
                count += await self._live_count(leased)
                if kvs:
                    start = kvs[-1].key + b"\x00"
            self._count = count
        return self._count

    async def page(self, after: str | None, limit: int) -> Listing:
        start = self._keys.prefix if after is None else self._keys.key(after) + b"\x00"
        entries: list[Entry] = []
        while True:
            # One more than the page: is there more?
            wanted = min(limit + 1 - len(entries), self._batch)
            kvs, more = await self._read(start, wanted, keys_only=False)
            entries += [entry for entry in map(self._live, kvs) if entry is not None]
            if len(entries) > limit or not more:
                return Listing(tuple(entries[:limit]), len(entries) > limit, self._revision)
            start = kvs[-1].key + b"\x00"

    async def close(self) -> None:
        self._closed = True

    def _live(self, kv: kv_pb2.KeyValue) -> Entry | None:
        if is_delete_marker(kv.key):
            return None
        entry = self._keys.entry(kv)
        return None if entry.expired(self._taken_at) else entry

    async def _live_count(self, leased: list[bytes]) -> int:
        """How many of `leased` (keys at the snapshot's revision) had not expired at `taken_at`."""
        live = 0
        for first in range(0, len(leased), LEASED_READS):
            answers = await asyncio.gather(
                *(
                    self._client.range(rpc_pb2.RangeRequest(key=key, revision=self._revision))
                    for key in leased[first : first + LEASED_READS]
                )
            )
            live += sum(
                1 for answer in answers if answer.kvs and self._live(answer.kvs[0]) is not None
            )
        return live

    async def _read(
        self, start: bytes, limit: int, *, keys_only: bool
    ) -> tuple[list[kv_pb2.KeyValue], bool]:
        """At most `limit` (at least 1) etcd key-values from `start` at the snapshot's revision."""
        if self._closed:
            raise StorageUnavailable("the snapshot is closed")
        while True:
            request = rpc_pb2.RangeRequest(
                key=start,
                range_end=self._end,
                limit=limit,
                revision=self._revision,
                keys_only=keys_only,
            )
            response = await self._client.range_within_limit(request)
            if response is not None:
                break
            if limit == 1:
                raise StorageUnavailable("one etcd entry is larger than an answer may be")
            limit = self._batch = max(1, limit // 2)
        kvs = list(response.kvs)
        if kvs and not keys_only:
            size = sum(len(kv.key) + len(kv.value) for kv in kvs)
            self._batch = max(1, min(MAX_BATCH, PAGE_BYTES * len(kvs) // max(size, 1)))
        return kvs, response.more
