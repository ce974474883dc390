"""The gRPC server's admission, applied before a request message is parsed.

grpc.aio parses a request with the method handler's `request_deserializer`
before the servicer method runs, and answers UNKNOWN (with the exception's
class in its details) when that raises. `guarded_deserializer` wraps the
generated parser so that it never raises: a call that cannot be taken on is
handed to the method as a `Refusal`, which `unary_call` (calls.py) answers
with its status code and an access line like any other call:

- the server is shutting down, or already serving its limit of calls:
  UNAVAILABLE (nothing was done, safe to retry), without parsing the
  message, so that a burst of large messages cannot hold more than the
  limit parsed at once;
- the bytes are not a valid message (corrupt wire bytes, a string field that
  is not UTF-8, nesting past protobuf's own limit): INVALID_ARGUMENT.

grpc.aio runs the parser and then the method in one task without a pause
between them, so the count of methods in progress (`Admission.enter` and
`leave`, in `unary_call`) is exact when the next message is parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from google.protobuf.message import DecodeError

from kv.transports.admission import Admission

Message = TypeVar("Message")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call not taken on: the status code and message it is answered with."""

    code: grpc.StatusCode
    message: str


def guarded_deserializer(
    admission: Admission, parse: Callable[[bytes], Message], name: str
) -> Callable[[bytes], Message | Refusal]:
    """`parse` (a message class's `FromString`), refusing instead of raising."""
    malformed = Refusal(
        grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: not a valid {name} message"
    )

    def deserialize(raw: bytes) -> Message | Refusal:
        refusal = admission.refusal()
        if refusal is not None:
            return Refusal(grpc.StatusCode.UNAVAILABLE, refusal)
        try:
            return parse(raw)
        except DecodeError:
            return malformed

    return deserialize
