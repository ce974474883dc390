"""EtcdSubscription: one watcher of the etcd store, over an etcd Watch stream of its own.

etcd keeps the history (until it is compacted) and every watcher's place in
it; a subscription only asks for the next answer when its reader wants more.
So a slow reader costs the stream's HTTP/2 window and at most two answers
here (the one being read and the one read ahead), never a growing buffer.

Cancel-safety: grpc.aio cancels the whole call when a task waiting on
`call.read()` is cancelled, and transports wait for the next change under a
timeout (their heartbeat). So the read runs in a task of its own (`_pending`)
that a waiting `__anext__` only watches; a cancelled wait leaves it running,
and the next `__anext__` takes its answer.

A stream that ends (a member lost, its leader lost, a reset) is created again
from the revision after the last answer taken, after a short pause, while the
subscription is open: etcd never splits the events of one revision across
answers (nor across fragments, which are joined here), so nothing is skipped
or repeated. If etcd has compacted that revision meanwhile, the reader gets
WatcherTooSlow (it resumes and is told Compacted). See docs/etcd.md, "Watch".

Compaction: etcd compacted at C keeps every change after C, but not a delete
at C itself (its tombstone goes), and cancels only watches from before C. So
a stream for the changes from revision N is created from N - 1 (the events
at N - 1 are dropped): etcd cancels it exactly when N <= C, and the oldest
revision a watch can start from is C + 1 (`oldest`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

import grpc

from kv.adapters.etcd.client import EtcdClient, WatchCall
from kv.adapters.etcd.errors import read_failure
from kv.adapters.etcd.values import Keyspace, decode, prefix_end
from kv.adapters.subscription import PolledSubscription
from kv.domain import Change, Compacted, StorageUnavailable, WatcherTooSlow
from kv.etcdpb import kv_pb2, rpc_pb2
from kv.observability import get_logger

log = get_logger("kv.etcd")

# The pause before a failed stream is created again, doubled up to the longest on each failure.
FIRST_PAUSE = 0.05
LONGEST_PAUSE = 1.0


def oldest(cancel: rpc_pb2.WatchResponse) -> int:
    """The oldest revision a watch can start from, by etcd's cancel of a compacted watch."""
    return cancel.compact_revision + 1


