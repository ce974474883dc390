"""One client connection: its `Inbox` takes the requests, a worker answers them in order.

Pipelines: the worker takes the requests that have arrived in order. A run
of consecutive plain writes (`commands.batchable`: SET, DEL of one key,
KV.PUT, KV.CREATE, KV.DELETE, on an authenticated connection outside MULTI)
is applied as ONE batch (`commands.execute_batch`: one commit on a durable
store), each command answered as if it had run alone; anything else runs
alone, after the writes before it are applied, so a read sees them. The
replies of what has arrived go out in one write (answers.py).

Limits, so that no client holds the server's memory or a worker for ever:

- input: every header is checked before what it announces is kept
  (request_reader.py, through the connection's `Inbox`, inbox.py); a
  request past `limits.max_request_bytes` is answered
  `-ERR Protocol error: ...` as soon as its header arrives, the rest of what
  the client sends is read and dropped until it is quiet (so that it reads
  the error rather than a reset), then the connection is closed;
- receive budget: what the request being received announced, and the
  requests parsed and not yet answered, are held in the transport's receive
  budget (kv.transports.budget); a request whose announced bytes do not fit
  is refused `-TRYAGAIN` the same way, unread;
- before AUTH (access control on, the client not yet authenticated): Redis's
  tighter limits, one request parsed at a time, the next once the one before
  has run, so that an AUTH lifts them for what is pipelined behind it; what
  arrives meanwhile is kept unparsed, and reading stops while more than a
  request at those limits is kept;
- requests: at most `limits.max_pipelined` parsed and not yet answered, and
  at most a request at the size limit's worth; beyond that the connection
  stops reading until the worker catches up;
- answers: through the connection's `Outbox` (answers.py), within the
  transport's answer budget and the write timeout;
- idle: a connection with nothing in flight and nothing received for
  `limits.idle_timeout` is closed; drain: on shutdown, requests already
  received are answered, then the connection is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from kv.observability import get_logger
from kv.transports.budget import ByteBudget
from kv.transports.resp.answers import ClientNotReading, Outbox
from kv.transports.resp.auth_commands import refuse_peer
from kv.transports.resp.commands import batchable, execute, execute_batch
from kv.transports.resp.eager import start_eagerly
from kv.transports.resp.inbox import Inbox
from kv.transports.resp.replies import RespError, Streamed, encode
from kv.transports.resp.session import Session

log = get_logger("kv.resp")

# After refusing a request that is too large: how long the client may stay
# quiet before the connection is closed, and how much more is read meanwhile.
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 64 * 1024 * 1024
# The most plain writes applied in one batch (one commit on a durable store).
MAX_BATCH = 256


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The bounds every connection keeps (see the module docstring), and the budgets it
    shares with the others of its transport."""

    max_request_bytes: int
    max_pipelined: int
    idle_timeout: float
    write_timeout: float
    received: ByteBudget
    answers: ByteBudget


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
        self._inbox = Inbox(limits.max_request_bytes, limits.max_pipelined, limits.received)
        self._transport: asyncio.Transport | None = None
        self._outbox: Outbox | None = None
        self._answering = False  # the worker is answering what was received
        self._worker: asyncio.Task[None] | None = None  # the task it goes on in, once it waits
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
        self._outbox = Outbox(transport, self._limits.answers, self._limits.write_timeout)
        if self._opened is not None:
            self._opened(self)
        if self.refuse_at_connect is not None:
            transport.write(self.refuse_at_connect.line())
            transport.close()
            return
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.session.remote = f"{peer[0]}:{peer[1]}"
            self.session.address = peer[0]
        denied = refuse_peer(self.session)
        if denied is not None:
            transport.write(denied.line())
            transport.close()
            return
        self._idle_timer = self._loop.call_later(self._limits.idle_timeout, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._inbox.forget()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        # A worker waiting to write wakes and finds the connection closing.
        if self._outbox is not None:
            self._outbox.resume()
        self._closed(self)

    def pause_writing(self) -> None:
        if self._outbox is not None:
            self._outbox.pause()

    def resume_writing(self) -> None:
        if self._outbox is not None:
            self._outbox.resume()

    def data_received(self, data: bytes) -> None:
        self._last_active = self._loop.time()
        if self._discarded is not None:
            self._discarded += len(data)
            if self._discarded > LINGER_MAX_BYTES:
                self.close()
            return
        if not self.session.authenticated and self._answering:
            # Parsed once the request being answered has run (it may be AUTH).
            self._inbox.keep(data)
            if not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
            return
        self._parse(data)

    def _parse(self, data: bytes) -> None:
        """Take the requests `data` completes, within the receive budget; start the worker."""
        inbox = self._inbox
        refusal = inbox.take(data, authenticated=self.session.authenticated)
        if refusal is not None:
            self._refuse(refusal)
            return
        if not self._reading_paused and inbox.full():
            self._reading_paused = True
            self.transport.pause_reading()
        if inbox and not self._answering:
            self._answering = True
            self._worker = start_eagerly(self._loop, self._answer_pending())

    def eof_received(self) -> bool:
        # Answer what was received, then close (see _answer_pending).
        self._draining = True
        if not self._answering:
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
        if not self._answering:
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
        """Answer every parsed request in order, through the outbox (answers.py).

        The worker: started eagerly by the callback that received the requests,
        so that what needs no wait is answered there; a task goes on with it
        once it waits (eager.py).
        """
        outbox = self._outbox
        assert outbox is not None
        try:
            inbox = self._inbox
            while inbox:
                if self._batch_ahead():
                    await self._answer_batch(outbox)
                else:
                    await self._answer_one(outbox)
                if self.session.quitting:
                    inbox.forget()
                    self._draining = True
                if not inbox:
                    await outbox.flush()
                    if self._parse_kept():
                        await asyncio.sleep(0)  # one kept request per turn of the event loop
                if self._reading_paused and not self._draining and inbox.room_to_read():
                    self._reading_paused = False
                    self.transport.resume_reading()
        except ClientNotReading:
            log.info("client not reading its replies; disconnected", remote=self.session.remote)
            self.abort()
        except Exception:  # a streamed reply failed part way: it cannot be answered
            log.exception("reply failed after it started; disconnected", remote=self.session.remote)
            self.abort()
        finally:
            self._answering = False
            self._worker = None
            self._last_active = self._loop.time()
        if self._draining:
            self.close()

    def _batch_ahead(self) -> bool:
        """Whether the queue starts with two plain writes or more (one goes alone)."""
        inbox = self._inbox
        return (
            len(inbox) > 1
            and batchable(self.session, inbox.head(0))
            and batchable(self.session, inbox.head(1))
        )

    async def _answer_one(self, outbox: Outbox) -> None:
        request, size = self._inbox.pop()
        try:
            reply = await execute(self.session, request, outbox.refusal())
        finally:
            self._inbox.answered(size)
        del request
        if isinstance(reply, Streamed):
            await outbox.stream(reply, self.session.protocol)
        elif outbox.add(encode(reply, self.session.protocol)):
            await outbox.flush()

    async def _answer_batch(self, outbox: Outbox) -> None:
        """Answer the plain writes at the head of the queue, up to MAX_BATCH, as one batch."""
        session = self.session
        requests, size = self._inbox.pop_run(lambda request: batchable(session, request), MAX_BATCH)
        try:
            replies = await execute_batch(session, requests, outbox.refusal())
        finally:
            self._inbox.answered(size)
        del requests
        protocol = self.session.protocol
        for reply in replies:
            if outbox.add(encode(reply, protocol)):
                await outbox.flush()

    def _parse_kept(self) -> bool:
        """Before AUTH: parse the next request kept, within the limits the last may have
        lifted; whether there was one."""
        if (
            self._inbox.unauthenticated
            and self._discarded is None
            and not self.session.quitting
            and not self.transport.is_closing()
        ):
            self._parse(b"")
            return bool(self._inbox)
        return False

    def _refuse(self, error: RespError) -> None:
        """Answer a request that cannot be parsed or taken on, then linger and close."""
        log.info("connection refused", reason=error.message, remote=self.session.remote)
        self._inbox.close()  # what it held goes; nothing more is parsed
        self._discarded = 0
        self.transport.write(error.line())
        if self.transport.can_write_eof():
            self.transport.write_eof()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = self._loop.call_later(LINGER_SECONDS, self._check_idle)

    def _check_idle(self) -> None:
        quiet = self._loop.time() - self._last_active
        limit = LINGER_SECONDS if self._discarded is not None else self._limits.idle_timeout
        if not self._answering and quiet >= limit:
            self.close()
            return
        self._idle_timer = self._loop.call_later(max(limit - quiet, 0.05), self._check_idle)
