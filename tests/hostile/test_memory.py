"""Memory bounded by configuration, not by the clients.

Peak resident memory (VmHWM) of a real `kv-server` under the probes: 16
concurrent maximum-size gRPC messages of the costliest kind, and 300 HTTP
clients that pipeline reads of a 1 MiB value and never read the answers.
Each round must peak under 300 MB, and further rounds of the same load must
not keep memory (tests/hostile/rounds.py tells a leak from a loaded machine). A
watchdog stops the server once it is far past the bound, so a regression
fails fast instead of exhausting the machine.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from kv.domain.model import DEFAULT_MAX_VALUE_BYTES
from kv.transports.grpc.call_admission import READ_SLOTS, max_item_tags
from tests.hostile.conftest import start_both
from tests.hostile.rounds import ROUNDS, SETTLED_GROWTH, assert_no_leak, settled_rss_mb
from tests.hostile.wire import (
    exchange,
    field,
    json_put,
    peak_rss_mb,
    put_request,
    raw_call,
    reset_peak_rss,
    rss_mb,
    statuses,
    varint,
    watchdog,
)
from tests.servers import KvServer

pytestmark = pytest.mark.e2e

BOUND_MB = 300.0
# Memory a burst may cost beyond the messages the server reads at once:
# grpc's own buffers and what the allocator keeps between frees.
ALLOCATOR_SLACK_MB = 32.0


def worst_case_put(size: int, items: int | None = None) -> bytes:
    """A PutRequest of about `size` bytes holding a list of unset `Value`s, 2 bytes each.

    The costliest message per byte to parse: each empty `Value` is a message
    of its own for protobuf, about 50 bytes in memory. With `items`, only so
    many, and the rest of `size` an unknown field: the most items the server
    parses (`max_item_tags`), in a message as large as it accepts.
    """
    count = (size - 64) // 2 if items is None else items
    body = b"\x0a\x00" * count  # ListValue.values: an empty Value
    value = b"\x32" + varint(len(body)) + body  # Value.list_value
    message = put_request(b"worst-case", value)
    if items is not None:
        message += field(1000, b"x" * (size - len(message) - 16))
    return message


def max_message_bytes() -> int:
    # Just under what the server accepts: 5.5 bytes per byte of the value limit.
    return 11 * ((DEFAULT_MAX_VALUE_BYTES - 1) // 2)


def grpc_round(server: KvServer, message: bytes, calls: int = 16) -> Counter[grpc.StatusCode]:
    barrier = threading.Barrier(calls)

    def one() -> grpc.StatusCode:
        barrier.wait(timeout=60)
        return raw_call(server.grpc_target, "/kv.v1.KeyValue/Put", message, timeout=120)[0]

    with ThreadPoolExecutor(calls) as pool:
        return Counter(pool.map(lambda _: one(), range(calls)))


@pytest.mark.parametrize(
    "items",
    [None, max_item_tags(DEFAULT_MAX_VALUE_BYTES) - 8],
    ids=["most-items", "most-items-parsed"],
)
def test_16_concurrent_worst_case_grpc_messages(tmp_path: Path, items: int | None) -> None:
    server = start_both(tmp_path)
    message = worst_case_put(max_message_bytes(), items)
    assert len(message) <= max_message_bytes()
    try:
        idle = rss_mb(server.process.pid)
        with watchdog(server):
            outcomes, peaks, settled = [], [], []
            for _ in range(ROUNDS):
                reset_peak_rss(server.process.pid)
                outcomes.append(grpc_round(server, message))
                peaks.append(peak_rss_mb(server.process.pid))
                settled.append(settled_rss_mb(server, idle * SETTLED_GROWTH))
        print(
            f"gRPC: peak RSS after each round {[round(peak) for peak in peaks]} MB, "
            f"settled at {[round(mb) for mb in settled]} MB from {idle:.0f}; {outcomes}"
        )
        # Refused as too large (more items than a value within the limit can
        # hold), or as busy: never anything else.
        for outcome in outcomes:
            assert set(outcome) <= {
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                grpc.StatusCode.UNAVAILABLE,
            }, outcome
            assert outcome[grpc.StatusCode.RESOURCE_EXHAUSTED] >= 1
        assert_no_leak(peaks, settled, idle, BOUND_MB)
        # The server still serves, and a value at the limit is still accepted.
        at_limit = field(6, b"".join(field(1, b"\x11" + bytes(8)) for _ in range(1000)))
        assert (
            raw_call(server.grpc_target, "/kv.v1.KeyValue/Put", put_request(b"k", at_limit))[0]
            == grpc.StatusCode.OK
        )
    finally:
        assert server.process.stop() == 0, server.process.log()[-3000:]


def test_worst_case_grpc_messages_over_many_connections_cost_only_the_read_slots(
    tmp_path: Path,
) -> None:
    # Four times KV_MAX_CONCURRENT_REQUESTS uploads at once, each on a
    # connection of its own, so that no cap per connection bounds them. Calls
    # past the cap are refused unread, and those taken on are read READ_SLOTS
    # at a time, each message held twice at most (in grpc's core as it
    # arrives, then as bytes): what the burst costs is bounded by that, with
    # some room for the allocator.
    server = start_both(tmp_path)
    message = worst_case_put(max_message_bytes())
    try:
        idle = rss_mb(server.process.pid)
        reset_peak_rss(server.process.pid)
        with watchdog(server):
            outcome = grpc_round(server, message, calls=128)
            peak = peak_rss_mb(server.process.pid)
        print(f"gRPC, 128 connections: peak RSS {peak:.0f} MB from {idle:.0f}; {outcome}")
        assert set(outcome) <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE}
        reads_mb = READ_SLOTS * 2 * len(message) / 2**20
        assert peak - idle <= reads_mb + ALLOCATOR_SLACK_MB, (peak, idle)
    finally:
        assert server.process.stop() == 0, server.process.log()[-3000:]


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def non_reading_clients(port: int, count: int, pipelined: int) -> list[socket.socket]:
    """`count` connections that each send `pipelined` GETs of the big value, then never read."""
    burst = b"GET /v1/kv/big HTTP/1.1\r\nHost: localhost\r\n\r\n" * pipelined
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(burst)
        sockets.append(sock)
    return sockets


def http_round(server: KvServer, baseline_fds: int) -> None:
    clients = non_reading_clients(server.http_port, 300, 16)
    try:
        # The write timeout closes every one of them: the server's descriptors
        # go back to what they were.
        deadline = time.monotonic() + 120
        while open_fds(server.process.pid) > baseline_fds + 5:
            assert time.monotonic() < deadline, open_fds(server.process.pid)
            time.sleep(0.2)
    finally:
        for sock in clients:
            sock.close()


def test_300_http_clients_that_never_read(tmp_path: Path) -> None:
    # The connections answered only 503s are closed as idle.
    server = start_both(tmp_path, KV_WRITE_TIMEOUT="2", KV_IDLE_TIMEOUT="2")
    big = b'{"value": "%s"}' % (b"x" * (DEFAULT_MAX_VALUE_BYTES - 2))
    try:
        assert statuses(exchange(server.http_port, json_put("/v1/kv/big", big))) == [201]
        baseline_fds = open_fds(server.process.pid)
        idle = rss_mb(server.process.pid)
        peaks, settled = [], []
        with watchdog(server):
            for _ in range(ROUNDS):
                reset_peak_rss(server.process.pid)
                http_round(server, baseline_fds)
                peaks.append(peak_rss_mb(server.process.pid))
                settled.append(settled_rss_mb(server, idle * SETTLED_GROWTH))
        print(
            f"HTTP: peak RSS after each round {[round(peak) for peak in peaks]} MB, "
            f"settled at {[round(mb) for mb in settled]} MB from {idle:.0f}"
        )
        assert_no_leak(peaks, settled, idle, BOUND_MB)
        assert "has not read its responses" in server.process.log()
    finally:
        assert server.process.stop() == 0, server.process.log()[-3000:]
