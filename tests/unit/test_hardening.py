"""The limits of issue 11 one piece at a time: nesting, JSON depth, Value conversion, admission,
the gRPC message limit and the HTTP write timeout (end to end in tests/hostile)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc
import pytest

from kv.domain import InvalidRequest, ValueTooLarge
from kv.domain.model import MAX_NESTING, check_nesting
from kv.json_codec import nesting_depth, read_json
from kv.transports.admission import Admission
from kv.transports.grpc.admission import Admitted, Refusal, guarded_deserializer
from kv.transports.grpc.server import max_message_bytes
from kv.transports.grpc.values import from_json, to_json
from kv.transports.http.limits import ConnectionWatch
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
    assert admission.refusal(1000) is None  # one is always taken on
    admission.enter(1000)
    assert "bytes" in (admission.refusal(1) or "")
    admission.leave(1000)
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


def test_the_guarded_deserializer_refuses_instead_of_raising() -> None:
    admission = Admission(1)
    parse = guarded_deserializer(admission, kv_pb2.GetRequest.FromString, "GetRequest")
    parsed = parse(kv_pb2.GetRequest(key="k").SerializeToString())
    assert isinstance(parsed, Admitted)
    assert parsed.message.key == "k"
    malformed = parse(b"\x0a\x01\xff")  # a key that is not UTF-8
    assert isinstance(malformed, Refusal)
    assert malformed.code == grpc.StatusCode.INVALID_ARGUMENT
    admission.enter()
    busy = parse(b"")
    assert isinstance(busy, Refusal)
    assert busy.code == grpc.StatusCode.UNAVAILABLE


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
    watch = ConnectionWatch(server, timeout=5.0)  # type: ignore[arg-type]
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
    watch = ConnectionWatch(server, timeout=1.0)  # type: ignore[arg-type]
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
        port = int(served.client_settings.kv_url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP\x00\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 30)
        writer.close()
    assert answer.count(b"HTTP/1.") == 2
    assert answer.startswith(b"HTTP/1.1 200")
    error = answer[answer.rindex(b"HTTP/1.") :]
    assert error.startswith(b"HTTP/1.0 400")
    assert b"application/json" in error
    assert b"X-Request-ID" in error
    assert b"NOT HTTP" not in error
