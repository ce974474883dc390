"""`kv.v1.KeyValue/Watch`: the change feed as a server stream, field for field as HTTP's events.

Errors before the first event (a bad request, OUT_OF_RANGE for a compacted
revision) and a watcher cut off as too slow (RESOURCE_EXHAUSTED) go through
the one table in `errors.py`; at shutdown the stream ends with OK. A
message the client does not take within `write_timeout` seconds (HTTP/2
flow control holds it) means the client is too slow: RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError

from kv.domain import Change, KeyValueService, KVError
from kv.observability import Observability
from kv.transports.grpc.admission import Refusal
from kv.transports.grpc.calls import GRPC_REQUEST_ID_KEY
from kv.transports.grpc.errors import INTERNAL_MESSAGE, SERVER_ERRORS, status_of
from kv.transports.grpc.values import from_json
from kv.v1 import kv_pb2

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
else:
    Context = grpc.aio.ServicerContext

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


def parse_watch_request(raw: bytes) -> kv_pb2.WatchRequest | Refusal:
    """The request of a Watch call; a malformed message is refused, not raised (INTERNAL)."""
    try:
        return kv_pb2.WatchRequest.FromString(raw)
    except DecodeError:
        return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "malformed request: not a WatchRequest")


def _from_revision(request: kv_pb2.WatchRequest) -> int | None:
    # The domain refuses 0 and negatives (INVALID_ARGUMENT).
    return request.from_revision if request.HasField("from_revision") else None


async def serve_watch(
    service: KeyValueService,
    events: WatchEvents,
    request: kv_pb2.WatchRequest | Refusal,
    context: Context,
    write_timeout: float,
    observability: Observability,
) -> None:
    """Stream the changes `request` asks for to `context`, in its request scope."""
    offered = next(
        (v for k, v in context.invocation_metadata() or () if k == GRPC_REQUEST_ID_KEY), None
    )
    with observability.request_scope(
        "grpc", METHOD, offered if isinstance(offered, str) else None, peer=context.peer()
    ) as scope:
        context.set_trailing_metadata(((GRPC_REQUEST_ID_KEY, scope.request_id),))
        status, details = grpc.StatusCode.OK, ""
        try:
            if isinstance(request, Refusal):
                status, details = request.code, request.message
            else:
                await _stream(service, events, request, context, write_timeout)
        except KVError as exc:
            status, details = status_of(exc), str(exc)
        except TimeoutError:
            status = grpc.StatusCode.RESOURCE_EXHAUSTED
            details = "the watcher did not take events in time"
        except Exception:
            scope.unexpected_error()
            status, details = grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE
        scope.answered(status.name, server_error=status in SERVER_ERRORS)
    if status is not grpc.StatusCode.OK:
        await context.abort(status, details)


async def _stream(
    service: KeyValueService,
    events: WatchEvents,
    request: kv_pb2.WatchRequest,
    context: Context,
    write_timeout: float,
) -> None:
    subscription = await service.watch(request.prefix, _from_revision(request))
    try:
        async for change in subscription:
            async with asyncio.timeout(write_timeout):
                await context.write(events.event(change))
    finally:
        subscription.close()
