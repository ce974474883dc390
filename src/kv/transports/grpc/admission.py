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
- the message holds more bytes 0x0a than a value within the limit can:
  RESOURCE_EXHAUSTED, without parsing it. Every item of a list and every
  member of a struct starts with that byte (field 1, length-delimited), so
  their count bounds what the parse costs (about 50 bytes per item); and
  every 0x0a in a valid value's encoding (an item's tag, a newline in a
  string, a byte of a length or of a double) stands for at least two bytes
  of its compact JSON, so a value within the limit always passes;
- the bytes are not a valid message (corrupt wire bytes, a string field that
  is not UTF-8, nesting past protobuf's own limit): INVALID_ARGUMENT.

grpc.aio runs the parser and then the method in one task without a pause
between them, so the count of calls in progress (`Admission.enter` in
`unary_call`, `leave` once the call's answer is sent) is exact when the next
message is parsed.
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


ITEM_TAG = b"\n"  # field 1, length-delimited: ListValue.values and Struct.fields


def guarded_deserializer(
    admission: Admission,
    parse: Callable[[bytes], Message],
    name: str,
    max_item_tags: int | None = None,
) -> Callable[[bytes], Admitted[Message] | Refusal]:
    """`parse` (a message class's `FromString`), refusing instead of raising.

    A message with more than `max_item_tags` bytes 0x0a is refused as too
    large before it is parsed (see the module's docstring).
    """
    malformed = Refusal(
        grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: not a valid {name} message"
    )
    too_many_items = Refusal(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"value too large: holds more items than a value within the limit can ({max_item_tags})",
    )

    def deserialize(raw: bytes) -> Admitted[Message] | Refusal:
        refusal = admission.refusal(len(raw))
        if refusal is not None:
            return Refusal(grpc.StatusCode.UNAVAILABLE, refusal)
        if max_item_tags is not None and raw.count(ITEM_TAG) > max_item_tags:
            return too_many_items
        try:
            return Admitted(parse(raw), len(raw))
        except DecodeError:
            return malformed

    return deserialize
