"""The server's input and memory limits one piece at a time: nesting, JSON depth, Value
conversion, admission, the gRPC message limit and the HTTP write timeout (end to end in
tests/hostile)."""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass, field

import grpc
import pytest

from kv.domain import InvalidRequest, JsonValue, ValueTooLarge
from kv.domain.model import MAX_NESTING, check_nesting
from kv.json_codec import nesting_depth, read_json
from kv.transports.admission import Admission
from kv.transports.budget import ByteBudget
from kv.transports.grpc.call_admission import (
    READ_SLOTS,
    Admitted,
    CallAdmission,
    Refusal,
    max_item_tags,
    max_message_bytes,
    parse_request,
)
from kv.transports.grpc.values import from_json, to_json
from kv.transports.http.limits import WriteTimeoutEnforcer
from kv.v1 import kv_pb2


def nested(depth: int) -> object:
    value: object = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_nesting_up_to_the_limit_passes_and_one_more_is_invalid() -> None:
    check_nesting(nested(MAX_NESTING))  # type: ignore[arg-type]
    check_nesting("scalar")
    with pytest.raises(InvalidRequest, match="32 levels"):
        check_nesting(nested(MAX_NESTING + 1))  # type: ignore[arg-type]


def test_nesting_far_past_the_recursion_limit_is_invalid_not_a_recursion_error() -> None:
    with pytest.raises(InvalidRequest):
        check_nesting(nested(200_000))  # type: ignore[arg-type]


def test_nesting_depth_ignores_brackets_inside_strings() -> None:
    assert nesting_depth(b'[["[[[", "\\"]]", {"a": "{{"}]]') == 3
    assert nesting_depth(b"17") == 0


def test_a_deep_body_the_standard_library_would_read_is_refused_before_it_recurses() -> None:
    deep = b"\xef\xbb\xbf" + b"[" * 5000 + b"]" * 5000  # a BOM: orjson refuses, stdlib reads
    with pytest.raises(ValueError, match="512 levels"):
        read_json(deep)
    assert read_json(b"\xef\xbb\xbf[[1]]") == [[1]]


def test_values_round_trip_through_protobuf_without_recursion() -> None:
    document = {"b": [1, 2.5, None, True, "x", {}], "a": [[[]]]}
    back = to_json(from_json(document))  # type: ignore[arg-type]
    assert back == document
    assert list(back) == ["a", "b"]  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="32 levels"):
        to_json(from_json(nested(MAX_NESTING + 1)))  # type: ignore[arg-type]
    with pytest.raises(ValueTooLarge):
        to_json(from_json([0] * 11), max_items=10)


