"""Every place the HTTP transport relies on aiohttp beyond its documented API.

Each workaround below keeps an invariant of the transport; the tests named
guard the invariant, and tests/unit/test_upstream_canaries.py fails with
"upstream changed: ..." when what a workaround relies on is no longer so.
aiohttp has an upper bound in pyproject.toml: raising it means running those
tests against the new version first.

1. aiohttp's own errors in the API's shape (`KVRequestHandler.handle_error`).
   Invariant: a request aiohttp cannot parse is answered
   `{"error": {...}}` with its request id, echoing nothing, and logged with a
   traceback only for a 500. Guards: tests/unit/test_hardening.py
   (test_aiohttps_own_errors_are_json_and_pipelined_requests_before_them_answered),
   tests/hostile/test_http_input.py.
2. One request parsed ahead (`KVRequestHandler.__init__` sets the private
   `_max_msg_queue_size`, `_msg_queue_resume_size` and rebuilds `_parser`).
   Invariant: a valid pipelined request is answered before a malformed one
   that came in the same read gets its 400, and a connection queues at most
   one request. Guard: the first test above. Canary: aiohttp's parser still
   raises on such a read, losing the valid request before the malformed one.
3. The handler class swapped at run time (`KVAppRunner._make_server` sets
   the server's `__class__`): `web.AppRunner` takes no handler class, and
   builds its `web.Server` with private arguments. Invariant: every
   connection is served by a `KVRequestHandler`. Guard and canary: the
   runner's server makes `KVRequestHandler`s that parse one request ahead.
4. `send_continue` sets `writer.output_size` back to 0 after `100 Continue`.
   Invariant: an error while the body arrives is still answered with its
   status. Guards: tests/hostile/test_http_input.py (the 100-continue tests).
   Canary: aiohttp still counts the interim response as output.

aiohttp answers a request it cannot parse (a bad request line, bytes that
are not HTTP) itself, before any middleware: `text/plain`, echoing the
offending bytes, and logged at ERROR with a traceback. `RequestHandler`
exposes that answer as `handle_error`; `KVRequestHandler` overrides it to
answer `{"error": {...}}` without echoing anything (the access line records
the request), and logs a traceback only for a 500, which is a bug.

It also parses at most one request ahead of the one being served. aiohttp
parses up to 32 pipelined requests per read, and when a later one in the
same read is malformed, the parser's exception discards the valid ones
before it, which are then never answered. With one at a time the parser
stops after each request and keeps the rest of the bytes, so the valid
request is answered first and the malformed one then gets its 400. It also
bounds what one connection can queue.

aiohttp builds one handler per connection through its `Server`;
`KVAppRunner` makes the server build a `KVRequestHandler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from aiohttp import http_exceptions, web
from aiohttp.http_parser import HttpRequestParser
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from kv.observability import accept_request_id, get_logger
from kv.transports.error_tables import closest_row
from kv.transports.http.errors import REQUEST_ID_HEADER, error_response

log = get_logger("kv.http")

# The kernel's send buffer of each accepted connection, fixed (Linux doubles it
# for its own bookkeeping). Left to autotuning it grows to several MB on
# loopback, and an answer the kernel has taken no longer counts against the
# answer budget: clients that never read then had answer after answer built
# and copied into their sockets, at the event loop's cost. A fixed buffer
# smaller than a large answer keeps such an answer in the budget until its
# client reads it.
SEND_BUFFER_BYTES = 256 * 1024

PARSE_ERRORS: dict[type[Exception], str] = {
    http_exceptions.LineTooLong: "a request line or header is too long",
    http_exceptions.BadHttpMethod: "unknown request method",
    http_exceptions.BadStatusLine: "malformed request line",
    http_exceptions.InvalidHeader: "malformed header",
    http_exceptions.InvalidURLError: "malformed request target",
    http_exceptions.ContentLengthError: "body shorter than its Content-Length",
    http_exceptions.TransferEncodingError: "malformed chunked body",
}


def _describe(exc: BaseException | None) -> str:
    described = None if exc is None else closest_row(PARSE_ERRORS, exc)
    return described or "not a valid HTTP/1.1 request"


class KVRequestHandler(RequestHandler):
    """One connection: aiohttp's handler, one request parsed ahead, errors as JSON."""

    def __init__(self, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._max_msg_queue_size = 1
        self._msg_queue_resume_size = 0
        self._parser = HttpRequestParser(
            self,
            self._loop,
            self._read_bufsize,
            max_line_size=self.max_line_size,
            max_field_size=self.max_field_size,
            max_headers=self.max_headers,
            payload_exception=RequestPayloadError,
            auto_decompress=kwargs.get("auto_decompress", True),
            max_msg_queue_size=1,
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Not every socket has a send buffer to set (a Unix socket in tests).
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The answer to a request aiohttp failed outside the app; it closes the connection."""
        if request.writer.output_size > 0:
            # Part of a response is out already: the connection can only be dropped.
            raise ConnectionError("response already started; cannot send an error response")
        if status >= 500:
            log.error("unhandled error serving a request", exc_info=exc)
            response = error_response(status, "internal", "internal error; see the server log")
        else:
            response = error_response(
                status, "invalid_request", f"malformed HTTP request: {_describe(exc)}"
            )
        # Made up here: the request's own headers are not trusted to be parsed.
        response.headers[REQUEST_ID_HEADER] = accept_request_id(None)
        response.force_close()
        return response


class KVServer(web.Server):
    """aiohttp's low-level server, making a `KVRequestHandler` per connection."""

    def __call__(self) -> RequestHandler:
        return KVRequestHandler(self, loop=self._loop, **self._kwargs)


class KVAppRunner(web.AppRunner):
    """`web.AppRunner` whose server is a `KVServer`."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The app builds its server with private arguments; only the class
        # of the handlers it makes changes.
        server.__class__ = KVServer
        return server


async def send_continue(request: web.Request) -> None:
    """Send `100 Continue`: the client may upload its body; the response proper is still to come.

    aiohttp counts the interim response in `writer.output_size`, which it and
    `KVRequestHandler.handle_error` read as "the response has started", after
    which an error can only drop the connection. Set back to 0, a failure
    while the body arrives is still answered with its status.
    """
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0
