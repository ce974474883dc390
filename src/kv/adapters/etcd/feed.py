"""EtcdChangeFeed: the etcd store's change feed, one shared etcd watch per kv-server replica.

One etcd Watch stream over the whole keyspace (an `EtcdSubscription` of
every key, started at the first watch) feeds a `ChangeHistory`, the ring the
local stores use: a watcher of recent changes is a cursor in it, so a
thousand watchers cost one etcd stream, one decoding of each event and one
encoding of each frame, not a thousand (docs/etcd.md, "Watch"). The ring
holds the changes since the feed started, bounded like the local stores'
(KV_WATCH_HISTORY_EVENTS, KV_WATCH_HISTORY_BYTES); a watcher too slow for it
is cut off (WatcherTooSlow).

A watch from a revision older than the ring keeps (a replay, or a resume
after a replica restarted) gets an etcd stream of its own from that
revision: etcd's history, until etcd compacts it, is the store's history.

Should the shared stream fall behind etcd's compaction (an outage longer
than etcd keeps revisions), the ring cannot go on: its watchers end, and
the next watch starts a new feed.
"""

from __future__ import annotations

import asyncio

from kv.adapters.etcd.client import RETRY_BUDGET, EtcdClient
from kv.adapters.etcd.values import Keyspace
from kv.adapters.etcd.watch import EtcdSubscription
from kv.adapters.history import ChangeHistory, HistoryLimits
from kv.domain import Compacted, Subscription, WatcherTooSlow
from kv.etcdpb import rpc_pb2
from kv.observability import get_logger

log = get_logger("kv.etcd")

# The most changes the pump takes off the shared stream at once before it lets watchers run.
_BATCH = 1000


class EtcdChangeFeed:
    """Watchers of one etcd store object: a shared ring for recent changes, streams for older."""

    def __init__(
        self, client: EtcdClient, keys: Keyspace, limits: HistoryLimits, *, timeout: float
    ) -> None:
        self._client = client
        self._keys = keys
        self._limits = limits
        self._wait = timeout * RETRY_BUDGET
        self._history: ChangeHistory | None = None
        self._shared: EtcdSubscription | None = None
        self._pump: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._own: set[EtcdSubscription] = set()

    async def subscribe(self, prefix: str, from_revision: int | None) -> Subscription:
        """See `ChangeFeed.subscribe`.

        Without `from_revision`, the watch starts after the revision of a
        linearizable read: every change acknowledged before this call, by any
        replica, is left out, every later one is in.
        """
        history = await self._ring()  # first: a start read after it is within the ring
        start = await self._revision() + 1 if from_revision is None else from_revision
        try:
            return history.subscribe(prefix, start)
        except Compacted:
            pass  # older than the ring: from etcd's own history
        return await self._stream(prefix, start, from_revision)

    async def _revision(self) -> int:
        """The store's revision now, by a linearizable read."""
        response = await self._client.range(
            rpc_pb2.RangeRequest(key=self._keys.prefix, limit=1, count_only=True)
        )
        return response.header.revision

    async def _ring(self) -> ChangeHistory:
        """The shared ring, its etcd stream started first if none runs."""
        async with self._starting:
            if self._history is None or self._history.closed:
                revision = await self._revision()
                shared = self._subscription("", revision + 1)
                try:
                    await shared.start(None, self._wait)
                except BaseException:
                    shared.close()
                    raise
                history = ChangeHistory(self._limits, revision=revision)
                self._history, self._shared = history, shared
                self._pump = asyncio.create_task(self._feed(shared, history))
            return self._history

    async def _feed(self, shared: EtcdSubscription, history: ChangeHistory) -> None:
        """Record every change of the shared stream, until it closes or falls behind etcd."""
        last = 0
        try:
            async for change in shared:
                # A transaction's changes share a revision and come together (ready finishes
                # a revision it started).
                for taken in (change, *shared.ready(_BATCH - 1)):
                    if taken.revision < last:
                        log.error("change not recorded", key=taken.key, revision=last)
                        continue
                    last = taken.revision
                    history.record(taken)
        except WatcherTooSlow as exc:
            log.warning("the shared etcd watch fell behind etcd's compaction", reason=str(exc))
        except Exception:  # a key under the prefix that is not kv's; the next watch starts over
            log.exception("the shared etcd watch failed; its watchers end")
        finally:
            history.close()

    async def _stream(self, prefix: str, start: int, from_revision: int | None) -> Subscription:
        """A watcher with an etcd stream of its own (Compacted if etcd compacted `start`)."""
        if from_revision is None:
            compacted = None
        else:
            # Every change from `start` on is kept iff a read just before it works
            # (kv.adapters.etcd.watch, "Compaction").
            compacted_before = await self._client.compacted(self._keys.prefix, max(start - 1, 1))
            compacted = start if compacted_before else None
        subscription = self._subscription(prefix, start)
        self._own.add(subscription)
        try:
            await subscription.start(compacted, self._wait)
        except BaseException:
            subscription.close()
            raise
        return subscription

    def _subscription(self, prefix: str, start: int) -> EtcdSubscription:
        return EtcdSubscription(self._client, self._keys, prefix, start, self._own.discard)

    async def close(self) -> None:
        """End every watcher and the shared stream; returns once their reads have ended."""
        streams = list(self._own)
        if self._shared is not None:
            streams.append(self._shared)
        for stream in streams:
            stream.close()
        if self._history is not None:
            self._history.close()
        await asyncio.gather(*(stream.wait_closed() for stream in streams))
        if self._pump is not None:
            await self._pump
