"""`GET /v1/watch`: the changes of keys under a prefix as Server-Sent Events (see API.md, Watch).

    id: R
    event: put | delete
    data: {"key": K, "value": V, "revision": R}    (a delete: no value; "expired": true)

`from_revision=R` starts at the change at R (or the first after it); a
`Last-Event-ID: R` header (what a browser's EventSource sends when it
reconnects) resumes after R and wins over `from_revision`, since a
reconnecting EventSource repeats the URL it was opened with. Errors found
before the stream starts are answered as JSON (400, 410 compacted, 503);
afterwards the stream just ends: at shutdown, or when the watcher is too
slow (with a comment saying so), and the client resumes with Last-Event-ID.
A comment line is sent after `heartbeat` seconds without an event, so that
proxies keep an idle stream open; a write the client does not take within
that time means the client is too slow, and its connection is closed.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

from aiohttp import web

from kv.domain import Change, InvalidRequest, KeyValueService, Subscription, WatcherTooSlow
from kv.json_codec import write_json
from kv.observability import current_request_id
from kv.transports.http.errors import REQUEST_ID_HEADER
from kv.transports.http.query import query_parameters

PARAMETERS = frozenset({"prefix", "from_revision"})
LAST_EVENT_ID = "Last-Event-ID"
# More digits than any revision needs: refused before int() reads them.
MAX_REVISION_DIGITS = 19
HEARTBEAT = b":\n\n"
# Events that piled up while the last write was under way go out in one write, up to this
# many, and no more bytes than this (past it, with the event that crossed it): what a watcher
# holds besides its socket's buffers is one such batch, however large the history it asks for.
BATCH = 256
BATCH_BYTES = 64 * 1024
TOO_SLOW = b": too slow to keep up; resume with Last-Event-ID\n\n"


@dataclass(frozen=True, slots=True)
class WatchQuery:
    """Where a watch starts: the prefix, and the first revision wanted (None: from now)."""

    prefix: str = ""
    from_revision: int | None = None

    @classmethod
    def parse(cls, raw_query: str, last_event_id: str | None) -> WatchQuery:
        """The query of `raw_query` (percent-encoded) and Last-Event-ID; InvalidRequest if bad."""
        params = query_parameters(raw_query, PARAMETERS)
        from_revision = None
        if "from_revision" in params:
            from_revision = _whole_number("from_revision", params["from_revision"])
            if from_revision < 1:  # checked even when Last-Event-ID wins over it
                raise InvalidRequest("from_revision must be a positive revision")
        if last_event_id is not None:
            from_revision = _whole_number(LAST_EVENT_ID, last_event_id.strip()) + 1
        return cls(params.get("prefix", ""), from_revision)


def _whole_number(name: str, raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_REVISION_DIGITS:
        raise InvalidRequest(f"{name} must be a whole number, got {raw!r}")
    return int(raw)


class EventFrames:
    """The SSE frame of each change, made once however many watchers send it.

    Kept while the change is (in the history, or in a watcher's hands); a
    put of an entry that expires is made per send, as its ttl counts down.
    """

    def __init__(self, service: KeyValueService) -> None:
        self._service = service
        self._frames: weakref.WeakKeyDictionary[Change, bytes] = weakref.WeakKeyDictionary()

    def frame(self, change: Change) -> bytes:
        frame = self._frames.get(change)
        if frame is None:
            frame = self._make(change)
            if change.entry is None or change.entry.expires_at is None:
                self._frames[change] = frame
        return frame

    def _make(self, change: Change) -> bytes:
        data = [b'{"key":', write_json(change.key)]
        if change.entry is not None:
            data += [b',"value":', change.value_json or write_json(change.entry.value)]
        data += [b',"revision":', str(change.revision).encode()]
        if change.expired:
            data.append(b',"expired":true')
        elif change.entry is not None:
            ttl = self._service.ttl_left(change.entry)
            if ttl is not None:
                data += [b',"ttl":', str(ttl).encode()]
        data.append(b"}")
        head = f"id: {change.revision}\nevent: {change.kind}\ndata: ".encode()
        return head + b"".join(data) + b"\n\n"


async def stream_changes(
    request: web.Request,
    service: KeyValueService,
    frames: EventFrames,
    heartbeat: float,
) -> web.StreamResponse:
    """Answer a watch: 200 and the event stream, until shutdown, disconnect or too slow."""
    query = WatchQuery.parse(request.rel_url.raw_query_string, request.headers.get(LAST_EVENT_ID))
    subscription = await service.watch(query.prefix, query.from_revision)
    try:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx: pass events on as they come
                REQUEST_ID_HEADER: current_request_id(),
            }
        )
        await response.prepare(request)
        await _send(request, response, b": watching\n\n", heartbeat)
        await _follow(request, response, subscription, frames, heartbeat)
    except (ConnectionError, TimeoutError):
        # The client left, or did not take a write in time: the connection is done.
        if request.transport is not None:
            request.transport.close()
    finally:
        subscription.close()
    return response


async def _follow(
    request: web.Request,
    response: web.StreamResponse,
    subscription: Subscription,
    frames: EventFrames,
    heartbeat: float,
) -> None:
    while True:
        try:
            async with asyncio.timeout(heartbeat):
                change = await anext(subscription)
        except TimeoutError:
            await _send(request, response, HEARTBEAT, heartbeat)
            continue
        except StopAsyncIteration:
            return
        except WatcherTooSlow:
            await _send(request, response, TOO_SLOW, heartbeat)
            return
        try:
            batch = _batch(frames.frame(change), subscription, frames)
        except WatcherTooSlow:
            await _send(request, response, TOO_SLOW, heartbeat)
            return
        await _send(request, response, batch, heartbeat)


def _batch(first: bytes, subscription: Subscription, frames: EventFrames) -> bytes:
    """`first` and the frames of the changes available now, up to BATCH and BATCH_BYTES."""
    batch = [first]
    size = len(first)
    while len(batch) < BATCH and size < BATCH_BYTES:
        more = subscription.ready(1)
        if not more:
            break
        frame = frames.frame(more[0])
        batch.append(frame)
        size += len(frame)
    return first if len(batch) == 1 else b"".join(batch)


async def _send(
    request: web.Request, response: web.StreamResponse, data: bytes, within: float
) -> None:
    """Write `data`; TimeoutError when the client does not take it within `within` seconds."""
    async with asyncio.timeout(within):
        await response.write(data)
