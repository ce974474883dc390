"""`kv.v1.KeyValue/Watch`: the change feed as a server stream, field for field as HTTP's events.

Errors before the first event (a bad request, OUT_OF_RANGE for a compacted
revision, UNAVAILABLE over the watch limit) and a watcher cut off as too
slow (RESOURCE_EXHAUSTED) go through the one table in `errors.py`, applied
by `streaming_call` (calls.py); at shutdown the stream ends with OK. A
message the client does not take within `write_timeout` seconds (HTTP/2
flow control holds it) means the client is too slow: WatcherTooSlow,
RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import asyncio
import weakref

from kv.domain import Change, KeyValueService, WatcherTooSlow
from kv.transports.grpc.grpc_internals import Context
from kv.transports.grpc.values import from_json
from kv.v1 import kv_pb2


class WatchEvents:
    """The WatchEvent of each change, made once however many watchers send it (see HTTP's)."""

    def __init__(self, service: KeyValueService) -> None:
        self._service = service
        self._events: weakref.WeakKeyDictionary[Change, kv_pb2.WatchEvent] = (
            weakref.WeakKeyDictionary()
        )

    def event(self, change: Change) -> kv_pb2.WatchEvent:
        event = self._events.get(change)
        if event is None:
            event = self._make(change)
            if change.entry is None or change.entry.expires_at is None:
                self._events[change] = event
        return event

    def _make(self, change: Change) -> kv_pb2.WatchEvent:
        event = kv_pb2.WatchEvent(
            type=change.kind, key=change.key, revision=change.revision, expired=change.expired
        )
        if change.entry is not None:
            event.value.CopyFrom(from_json(change.entry.value))
            ttl = self._service.event_ttl(change)
            if ttl is not None:
                event.ttl_seconds = ttl
        return event


def _from_revision(request: kv_pb2.WatchRequest) -> int | None:
    # The domain refuses 0 and negatives (INVALID_ARGUMENT).
    return request.from_revision if request.HasField("from_revision") else None


async def stream_changes(
    service: KeyValueService,
    events: WatchEvents,
    request: kv_pb2.WatchRequest,
    context: Context,
    write_timeout: float,
) -> None:
    """Send the changes `request` asks for to `context`, until shutdown, cancel or too slow.

    Runs in the request scope of `streaming_call` (calls.py), which answers
    what it raises through the one table in `errors.py`.
    """
    subscription = await service.watch(request.prefix, _from_revision(request))
    try:
        async for change in subscription:
            try:
                async with asyncio.timeout(write_timeout):
                    await context.write(events.event(change))
            except TimeoutError:
                raise WatcherTooSlow("the watcher did not take events in time") from None
    finally:
        subscription.close()
