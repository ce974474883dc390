"""How the gRPC server takes a call on and reads its request: only once it has room for it.

Every method the server implements itself is registered as reading a stream
of requests (stream-unary, stream-stream: `services.py`), which on the wire is
the same as a unary request, so clients call it as the proto declares. grpc
then reads a request message only when the method asks for it, and with
`grpc.http2.bdp_probe` off a message nobody reads holds at most the stream's
flow-control window (64 KiB) of the server's memory. A unary method read as
such would have its whole message (up to `max_message_bytes`, 5.5 MiB) read
by grpc's core as soon as the call arrives, however many calls arrive: the
memory of a burst would depend on how many of them the core holds at once.

`CallAdmission.take` reads a call's request in this order:

- the server is shutting down or already serving its limit of calls:
  UNAVAILABLE (nothing was done, safe to retry), nothing read;
- otherwise the call is in progress until its answer is sent, and waits for
  one of `READ_SLOTS` reads at a time: at most that many messages are being
  received and copied at once, whatever their size (UNAVAILABLE if no slot
  frees within `SLOT_WAIT_SECONDS`). The message must then arrive within the
  timeout (`KV_IDLE_TIMEOUT`, as an HTTP body must): INVALID_ARGUMENT if not;
- a unary call's message must fit in what is left of the server's budget of
  request bytes in progress (`Admission.max_bytes`, one largest message),
  else UNAVAILABLE. Parsed, a message can take 25 times its size (a
  `ListValue` of empty `Value`s: 2 bytes each on the wire, about 50 in
  memory), and it lives until its call ends;
- a message with more bytes 0x0a than a value within the limit can hold:
  RESOURCE_EXHAUSTED, without parsing it. Every item of a list and every
  member of a struct starts with that byte (field 1, length-delimited), so
  their count bounds what the parse costs; and every 0x0a in a valid value's
  encoding (an item's tag, a newline in a string, a byte of a length or of a
  double) stands for at least two bytes of its compact JSON, so a value
  within the limit always passes;
- bytes that are not a valid message (corrupt wire bytes, a string field
  that is not UTF-8, nesting past protobuf's own limit), or no message at
  all: INVALID_ARGUMENT.

What is refused is handed back as a `Refusal`, which `calls.py` answers in
the call's request scope like any other outcome; nothing here raises.

Answers: a counted call's answer is held in the transport's answer budget
(kv.transports.budget) from when it is made until grpc has sent it; while
the budget is full, a counted call is refused UNAVAILABLE before it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from kv.transports.admission import SHUTTING_DOWN, Admission
from kv.transports.budget import ByteBudget
from kv.transports.grpc.grpc_internals import Context

Message = TypeVar("Message")

# Messages received at once. Each costs its size in grpc's core while it
# arrives and again as the bytes handed to Python, so this bounds the memory
# of requests being read (2 x 2 x 5.5 MiB at the default value limit). Two:
# one message parsed and served within the budget of request bytes (one
# largest message), and the next one arriving. More slots serve no more large
# messages, since the budget refuses what arrives beyond it once read, and
# they make a burst's memory depend on timing: a parse overlaps as many other
# arrivals as there are slots beyond two, so rounds of the same load peak
# differently (docs/hardening.md has the measurements). A small message
# already sits in the core (within the flow-control window), so its slot is
# held for one hand-over: two slots serve many concurrent small calls.
# A call that finds every slot taken waits at most SLOT_WAIT_SECONDS, then is
# refused UNAVAILABLE: overload is answered quickly, and clients that open
# calls but send nothing (each holds a slot until the read timeout) delay
# the others by no more than that.
READ_SLOTS = 2
SLOT_WAIT_SECONDS = 1.0
ITEM_TAG = b"\n"  # field 1, length-delimited: ListValue.values and Struct.fields
# A value's protobuf encoding can be larger than its compact JSON, which the
# domain limit measures. The worst case is a list of zeros: 2 bytes per item
# as JSON (`0,`), 11 as a `Value` in a `ListValue` (its field tag and length,
# then a double with its tag); every other JSON text costs less per byte
# (docs/hardening.md). A value of N bytes holds at most (N - 1) // 2 items.
WORST_BYTES_PER_ITEM = 11
# The key (1024 bytes and its framing), the framing of the value and list
# (at most 5 bytes each), the expected revision and ttl: well within 4 KiB.
MESSAGE_FRAMING_BYTES = 4096


def max_message_bytes(max_value_bytes: int) -> int:
    """The largest message read or written: a value within the limit however encoded, its key."""
    return WORST_BYTES_PER_ITEM * ((max_value_bytes - 1) // 2) + MESSAGE_FRAMING_BYTES


def max_item_tags(max_value_bytes: int) -> int:
    """The most bytes 0x0a a message may hold (module docstring): a value's and its key's."""
    return max_value_bytes // 2 + MESSAGE_FRAMING_BYTES


class Held:
    """What a counted call holds until grpc has sent its answer: its place in the admission,
    its request's bytes and its answer's bytes (`CallAdmission.hold_answer`).

    Given back by one done callback of the call, whatever its outcome.
    """

    __slots__ = ("_admission", "_answers", "answer_bytes", "request_bytes")

    def __init__(self, admission: Admission, answers: ByteBudget) -> None:
        self._admission = admission
        self._answers = answers
        self.request_bytes = 0
        self.answer_bytes = 0

    def __call__(self, call: object) -> None:
        self._admission.leave(self.request_bytes)
        self._answers.give_back(self.answer_bytes)


@dataclass(frozen=True, slots=True)
class Admitted(Generic[Message]):
    """A parsed request and the size of its message; `held`: what a counted call holds."""

    message: Message
    size: int
    held: Held | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call not taken on: the status code and message it is answered with."""

    code: grpc.StatusCode
    message: str


