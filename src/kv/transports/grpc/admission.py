"""The gRPC server's admission, applied before a request message is parsed.

grpc.aio parses a request with the method handler's `request_deserializer`
before the servicer method runs, and answers UNKNOWN (with the exception's
class in its details) when that raises. `guarded_deserializer` wraps the
generated parser so that it never raises: a call that cannot be taken on is
handed to the method as a `Refusal`, which `unary_call` (calls.py) answers
with its status code and an access line like any other call, and a message
taken on as `Admitted`, which `unary_call` unwraps:

- the server is shutting down, or already serving its limit of calls or of
  request bytes: UNAVAILABLE (nothing was done, safe to retry), without
  parsing the message. Parsed, a message can take 25 times its size (a
  `ListValue` of empty `Value`s: 2 bytes each on the wire, about 50 in
  memory), and the parsed message lives until its call ends, so the bytes
  of calls in progress are what bounds the server's memory;
- the bytes are not a valid message (corrupt wire bytes, a string field that
  is not UTF-8, nesting past protobuf's own limit): INVALID_ARGUMENT.

grpc.aio runs the parser and then the method in one task without a pause
between them, so the count of methods in progress (`Admission.enter` and
`leave`, in `unary_call`) is exact when the next message is parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import grpc
from google.protobuf.message import DecodeError

from kv.transports.admission import Admission

Message = TypeVar("Message")


@dataclass(frozen=True, slots=True)
class Admitted(Generic[Message]):
    """A parsed request and the size of its message, which it holds of the admission."""

    message: Message
    size: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call not taken on: the status code and message it is answered with."""

    code: grpc.StatusCode
    message: str


def guarded_deserializer(
    admission: Admission, parse: Callable[[bytes], Message], name: str
) -> Callable[[bytes], Admitted[Message] | Refusal]:
    """`parse` (a message class's `FromString`), refusing instead of raising."""
    malformed = Refusal(
        grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: not a valid {name} message"
    )

    def deserialize(raw: bytes) -> Admitted[Message] | Refusal:
        refusal = admission.refusal(len(raw))
        if refusal is not None:
            return Refusal(grpc.StatusCode.UNAVAILABLE, refusal)
        try:
            return Admitted(parse(raw), len(raw))
        except DecodeError:
            return malformed

    return deserialize
