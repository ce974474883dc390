"""A connection's requests received and not yet answered, held in the transport's receive budget.

The receiving half of a connection, as the `Outbox` (answers.py) is its
answering half. What it holds in the receive budget (kv.transports.budget):
what the request being received announced (its headers, checked by the
`RequestReader` before anything is kept), and every request parsed and not
yet answered. A request taken out of the inbox stays counted until the
connection says it was answered (`answered`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from kv.transports.budget import ByteBudget
from kv.transports.resp.replies import RespError
from kv.transports.resp.request_reader import (
    UNAUTHENTICATED_MAX_REQUEST_BYTES,
    ProtocolError,
    RequestReader,
)

# What a request's words cost in memory beyond their bytes (a bytes object, its
# place in a list): counted with them in the receive budget.
WORD_OVERHEAD_BYTES = 48


class Inbox:
    """The parsed requests of one connection, in order, and the bytes they hold in the budget."""

    def __init__(self, max_request_bytes: int, max_pipelined: int, received: ByteBudget) -> None:
        self._max_request_bytes = max_request_bytes
        self._max_pipelined = max_pipelined
        self._received = received
        self._reader = RequestReader(max_request_bytes)
        self._pending: deque[tuple[list[bytes], int]] = deque()  # requests and their sizes
        self._pending_bytes = 0  # held in the receive budget
        self._announced = 0  # of the request being received, held in the receive budget

    def __len__(self) -> int:
        return len(self._pending)

    def take(self, data: bytes, *, authenticated: bool) -> RespError | None:
        """Parse the requests `data` completes; the error to refuse the connection with, if any.

        Before AUTH (`authenticated` false) the reader hands out one request at
        a time within Redis's tighter limits (request_reader.py); `take(b"")`
        then parses the next request kept.
        """
        self._reader.unauthenticated = not authenticated
        try:
            requests = self._reader.feed(data)
        except ProtocolError as exc:
            return RespError("ERR", f"Protocol error: {exc}")
        held = 0
        for request in requests:
            size = sum(map(len, request)) + WORD_OVERHEAD_BYTES * len(request)
            self._pending.append((request, size))
            held += size
        received = self._received
        received.hold(held)  # already in memory: counted, not refused
        self._pending_bytes += held
        announced = self._reader.announced
        if announced > self._announced:
            if not received.take(announced - self._announced):
                return RespError("TRYAGAIN", received.refusal())
        else:
            received.give_back(self._announced - announced)
        self._announced = announced
        return None

    def keep(self, data: bytes) -> None:
        """Keep `data` unparsed, for a later `take(b"")` (before AUTH, while a request runs)."""
        self._reader.keep(data)

    @property
    def unauthenticated(self) -> bool:
        """Whether the last `take` parsed within the limits before AUTH."""
        return self._reader.unauthenticated

    def head(self, index: int = 0) -> list[bytes]:
        """The request at `index` from the front, not taken out."""
        return self._pending[index][0]

    def pop(self) -> tuple[list[bytes], int]:
        """The next request and its size, to give back with `answered` once it has run."""
        request, size = self._pending.popleft()
        self._pending_bytes -= size
        return request, size

    def pop_run(
        self, belongs: Callable[[list[bytes]], bool], most: int
    ) -> tuple[list[list[bytes]], int]:
        """The requests at the front for which `belongs` holds, up to `most`, and their size."""
        requests: list[list[bytes]] = []
        size = 0
        pending = self._pending
        while pending and len(requests) < most and belongs(pending[0][0]):
            request, request_size = pending.popleft()
            requests.append(request)
            size += request_size
        self._pending_bytes -= size
        return requests, size

    def answered(self, size: int) -> None:
        """Give back the budget of requests taken out (their size from `pop` or `pop_run`)."""
        self._received.give_back(size)

    def full(self) -> bool:
        """Whether the connection should stop reading: as many requests as it may hold."""
        return (
            len(self._pending) >= self._max_pipelined
            or self._pending_bytes >= self._max_request_bytes
        )

    def room_to_read(self) -> bool:
        """Whether a connection that stopped reading may read again."""
        return not self.full() and (
            not self._reader.unauthenticated
            or self._reader.buffered <= UNAUTHENTICATED_MAX_REQUEST_BYTES
        )

    def forget(self) -> None:
        """Drop what was received and not answered, and give its budget back."""
        self._pending.clear()
        self._received.give_back(self._pending_bytes + self._announced)
        self._pending_bytes = self._announced = 0

    def close(self) -> None:
        """Forget everything and parse nothing more (after a refusal)."""
        self.forget()
        self._reader = RequestReader(0)