def parse_request(
    raw: bytes, parse: Callable[[bytes], Message], name: str, max_item_tags: int
) -> Message | Refusal:
    """`parse` (a message class's `FromString`) of `raw`, refusing instead of raising.

    A message with more than `max_item_tags` bytes 0x0a is refused as too
    large before it is parsed (see the module's docstring).
    """
    if len(raw) > max_item_tags and raw.count(ITEM_TAG) > max_item_tags:
        return Refusal(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "value too large: holds more items than a value within the limit can "
            f"({max_item_tags})",
        )
    try:
        return parse(raw)
    except DecodeError:
        return Refusal(
            grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: not a valid {name} message"
        )


class CallAdmission:
    """Takes calls on within the server's `Admission`, and reads their requests (see above)."""

    def __init__(
        self,
        admission: Admission,
        *,
        timeout: float,
        max_item_tags: int,
        answers: ByteBudget,
    ) -> None:
        """`timeout`: for the message to arrive; `max_item_tags`, `answers`: see above."""
        self.admission = admission
        self.answers = answers
        self._timeout = timeout
        self._slot_wait = min(SLOT_WAIT_SECONDS, timeout)
        self._max_item_tags = max_item_tags
        self._slots = asyncio.Semaphore(READ_SLOTS)
        self._requests: dict[str, tuple[Callable[[bytes], ProtoMessage], str]] = {}

    def register(self, method: str, request: type[ProtoMessage]) -> None:
        """Read the requests of `method` (`/package.Service/Method`) as `request` messages."""
        self._requests[method] = (request.FromString, request.DESCRIPTOR.name)

    async def take(
        self, method: str, context: Context, *, counted: bool
    ) -> Admitted[Any] | Refusal:
        """The call's request, or why it is refused; a `counted` call is in the admission.

        A counted call stays in progress until grpc has sent its answer (its
        done callbacks run after the status went out, whatever the outcome),
        not when the method returns: the transport's stop closes connections
        once no call is in progress (grpc_internals.py), which must lose no answer.
        """
        admission = self.admission
        held = None
        if counted:
            refusal = admission.refusal()
            if refusal is None and self.answers.held >= self.answers.limit:
                refusal = self.answers.refusal()
            if refusal is not None:
                return Refusal(grpc.StatusCode.UNAVAILABLE, refusal)
            admission.enter()
            held = Held(admission, self.answers)
            # grpc calls any callable; its stubs declare a class of their own.
            context.add_done_callback(held)  # type: ignore[arg-type]
        parse, name = self._requests[method]
        raw = await self._read(context, name)
        if isinstance(raw, Refusal):
            return raw
        if held is not None:
            refusal = admission.bytes_refusal(len(raw))
            if refusal is not None:
                return Refusal(grpc.StatusCode.UNAVAILABLE, refusal)
        parsed = parse_request(raw, parse, name, self._max_item_tags)
        if isinstance(parsed, Refusal):
            return parsed
        if held is not None:
            held.request_bytes = len(raw)
            admission.hold(len(raw))
        return Admitted(parsed, len(raw), held)

    def hold_answer(self, held: Held, answer: ProtoMessage) -> None:
        """Hold `answer`'s size in the answer budget until grpc has sent it (the call is done)."""
        held.answer_bytes = size = answer.ByteSize()
        self.answers.hold(size)

    async def _read(self, context: Context, name: str) -> bytes | Refusal:
        """The call's one message, read in one of the slots (see above)."""
        if self._slots.locked():  # a timer only when the wait can be long
            try:
                async with asyncio.timeout(self._slot_wait):
                    await self._slots.acquire()
            except TimeoutError:
                return Refusal(
                    grpc.StatusCode.UNAVAILABLE,
                    f"server busy: reading {READ_SLOTS} other requests; retry shortly",
                )
        else:
            await self._slots.acquire()
        try:
            async with asyncio.timeout(self._timeout):
                raw = await context.read()
        except TimeoutError:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "request not received in time")
        finally:
            self._slots.release()
        if not isinstance(raw, bytes):  # grpc.aio.EOF: no message came
            if self.admission.draining:  # the server stopped while it was awaited
                return Refusal(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: no {name}")
        return raw
