"""`kv.v1.KeyValue/Watch`: the change feed as a server stream, field for field as HTTP's events.

Errors before the first event (a bad request, OUT_OF_RANGE for a compacted
revision) and a watcher cut off as too slow (RESOURCE_EXHAUSTED) go through
the one table in `errors.py`; at shutdown the stream ends with OK. A
message the client does not take within `write_timeout` seconds (HTTP/2
flow control holds it) means the client is too slow: RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import TYPE_CHECKING, Any

import grpc

from kv.domain import Change, KeyValueService, KVError
from kv.logs import GRPC_REQUEST_ID_KEY, accept_request_id, log_request, request_id
from kv.transports.grpc.errors import INTERNAL_MESSAGE, status_of
from kv.transports.grpc.values import from_json
from kv.v1 import kv_pb2

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
else:
    Context = grpc.aio.ServicerContext

log = logging.getLogger("kv.grpc")
access_log = logging.getLogger("kv.access")
METHOD = "/kv.v1.KeyValue/Watch"


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
            ttl = self._service.ttl_left(change.entry)
            if ttl is not None:
                event.ttl_seconds = ttl
        return event


def _from_revision(request: kv_pb2.WatchRequest) -> int | None:
    # The domain refuses 0 and negatives (INVALID_ARGUMENT).
    return request.from_revision if request.HasField("from_revision") else None


async def serve_watch(
    service: KeyValueService,
    events: WatchEvents,
    request: kv_pb2.WatchRequest,
    context: Context,
    write_timeout: float,
) -> None:
    """Stream the changes `request` asks for to `context`, with request id and access line."""
    started = time.perf_counter()
    offered = next(
        (v for k, v in context.invocation_metadata() or () if k == GRPC_REQUEST_ID_KEY), None
    )
    rid = accept_request_id(offered if isinstance(offered, str) else None)
    request_id.set(rid)
    context.set_trailing_metadata(((GRPC_REQUEST_ID_KEY, rid),))
    status = grpc.StatusCode.OK
    try:
        subscription = await service.watch(request.prefix, _from_revision(request))
        try:
            async for change in subscription:
                try:
                    async with asyncio.timeout(write_timeout):
                        await context.write(events.event(change))
                except TimeoutError:
                    status = grpc.StatusCode.RESOURCE_EXHAUSTED
                    await context.abort(status, "the watcher did not take events in time")
        finally:
            subscription.close()
    except KVError as exc:
        status = status_of(exc)
        await context.abort(status, str(exc))
    except asyncio.CancelledError:
        status = grpc.StatusCode.CANCELLED
        raise
    except grpc.aio.AbortError:
        raise
    except Exception:
        status = grpc.StatusCode.INTERNAL
        log.exception("unhandled error serving %s", METHOD, extra={"request_id": rid})
        await context.abort(status, INTERNAL_MESSAGE)
    finally:
        log_request(
            access_log,
            "request",
            transport="grpc",
            request_id=rid,
            method=METHOD,
            status=status.name,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            remote=context.peer(),
        )
