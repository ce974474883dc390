"""What bounds the HTTP server's memory and its shutdown: admission and the write timeout.

`admission_middleware` is the outermost middleware. It refuses a request
503 (`unavailable`, with Retry-After) when the server already serves
`KV_MAX_CONCURRENT_REQUESTS` or is shutting down, and, for the requests it
takes on, writes the response itself before it lets go of the slot: a
handler returns its response before aiohttp writes it, and the write is
where a client that does not read holds the server's memory (a 1 MiB body
per request), so the slot must cover it. aiohttp then finds the response
written and only logs it.

`WriteTimeoutEnforcer` is the write timeout: a connection whose send buffer has
not shrunk for `KV_WRITE_TIMEOUT` seconds belongs to a client that does not
read, and is aborted, which ends the write that waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from aiohttp.typedefs import Handler

from kv.observability import get_logger
from kv.transports.admission import Admission
from kv.transports.http.errors import (
    OBSERVABILITY,
    REQUEST_ID_HEADER,
    error_response,
    operation_of,
)

log = get_logger("kv.http")

ADMISSION = web.AppKey("admission", Admission)
# A watch stream lasts as long as its client wants: it holds no slot; the service
# bounds open watches instead (KV_MAX_WATCHERS, shared with gRPC; a stream ends at shutdown).
UNCOUNTED_PATHS = frozenset({"/v1/watch"})


@web.middleware
async def admission_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve the request within the server's limit, its response written before it counts out."""
    if request.path in UNCOUNTED_PATHS:
        return await handler(request)
    admission = request.app[ADMISSION]
    refusal = admission.refusal()
    if refusal is not None:
        # Refused requests are requests too: counted, and logged as the server errors they are.
        with request.app[OBSERVABILITY].request_scope(
            "http", operation_of(request), request.headers.get(REQUEST_ID_HEADER)
        ) as scope:
            refused = error_response(503, "unavailable", refusal)
            refused.headers[REQUEST_ID_HEADER] = scope.request_id
            scope.answered("503", server_error=True)
        if admission.draining:
            refused.force_close()
        return refused
    admission.enter()
    try:
        response = await handler(request)
        if admission.draining:
            response.force_close()  # served to the end, then the connection closes
        # A client gone mid-write: aiohttp's own write of it fails the same
        # way and is handled (and logged) there.
        with contextlib.suppress(ConnectionError):
            await response.prepare(request)
            await response.write_eof()
        return response
    finally:
        admission.leave()


class WriteTimeoutEnforcer:
    """Aborts every connection of `server` whose send buffer has not shrunk for `timeout` s."""

    def __init__(self, server: web.Server, timeout: float) -> None:
        self._server = server
        self._timeout = timeout
        # Per connection: its send buffer's size when last seen, and since when
        # it has not shrunk.
        self._stuck: dict[object, tuple[int, float]] = {}

    async def run(self) -> None:
        """Check every connection a few times per timeout, until cancelled."""
        interval = min(1.0, self._timeout / 4)
        while True:
            await asyncio.sleep(interval)
            self.check(asyncio.get_running_loop().time())

    def check(self, now: float) -> None:
        stuck: dict[object, tuple[int, float]] = {}
        for connection in self._server.connections:
            transport = connection.transport
            if transport is None or transport.is_closing():
                continue
            pending = transport.get_write_buffer_size()
            if not pending:
                continue
            previous, since = self._stuck.get(connection, (pending + 1, now))
            if pending < previous:
                since = now
            if now - since >= self._timeout:
                log.warning(
                    "closing a connection that has not read its responses",
                    seconds=round(now - since, 1),
                    unsent_bytes=pending,
                    remote=str(transport.get_extra_info("peername")),
                )
                transport.abort()
                continue
            stuck[connection] = (pending, since)
        self._stuck = stuck
