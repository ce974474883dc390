"""ByteBudget: the bytes a server holds for its clients, against one limit.

Every transport keeps an answer budget, and RESP a receive budget too, so
that no client, or group of clients, holds the server's memory, whatever the
protocol:

- an answer budget: bytes of answers built and not yet sent (an HTTP
  response body waiting for a slow reader, a piece of a RESP reply, a gRPC
  answer until grpc has sent it). While it is full, new requests are refused with the
  transport's "busy, retry" error before their answers are built; an answer
  already being sent (a streamed MGET) goes on a piece at a time, each held
  until its client has taken it;
- a receive budget: bytes of requests being received (a RESP request whose
  header announced more bytes than have arrived, and requests parsed but not
  yet served). HTTP bounds the same with its request slots and gRPC with its
  read slots and the bytes of requests in progress (`Admission`).

One holder is always let in when nothing is held, so that the largest
request or answer the limits allow can always be served. A holder gives
back exactly what it took, when the bytes are sent or served.
"""

from __future__ import annotations

import asyncio

# What the two budgets count, as their refusals name it.
ANSWERS_NOT_SENT = "answers not yet sent"
REQUESTS_BEING_RECEIVED = "requests being received"
# What an answer costs beyond its value: key, revision, framing.
ANSWER_SLACK_BYTES = 64 * 1024


def answer_limit(max_concurrent_requests: int, max_value_bytes: int) -> int:
    """The answer budget of a transport: as many answers of the largest value as it serves
    requests at once (KV_MAX_CONCURRENT_REQUESTS)."""
    return max_concurrent_requests * (max_value_bytes + ANSWER_SLACK_BYTES)


def received_limit(max_concurrent_requests: int, max_request_bytes: int) -> int:
    """The receive budget of a transport: as many requests of the largest size as it serves
    at once."""
    return max_concurrent_requests * max_request_bytes


class ByteBudget:
    """A count of bytes held against `limit`; `take` refuses what does not fit."""

    def __init__(self, limit: int, what: str) -> None:
        """`what`: the bytes it counts, for refusal messages (e.g. "answers not yet sent")."""
        self.limit = limit
        self.what = what
        self.held = 0
        self.peak = 0  # the most ever held, for tests and the docs' figures
        self.empty = asyncio.Event()  # set while nothing is held
        self.empty.set()

    def fits(self, size: int) -> bool:
        """Whether `size` more bytes would be taken now."""
        return not self.held or self.held + size <= self.limit

    def take(self, size: int) -> bool:
        """Hold `size` more bytes if they fit (always when nothing is held); False if not."""
        if not self.fits(size):
            return False
        self.hold(size)
        return True

    def hold(self, size: int) -> None:
        """Hold `size` bytes that are already in memory (they cannot be refused any more)."""
        self.held += size
        self.peak = max(self.peak, self.held)
        if size:
            self.empty.clear()

    def give_back(self, size: int) -> None:
        """Stop holding `size` bytes (what a `take` or `hold` counted)."""
        self.held -= size
        assert self.held >= 0, "a budget was given back more than was taken"
        if not self.held:
            self.empty.set()

    def refusal(self) -> str:
        """The message of a refusal: busy, retry."""
        return f"server busy: {self.held} bytes of {self.what} held; retry shortly"
