"""Which calls the gRPC server takes on, decided before a request message is parsed.

grpc.aio parses a request with the method handler's `request_deserializer`
before the servicer method runs, and answers UNKNOWN (with the exception's
class in its details) when that raises. `Admission.deserializer` wraps the
generated parser so that it never raises: a call that cannot be taken on is
handed to the method as a `Refusal`, which `unary_call` (calls.py) answers
with its status code and an access line like any other call:

- the server is shutting down: UNAVAILABLE (nothing was done, safe to retry);
- `limit` calls are already in progress: UNAVAILABLE, without parsing the
  message, so that a burst of large messages cannot hold more than `limit`
  parsed at once;
- the bytes are not a valid message (corrupt wire bytes, a string field that
  is not UTF-8, nesting past protobuf's own limit): INVALID_ARGUMENT.

grpc.aio runs the parser and then the method synchronously in one task, so
the count of methods in progress (`enter`/`leave`) is exact when the next
message is parsed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from google.protobuf.message import DecodeError

Message = TypeVar("Message")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call not taken on: the status code and message it is answered with."""

    code: grpc.StatusCode
    message: str


SHUTTING_DOWN = Refusal(grpc.StatusCode.UNAVAILABLE, "server is shutting down; retry elsewhere")


class Admission:
    """At most `limit` calls in progress at once, none once draining, no unparsable message."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_progress = 0
        self.draining = False
        self.idle = asyncio.Event()  # set while no call is in progress
        self.idle.set()
        self._busy = Refusal(
            grpc.StatusCode.UNAVAILABLE,
            f"server busy: {limit} calls in progress; retry shortly",
        )

    def deserializer(
        self, parse: Callable[[bytes], Message], name: str
    ) -> Callable[[bytes], Message | Refusal]:
        """`parse` (a message class's `FromString`), refusing instead of raising."""
        malformed = Refusal(
            grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: not a valid {name} message"
        )

        def deserialize(raw: bytes) -> Message | Refusal:
            if self.draining:
                return SHUTTING_DOWN
            if self.in_progress >= self.limit:
                return self._busy
            try:
                return parse(raw)
            except DecodeError:
                return malformed

        return deserialize

    def enter(self) -> None:
        self.in_progress += 1
        self.idle.clear()

    def leave(self) -> None:
        self.in_progress -= 1
        if not self.in_progress:
            self.idle.set()