def test_the_message_limit_admits_the_worst_encoding_of_a_value_at_the_limit() -> None:
    for limit in (100, 1001, 64 * 1024):
        request = kv_pb2.PutRequest(key="k" * 1024, expected_revision=2**62)
        request.value.CopyFrom(from_json([0] * ((limit - 1) // 2)))
        assert request.ByteSize() <= max_message_bytes(limit) < 6 * limit + 4096


async def test_admission_counts_requests_and_bytes_and_refuses_when_draining() -> None:
    admission = Admission(2, max_bytes=100)
    admission.enter()
    assert admission.bytes_refusal(1000) is None  # one is always taken on
    admission.hold(1000)
    assert "bytes" in (admission.bytes_refusal(1) or "")
    admission.leave(1000)
    assert admission.bytes_refusal(100) is None
    admission.enter()
    admission.enter()
    assert "busy" in (admission.refusal() or "")
    loop = asyncio.get_running_loop()
    assert not await admission.wait_idle(loop.time() + 0.01)
    admission.leave()
    admission.leave()
    assert await admission.wait_idle(loop.time() + 10)
    admission.draining = True
    assert "shutting down" in (admission.refusal() or "")


def test_parse_request_refuses_instead_of_raising() -> None:
    parsed = parse_request(
        kv_pb2.GetRequest(key="k").SerializeToString(), kv_pb2.GetRequest.FromString, "Get", 10
    )
    assert isinstance(parsed, kv_pb2.GetRequest)
    assert parsed.key == "k"
    # A key that is not UTF-8.
    malformed = parse_request(b"\x0a\x01\xff", kv_pb2.GetRequest.FromString, "GetRequest", 10)
    assert isinstance(malformed, Refusal)
    assert malformed.code == grpc.StatusCode.INVALID_ARGUMENT


def test_parse_request_refuses_more_items_than_a_value_can_hold_unparsed() -> None:
    parsed: list[bytes] = []

    def parse(raw: bytes) -> kv_pb2.PutRequest:
        parsed.append(raw)
        return kv_pb2.PutRequest.FromString(raw)

    within = kv_pb2.PutRequest(key="k", value=from_json([None] * 4))  # 5 tags: the key and 4 items
    assert isinstance(parse_request(within.SerializeToString(), parse, "PutRequest", 5), object)
    beyond = kv_pb2.PutRequest(key="k", value=from_json([None] * 5))
    refused = parse_request(beyond.SerializeToString(), parse, "PutRequest", 5)
    assert isinstance(refused, Refusal)
    assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert parsed == [within.SerializeToString()]


class FakeCall:
    """The part of a grpc.aio servicer context `CallAdmission` uses: read, done callbacks."""

    def __init__(self, message: bytes | None, *, arrives: asyncio.Event | None = None) -> None:
        self.message = message
        self.arrives = arrives
        self.reading = False
        self.done_callbacks: list[object] = []

    async def read(self) -> object:
        self.reading = True
        if self.arrives is not None:
            await self.arrives.wait()
        return self.message if self.message is not None else grpc.aio.EOF

    def add_done_callback(self, callback: object) -> None:
        self.done_callbacks.append(callback)

    def finish(self) -> None:
        for callback in self.done_callbacks:
            callback(self)  # type: ignore[operator]


GET = "/kv.v1.KeyValue/Get"


def call_admission(admission: Admission, timeout: float = 60.0) -> CallAdmission:
    calls = CallAdmission(
        admission, timeout=timeout, max_item_tags=100, answers=ByteBudget(1 << 20, "answers")
    )
    calls.register(GET, kv_pb2.GetRequest)
    return calls


async def test_a_call_is_counted_until_its_answer_is_sent_and_holds_its_message_bytes() -> None:
    admission = Admission(2, max_bytes=1000)
    calls = call_admission(admission)
    message = kv_pb2.GetRequest(key="k").SerializeToString()
    call = FakeCall(message)
    taken = await calls.take(GET, call, counted=True)  # type: ignore[arg-type]
    assert isinstance(taken, Admitted)
    assert taken.message.key == "k"
    assert (admission.in_progress, admission.bytes_in_progress) == (1, len(message))
    call.finish()
    assert (admission.in_progress, admission.bytes_in_progress) == (0, 0)
    uncounted = await calls.take(GET, FakeCall(message), counted=False)  # type: ignore[arg-type]
    assert isinstance(uncounted, Admitted)
    assert admission.in_progress == 0


async def test_calls_are_refused_unread_when_busy_or_draining_and_no_message_is_malformed() -> None:
    admission = Admission(1, max_bytes=1000)
    calls = call_admission(admission)
    first = FakeCall(kv_pb2.GetRequest(key="k").SerializeToString())
    assert isinstance(await calls.take(GET, first, counted=True), Admitted)  # type: ignore[arg-type]
    busy = FakeCall(b"")
    refused = await calls.take(GET, busy, counted=True)  # type: ignore[arg-type]
    assert isinstance(refused, Refusal)
    assert refused.code == grpc.StatusCode.UNAVAILABLE
    assert not busy.reading
    first.finish()
    empty = await calls.take(GET, FakeCall(None), counted=True)  # type: ignore[arg-type]
    assert isinstance(empty, Refusal)
    assert empty.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "no GetRequest" in empty.message
    admission.draining = True
    draining = await calls.take(GET, FakeCall(b""), counted=True)  # type: ignore[arg-type]
    assert isinstance(draining, Refusal)
    assert "shutting down" in draining.message


async def test_a_message_past_the_byte_budget_is_refused_once_read() -> None:
    admission = Admission(10, max_bytes=10)
    calls = call_admission(admission)
    big = kv_pb2.GetRequest(key="k" * 20).SerializeToString()
    holding = FakeCall(big)
    assert isinstance(await calls.take(GET, holding, counted=True), Admitted)  # type: ignore[arg-type]
    refused = await calls.take(GET, FakeCall(big), counted=True)  # type: ignore[arg-type]
    assert isinstance(refused, Refusal)
    assert refused.code == grpc.StatusCode.UNAVAILABLE
    assert "bytes of requests in progress" in refused.message


async def test_at_most_read_slots_messages_are_read_at_once() -> None:
    calls = call_admission(Admission(100))
    arrives = asyncio.Event()
    message = kv_pb2.GetRequest(key="k").SerializeToString()
    pending = [FakeCall(message, arrives=arrives) for _ in range(READ_SLOTS + 1)]
    takes = [asyncio.create_task(calls.take(GET, c, counted=True)) for c in pending]  # type: ignore[arg-type]
    for _ in range(20):  # every task runs until it waits: for its message, or for a slot
        await asyncio.sleep(0)
    assert [c.reading for c in pending] == [True] * READ_SLOTS + [False]
    arrives.set()
    assert all(isinstance(taken, Admitted) for taken in await asyncio.gather(*takes))


async def test_a_message_that_does_not_arrive_in_time_is_invalid_and_frees_its_slot() -> None:
    calls = call_admission(Admission(100), timeout=0.2)
    never = asyncio.Event()
    message = kv_pb2.GetRequest(key="k").SerializeToString()
    slow = [FakeCall(message, arrives=never) for _ in range(READ_SLOTS)]
    outcomes = await asyncio.gather(*(calls.take(GET, c, counted=True) for c in slow))  # type: ignore[arg-type]
    assert all(isinstance(o, Refusal) for o in outcomes)
    assert {o.code for o in outcomes} == {grpc.StatusCode.INVALID_ARGUMENT}  # type: ignore[union-attr]
    assert "not received in time" in outcomes[0].message  # type: ignore[union-attr]
    assert isinstance(await calls.take(GET, FakeCall(message), counted=True), Admitted)  # type: ignore[arg-type]


def test_a_value_within_the_limit_has_at_most_max_item_tags_bytes_0x0a() -> None:
    # The encodings richest in 0x0a per byte of JSON: newlines, list items,
    # doubles made of 0x0a bytes; each at the limit, with a key of newlines.
    limit = 1024
    newline_double = struct.unpack("<d", b"\n" * 8)[0]
    values: list[JsonValue] = [
        "\n" * ((limit - 2) // 2),
        [0] * ((limit - 1) // 2),
        [newline_double] * ((limit - 1) // (len(repr(newline_double)) + 1)),
        {str(number): "\n" for number in range(limit // 12)},
    ]
    for value in values:
        assert len(json.dumps(value, separators=(",", ":"))) <= limit
        message = kv_pb2.PutRequest(key="\n" * 1024, value=from_json(value))
        assert message.SerializeToString().count(b"\n") <= max_item_tags(limit)


@dataclass
class FakeTransport:
    pending: int
    aborted: bool = False

    def is_closing(self) -> bool:
        return self.aborted

    def get_write_buffer_size(self) -> int:
        return self.pending

    def get_extra_info(self, name: str) -> object:
        return ("127.0.0.1", 1)

    def abort(self) -> None:
        self.aborted = True


@dataclass(eq=False)
class FakeConnection:
    transport: FakeTransport


@dataclass
class FakeServer:
    connections: list[FakeConnection] = field(default_factory=list)


def test_the_write_timeout_aborts_only_connections_whose_buffer_does_not_shrink() -> None:
    stuck, draining, idle = FakeTransport(1000), FakeTransport(1000), FakeTransport(0)
    server = FakeServer([FakeConnection(stuck), FakeConnection(draining), FakeConnection(idle)])
    watch = WriteTimeoutEnforcer(server, timeout=5.0)  # type: ignore[arg-type]
    for now in (0.0, 2.0, 4.0, 6.0):
        draining.pending -= 100  # the client reads a little at a time
        watch.check(now)
    assert stuck.aborted
    assert not draining.aborted
    assert not idle.aborted


def test_a_connection_is_timed_from_when_its_buffer_last_shrank_or_filled() -> None:
    transport = FakeTransport(10)
    connection = FakeConnection(transport)
    server = FakeServer([connection])
    watch = WriteTimeoutEnforcer(server, timeout=1.0)  # type: ignore[arg-type]
    watch.check(0.0)
    transport.pending = 0  # all sent: forgotten
    watch.check(0.5)
    transport.pending = 10  # full again: timed from now, not from 0.0
    watch.check(10.0)
    assert not transport.aborted
    watch.check(11.0)
    assert transport.aborted


async def test_aiohttps_own_errors_are_json_and_pipelined_requests_before_them_answered() -> None:
    from tests.inprocess import serve_in_process

    async with serve_in_process("http") as served:
        port = int(served.client_settings.addresses["http"].rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nNOT HTTP\x00\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 30)
        writer.close()
    assert answer.count(b"HTTP/1.") == 2
    assert answer.startswith(b"HTTP/1.1 200")
    error = answer[answer.rindex(b"HTTP/1.") :]
    assert error.startswith(b"HTTP/1.0 400")
    assert b"application/json" in error
    assert b"X-Request-ID" in error
    assert b"NOT HTTP" not in error


async def test_an_answer_is_held_until_sent_and_a_full_budget_refuses_calls_unread() -> None:
    admission = Admission(10)
    calls = call_admission(admission)
    answer = kv_pb2.GetResponse(key="k" * (calls.answers.limit + 1))
    served = FakeCall(kv_pb2.GetRequest(key="k").SerializeToString())
    taken = await calls.take(GET, served, counted=True)  # type: ignore[arg-type]
    assert isinstance(taken, Admitted)
    assert taken.held is not None
    calls.hold_answer(taken.held, answer)
    assert calls.answers.held == answer.ByteSize()
    busy = FakeCall(b"")
    refused = await calls.take(GET, busy, counted=True)  # type: ignore[arg-type]
    assert isinstance(refused, Refusal)
    assert refused.code == grpc.StatusCode.UNAVAILABLE
    assert "answers" in refused.message
    assert not busy.reading
    served.finish()
    assert calls.answers.held == 0
