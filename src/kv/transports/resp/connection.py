"""One client connection: hiredis parses the requests, a worker answers them in order.

Requests are parsed by hiredis's `Reader` (C), which reads requests as well
as replies: a request is an array of bulk strings. Limits, so that no
client holds the server's memory or a worker for ever:

- input: at most `limits.max_request_bytes` may arrive before a request is
  complete; a larger request is answered `-ERR` and the rest of what the
  client sends is read and dropped until it is quiet (so that it reads the
  error rather than a reset), then the connection is closed;
- requests: at most `limits.max_pipelined` parsed and not yet answered;
  beyond that the connection stops reading until the worker catches up;
- idle: a connection with nothing in flight and nothing received for
  `limits.idle_timeout` is closed; writes: replies go out in batches of at
  most REPLY_BATCH_BYTES, and a client that does not read them for
  `limits.write_timeout` is disconnected;
- drain: on shutdown, requests already received are answered, then the
  connection is closed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import hiredis

from kv.observability import get_logger
from kv.transports.resp.commands import execute
from kv.transports.resp.replies import RespError, encode
from kv.transports.resp.session import Session

log = get_logger("kv.resp")

# After refusing a request that is too large: how long the client may stay
# quiet before the connection is closed, and how much more is read meanwhile.
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 64 * 1024 * 1024
# Replies gathered before they are written: pipelined small replies go out
# together, and a connection never holds more than about this much of them.
REPLY_BATCH_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The bounds every connection keeps (see the module docstring)."""

    max_request_bytes: int
    max_pipelined: int
    idle_timeout: float
    write_timeout: float


class RespConnection(asyncio.Protocol):
    """Serves one client; made by the transport's server for each accepted connection."""

    def __init__(
        self,
        session: Session,
        limits: ConnectionLimits,
        closed: Callable[[RespConnection], None],
        opened: Callable[[RespConnection], None] | None = None,
    ) -> None:
        """`opened` and `closed` are called as the client connects (over TLS: once its
        handshake is done) and as its connection ends; a connection never opened is never
        closed either."""
        self.session = session
        self._limits = limits
        self._closed = closed
        self._opened = opened
        self._reader = hiredis.Reader()
        self._pending: deque[list[bytes]] = deque()
        self._since_complete = 0  # bytes received since the last complete request
        self._transport: asyncio.Transport | None = None
        self._worker: asyncio.Task[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._draining = False
        self._discarded: int | None = None  # bytes dropped after a refusal, or None
        self._loop = asyncio.get_running_loop()
        self._last_active = self._loop.time()
        self._idle_timer: asyncio.TimerHandle | None = None
        self.refuse_at_connect: RespError | None = None
        """Set by the server to turn the client away (too many clients) when it connects."""

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, but are one.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        if self._opened is not None:
            self._opened(self)
        if self.refuse_at_connect is not None:
            transport.write(self.refuse_at_connect.line())
            transport.close()
            return
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.session.remote = f"{peer[0]}:{peer[1]}"
        self._idle_timer = self._loop.call_later(self._limits.idle_timeout, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._pending.clear()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._writable is not None and not self._writable.done():
            self._writable.set_exception(ConnectionResetError("connection lost"))
        self._closed(self)

    def pause_writing(self) -> None:
        self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def data_received(self, data: bytes) -> None:
        self._last_active = self._loop.time()
        if self._discarded is not None:
            self._discarded += len(data)
            if self._discarded > LINGER_MAX_BYTES:
                self.close()
            return
        reader = self._reader
        reader.feed(data)
        self._since_complete += len(data)
        while True:
            try:
                request = reader.gets()
            except hiredis.ProtocolError as exc:
                self._refuse(f"Protocol error: {exc}")
                return
            if request is False:
                break
            self._since_complete = reader.len()
            if type(request) is not list or not all(type(word) is bytes for word in request):
                self._refuse("Protocol error: a request is an array of bulk strings")
                return
            if request:  # Redis ignores an empty array
                self._pending.append(request)
        if self._since_complete > self._limits.max_request_bytes:
            self._refuse(
                f"Protocol error: request larger than {self._limits.max_request_bytes} bytes"
            )
            return
        if len(self._pending) >= self._limits.max_pipelined and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
        if self._pending and self._worker is None:
            self._worker = self._loop.create_task(self._answer_pending())

    def eof_received(self) -> bool:
        # Answer what was received, then close (see _answer_pending).
        self._draining = True
        if self._worker is None:
            self.close()
        return True

    # The connection's own work

    @property
    def transport(self) -> asyncio.Transport:
        assert self._transport is not None
        return self._transport

    def drain(self) -> None:
        """Answer the requests received, read no more, then close."""
        self._draining = True
        if self._transport is None or self._transport.is_closing():
            return
        if self._worker is None:
            self.close()
        elif not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def _answer_pending(self) -> None:
        """Answer every parsed request in order, writing replies in batches of up to
        REPLY_BATCH_BYTES, and waiting (up to the write timeout) while the client does
        not read them: what a connection holds of its replies stays bounded."""
        try:
            while self._pending:
                replies: list[bytes] = []
                size = 0
                while self._pending and size < REPLY_BATCH_BYTES:
                    reply = encode(
                        await execute(self.session, self._pending.popleft()),
                        self.session.protocol,
                    )
                    replies.append(reply)
                    size += len(reply)
                    if self.session.quitting:
                        self._pending.clear()
                        self._draining = True
                if self.transport.is_closing():
                    return
                self.transport.write(b"".join(replies))
                if self._writable is not None:
                    await asyncio.wait_for(
                        asyncio.shield(self._writable), self._limits.write_timeout
                    )
                if self._reading_paused and not self._draining and not self._pending:
                    self._reading_paused = False
                    self.transport.resume_reading()
        except (TimeoutError, ConnectionResetError):
            log.info("client not reading its replies; disconnected", remote=self.session.remote)
            self.abort()
        finally:
            self._worker = None
            self._last_active = self._loop.time()
        if self._draining:
            self.close()

    def _refuse(self, message: str) -> None:
        """Answer a request that cannot be parsed or is too large, then linger and close."""
        log.info("connection refused", reason=message, remote=self.session.remote)
        self._pending.clear()
        self._discarded = 0
        self.transport.write(RespError("ERR", message).line())
        if self.transport.can_write_eof():
            self.transport.write_eof()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = self._loop.call_later(LINGER_SECONDS, self._check_idle)

    def _check_idle(self) -> None:
        quiet = self._loop.time() - self._last_active
        limit = LINGER_SECONDS if self._discarded is not None else self._limits.idle_timeout
        if self._worker is None and quiet >= limit:
            self.close()
            return
        self._idle_timer = self._loop.call_later(max(limit - quiet, 0.05), self._check_idle)
