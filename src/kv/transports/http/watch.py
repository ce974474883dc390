"""`GET /v1/watch`: the changes of keys under a prefix as Server-Sent Events (docs/watch.md).

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
`stall_timeout` (`Settings.watcher_stall_timeout`) means the client is too
slow, and its connection is closed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from kv.domain import InvalidRequest, KeyValueService, Subscription, WatcherTooSlow
from kv.observability import current_request_id
from kv.transports.http.errors import REQUEST_ID_HEADER
from kv.transports.http.event_frames import EventFrames
from kv.transports.http.query import query_parameters

__all__ = ["EventFrames", "WatchQuery", "stream_changes"]

PARAMETERS = frozenset({"prefix", "from_revision"})
LAST_EVENT_ID = "Last-Event-ID"
# More digits than any revision needs: refused before int() reads them.
MAX_REVISION_DIGITS = 19
HEARTBEAT = b":\n\n"
# Events that piled up while the last write was under way are taken at once, up to this many
# (and sent in writes of at most `event_frames.PIECE_BYTES`).
BATCH = 256
# A write that leaves at most this much in the connection's buffer (the transports' high-water
# mark is 64 KiB, below which they never make a writer wait) is not timed (see `_send`).
UNTIMED_BYTES = 8 * 1024
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


async def stream_changes(
    request: web.Request,
    service: KeyValueService,
    frames: EventFrames,
    *,
    heartbeat: float,
    stall_timeout: float,
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
        await _send(request, response, b": watching\n\n", stall_timeout)
        await _follow(request, response, subscription, frames, heartbeat, stall_timeout)
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
    stall_timeout: float,
) -> None:
    while True:
        try:
            async with asyncio.timeout(heartbeat):
                change = await anext(subscription)
            changes = [change, *subscription.ready(BATCH - 1)]
        except TimeoutError:
            await _send(request, response, HEARTBEAT, stall_timeout)
            continue
        except StopAsyncIteration:
            return
        except WatcherTooSlow:
            await _send(request, response, TOO_SLOW, stall_timeout)
            return
        for piece in frames.pieces(changes):
            await _send(request, response, piece, stall_timeout)


async def _send(
    request: web.Request, response: web.StreamResponse, data: bytes, within: float
) -> None:
    """Write `data`; TimeoutError when the client does not take it within `within` seconds.

    A write that leaves the connection's buffer far below its high-water mark
    cannot wait for the client, so it needs no timer of its own (the one
    write per watcher and wake-up that most watchers make); the write
    timeout (`WriteTimeoutEnforcer`) is the backstop either way.
    """
    transport = request.transport
    if transport is not None and transport.get_write_buffer_size() + len(data) <= UNTIMED_BYTES:
        await response.write(data)
        return
    async with asyncio.timeout(within):
        await response.write(data)
