"""Outbox: the replies on their way to one client, within the server's answer budget.

Replies are written in batches of at most REPLY_BATCH_BYTES (pipelined small
replies go out together). A batch is held in the server's answer budget
(kv.transports.budget) from when it is written until the client has read
enough of it that the connection's send buffer is below its low-water mark
again; while the buffer is full the connection waits, at most the write
timeout, after which the client is taken for one that does not read and is
disconnected. A `Streamed` reply (MGET) is made an item at a time under the
same rule, so what one client costs is at most a batch or one item (a value
at the size limit), however large its answer.

While the answer budget is full, a new request is answered `-TRYAGAIN`
without being run (nothing was done; safe to retry), before any answer is
built: what the server holds of answers stays within the budget, plus what
the requests being run when it filled make.
"""

from __future__ import annotations

import asyncio

from kv.transports.budget import ByteBudget
from kv.transports.resp.replies import RespError, Streamed, encode

# Replies gathered before they are written.
REPLY_BATCH_BYTES = 64 * 1024


class ClientNotReading(Exception):
    """The client did not take its replies within the write timeout, or is gone."""


class Outbox:
    """Batches replies, writes them within the answer budget, waits while the client is full."""

    def __init__(
        self, transport: asyncio.Transport, budget: ByteBudget, write_timeout: float
    ) -> None:
        self._transport = transport
        self._budget = budget
        self._write_timeout = write_timeout
        self._batch: list[bytes] = []
        self._size = 0
        self._writable: asyncio.Future[None] | None = None

    # Called by the connection's protocol callbacks.

    def pause(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def refusal(self) -> RespError | None:
        """The reply for a new request while the answer budget is full, else None."""
        if self._budget.held < self._budget.limit:
            return None
        return RespError("TRYAGAIN", self._budget.refusal())

    def add(self, reply: bytes) -> bool:
        """Queue an encoded reply; True when the batch is full and should be flushed."""
        self._batch.append(reply)
        self._size += len(reply)
        return self._size >= REPLY_BATCH_BYTES

    async def flush(self) -> None:
        """Write the batch, held in the budget until the client has taken it."""
        if not self._batch:
            return
        data = self._batch[0] if len(self._batch) == 1 else b"".join(self._batch)
        self._batch, self._size = [], 0
        await self._write(data)

    async def stream(self, reply: Streamed, protocol: int) -> None:
        """Send `reply` an item at a time, each made once the client has taken the last."""
        await self.flush()
        self.add(b"*%d\r\n" % reply.count)
        async for item in reply.items:
            if self.add(encode(item, protocol)):
                await self.flush()
        await self.flush()

    async def _write(self, data: bytes) -> None:
        if self._transport.is_closing():
            raise ClientNotReading("connection closed")
        self._budget.hold(len(data))
        try:
            self._transport.write(data)
            writable = self._writable
            if writable is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(writable), self._write_timeout)
                except TimeoutError:
                    raise ClientNotReading("replies not read within the write timeout") from None
                if self._transport.is_closing():
                    raise ClientNotReading("connection closed")
        finally:
            self._budget.give_back(len(data))