class EtcdSubscription(PolledSubscription):
    """One watcher: an etcd Watch stream from `start`, and the changes taken off it not yet read.

    `on_close` is told once, when it closes (the store forgets it).
    """

    def __init__(
        self,
        client: EtcdClient,
        keys: Keyspace,
        prefix: str,
        start: int,
        on_close: Callable[[EtcdSubscription], None],
    ) -> None:
        self._client = client
        self._keys = keys
        key = keys.key(prefix)
        self._range = (key, prefix_end(key))
        self._next = start  # every change below it is taken; a new stream starts here
        self._changes: deque[Change] = deque()
        self._fragments: list[kv_pb2.Event] = []
        self._call: WatchCall | None = None
        self._channel: grpc.aio.Channel | None = None
        self._pending: asyncio.Task[rpc_pb2.WatchResponse] | None = None
        self._failure: WatcherTooSlow | None = None
        self._closed = False
        self._on_close = on_close

    async def start(self, compacted: int | None, wait: float) -> None:
        """Create the stream: returns once etcd answered `created` (every later change follows).

        `compacted`: the requested revision, when a read found it compacted; etcd
        then cancels the watch with its compact revision (Compacted), unless the
        member serving it has not applied the compaction yet and sends events
        (kept, they are the changes asked for). No answer within `wait`
        seconds (to create it, then to answer): StorageUnavailable.
        """
        try:
            async with asyncio.timeout(wait):
                response = await self._receive()
        except grpc.aio.AioRpcError as exc:
            raise read_failure(exc) from exc
        except TimeoutError:
            raise StorageUnavailable(f"etcd did not answer a watch within {wait} s") from None
        if response is not None and response.compact_revision:
            raise Compacted(self._next, oldest(response))
        if response is None or not response.created or response.canceled:
            reason = "the stream ended" if response is None else response.cancel_reason
            raise StorageUnavailable(f"etcd did not create the watch: {reason}")
        if compacted is None:
            return
        self._pending = asyncio.ensure_future(self._read())
        done, _ = await asyncio.wait({self._pending}, timeout=wait)
        if not done:
            raise StorageUnavailable(f"etcd did not answer a watch from revision {compacted}")
        response = self._pending.result()
        self._pending = None
        if response.compact_revision:
            raise Compacted(compacted, oldest(response))
        self._take(response)

    async def _more(self) -> None:
        assert self._pending is not None
        await asyncio.wait({self._pending})  # cancelled, it leaves the read running

    def _available(self, limit: int) -> list[Change]:
        """Up to `limit` changes at hand (none: a read is pending); reads one answer ahead."""
        if self._closed:
            raise StopAsyncIteration
        if self._pending is not None and self._pending.done():
            response, self._pending = self._pending.result(), None
            if response.compact_revision:
                self._failure = WatcherTooSlow(
                    f"etcd compacted the changes before revision {oldest(response)} before "
                    f"this watcher read the changes from revision {self._next}"
                )
            else:
                self._take(response)
        if not self._changes and self._failure is not None:
            self.close()
            raise self._failure
        found = [self._changes.popleft() for _ in range(min(limit, len(self._changes)))]
        # A revision's changes (a transaction's) are handed out together: one answer holds them.
        while found and self._changes and self._changes[0].revision == found[-1].revision:
            found.append(self._changes.popleft())
        if self._pending is None and self._failure is None:
            self._pending = asyncio.ensure_future(self._read())
        return found

    def _take(self, response: rpc_pb2.WatchResponse) -> None:
        """Keep the changes of an answer, once its last fragment came."""
        self._fragments.extend(response.events)
        if response.fragment:
            return
        events = [event for event in self._fragments if event.kv.mod_revision >= self._next]
        self._fragments = []
        if events:
            self._changes.extend(decode(events, self._keys))
            self._next = events[-1].kv.mod_revision + 1

    async def _read(self) -> rpc_pb2.WatchResponse:
        """The next answer with events, or etcd's cancel for a compacted revision.

        Any other end of the stream is logged and the stream created again.
        """
        pause = FIRST_PAUSE
        while True:
            try:
                response = await self._receive()
            except grpc.aio.AioRpcError as exc:
                if self._channel is not None:
                    self._client.watch_failed(exc, self._channel)
                reason = exc.details() or exc.code().name
            except StorageUnavailable as exc:  # the store closed its channel
                reason = str(exc)
            else:
                if response is not None and response.compact_revision:
                    return response
                if response is not None and not response.canceled:
                    if not response.created:
                        return response
                    pause = FIRST_PAUSE  # created again: a later failure starts over
                    continue
                reason = "the stream ended" if response is None else response.cancel_reason
                self._client.watch_cancelled(reason)
            self._end_call()
            log.warning("etcd watch ended; watching again", revision=self._next, reason=str(reason))
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    async def _receive(self) -> rpc_pb2.WatchResponse | None:
        """The next answer on the stream (None: it ended), creating the stream first if needed."""
        if self._call is None:
            self._call, self._channel = await self._client.watch_stream()
            self._fragments = []
            key, range_end = self._range
            create = rpc_pb2.WatchCreateRequest(
                key=key,
                range_end=range_end,
                start_revision=max(self._next - 1, 1),  # see "Compaction" above
                prev_kv=True,
                fragment=True,
            )
            await self._call.write(rpc_pb2.WatchRequest(create_request=create))
        response = await self._call.read()
        return response if isinstance(response, rpc_pb2.WatchResponse) else None  # None: EOF

    def _end_call(self) -> None:
        if self._call is not None:
            self._call.cancel()
            self._call = None

    def close(self) -> None:
        """End the subscription: its stream is cancelled, a waiting `__anext__` ends."""
        if self._closed:
            return
        self._closed = True
        self._changes.clear()
        if self._pending is not None:
            self._pending.add_done_callback(_retrieve)
            self._pending.cancel()
        self._end_call()
        self._on_close(self)

    async def wait_closed(self) -> None:
        """Returns once a closed subscription's read has ended."""
        if self._pending is not None:
            await asyncio.wait({self._pending})


def _retrieve(task: asyncio.Task[rpc_pb2.WatchResponse]) -> None:
    """Takes a finished read's outcome, so that an error of a closed stream is not reported."""
    if not task.cancelled():
        task.exception()
