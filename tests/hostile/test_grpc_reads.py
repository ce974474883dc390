"""How the gRPC server reads requests: a few at a time, each within the read timeout.

kv.transports.grpc.call_admission reads a call's message only once the call is
taken on, in one of READ_SLOTS slots, and refuses UNAVAILABLE a call that
waits for a slot longer than SLOT_WAIT_SECONDS. These probes open calls that
send their headers and then nothing, as a slow or hostile client does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from kv.transports.grpc.call_admission import READ_SLOTS
from tests.hostile.conftest import start_both
from tests.hostile.wire import raw_call
from tests.servers import KvServer

pytestmark = pytest.mark.e2e

GET = "/kv.v1.KeyValue/Get"
READ_TIMEOUT = 5.0  # KV_IDLE_TIMEOUT: how long a message may take to arrive


def stalled_calls(
    channel: grpc.Channel, count: int, release: threading.Event
) -> list[grpc.Future[bytes]]:
    """`count` Get calls whose client sends the headers and no message until `release`."""

    def nothing() -> Iterator[bytes]:
        release.wait(120)
        return
        yield b""  # a generator that yields nothing

    return [channel.stream_unary(GET).future(nothing(), timeout=120) for _ in range(count)]


def hold_every_read_slot(
    server: KvServer, channel: grpc.Channel, release: threading.Event
) -> list[grpc.Future[bytes]]:
    """READ_SLOTS stalled calls, once the server has taken them all on.

    Shown by another call: it waits for a slot and is refused, unread and
    safe to retry, while they hold every one.
    """
    stalled = stalled_calls(channel, READ_SLOTS, release)
    deadline = time.monotonic() + 60
    while not any(call.done() for call in stalled) and time.monotonic() < deadline:
        status, details = raw_call(server.grpc_target, GET, b"\x0a\x01k")
        if status == grpc.StatusCode.UNAVAILABLE:
            assert f"reading {READ_SLOTS} other requests" in details
            return stalled
        time.sleep(0.05)
    raise AssertionError("no call was refused while every read slot was held")


def test_calls_that_send_no_message_hold_the_read_slots_only_until_the_read_timeout(
    tmp_path: Path,
) -> None:
    server = start_both(tmp_path, KV_IDLE_TIMEOUT=str(READ_TIMEOUT))
    release = threading.Event()
    channel = grpc.insecure_channel(server.grpc_target)
    try:
        stalled = hold_every_read_slot(server, channel, release)
        # Each stalled call is answered once the read timeout passes.
        for call in stalled:
            error = call.exception(timeout=60)
            assert isinstance(error, grpc.RpcError)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
            assert "not received in time" in (error.details() or "")  # type: ignore[attr-defined]
        # Then the slots serve again.
        assert raw_call(server.grpc_target, GET, b"\x0a\x01k")[0] == grpc.StatusCode.NOT_FOUND
    finally:
        release.set()
        channel.close()
        assert server.process.stop() == 0, server.process.log()[-3000:]


def test_a_call_that_sends_no_message_before_half_closing_is_invalid(
    hostile_server: KvServer,
) -> None:
    with (
        grpc.insecure_channel(hostile_server.grpc_target) as channel,
        pytest.raises(grpc.RpcError) as raised,
    ):
        channel.stream_unary(GET)(iter(()), timeout=60)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "no GetRequest" in (raised.value.details() or "")  # type: ignore[attr-defined]
