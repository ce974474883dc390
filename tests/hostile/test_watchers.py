"""Watchers bounded by configuration: `KV_MAX_WATCHERS` over both transports, and non-readers.

A real `kv-server` (HTTP and gRPC, one process) on loopback. The count of
open watches is one per server, shared by the transports; a watch over the
limit is refused at once (HTTP 503 `unavailable` with Retry-After, gRPC
UNAVAILABLE) and a place frees when a watch ends. Watchers that ask for a
long history of large values and never read cost the server one bounded
batch each, not the history, and are cut off.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import grpc
import pytest

from kv.v1 import kv_pb2, kv_pb2_grpc
from tests.hostile.conftest import start_both
from tests.hostile.wire import (
    TIMEOUT,
    exchange,
    json_put,
    peak_rss_mb,
    request,
    statuses,
    watchdog,
)
from tests.servers import KvServer

pytestmark = pytest.mark.e2e

STREAM_HEAD = b"HTTP/1.1 200 OK"


def open_http_watch(server: KvServer, query: str = "", *, receive_buffer: int = 0) -> socket.socket:
    """A connection whose watch was answered 200 (its head read, nothing more)."""
    sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=TIMEOUT)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.sendall(request("GET", f"/v1/watch{query}").replace(b"Connection: close\r\n", b""))
    head = sock.recv(len(STREAM_HEAD))
    assert head == STREAM_HEAD, head
    return sock


def refused_http_watch(server: KvServer) -> bytes:
    """A watch that must be refused: its whole answer (the server closes the connection)."""
    return exchange(server.http_port, request("GET", "/v1/watch"))


@contextmanager
def grpc_watch(server: KvServer) -> Iterator[object]:
    """An open gRPC Watch whose stream has started: it got its first event (from the history)."""
    exchange(server.http_port, json_put("/v1/kv/hello/x", b'{"value":1}'))
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = kv_pb2_grpc.KeyValueStub(channel)
        call = stub.Watch(kv_pb2.WatchRequest(prefix="hello/", from_revision=1), timeout=TIMEOUT)
        assert next(call).key == "hello/x"
        try:
            yield call
        finally:
            call.cancel()


def grpc_watch_status(server: KvServer) -> tuple[grpc.StatusCode, str]:
    """The status a new gRPC Watch is ended with (it must be refused before any event)."""
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = kv_pb2_grpc.KeyValueStub(channel).Watch(kv_pb2.WatchRequest(), timeout=TIMEOUT)
        try:
            for _ in call:
                raise AssertionError("a watch over the limit got an event")
        except grpc.RpcError as error:
            return error.code(), error.details() or ""  # type: ignore[attr-defined]
    raise AssertionError("a watch over the limit ended OK")


def wait_until_accepted(server: KvServer) -> socket.socket:
    """Poll until a new HTTP watch is taken on (a place was freed); generous on a loaded machine."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        answer = b""
        sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=TIMEOUT)
        sock.sendall(request("GET", "/v1/watch").replace(b"Connection: close\r\n", b""))
        answer = sock.recv(len(STREAM_HEAD))
        if answer == STREAM_HEAD:
            return sock
        sock.close()
        time.sleep(0.1)
    raise AssertionError(f"no place freed within {TIMEOUT} s: {answer!r}")


def test_the_watcher_limit_is_one_count_over_both_transports(tmp_path: Path) -> None:
    server = start_both(tmp_path, KV_MAX_WATCHERS="4", KV_WATCH_HEARTBEAT_SECONDS="0.5")
    try:
        with ExitStack() as stack:
            http_watches = [stack.enter_context(open_http_watch(server)) for _ in range(2)]
            stack.enter_context(grpc_watch(server))
            stack.enter_context(grpc_watch(server))

            refused = refused_http_watch(server)
            assert statuses(refused) == [503]
            assert b"\r\nRetry-After: 1\r\n" in refused
            document = json.loads(refused.split(b"\r\n\r\n", 1)[1])
            assert document["error"]["code"] == "unavailable"
            assert "4 watches open" in document["error"]["message"]
            code, details = grpc_watch_status(server)
            assert code is grpc.StatusCode.UNAVAILABLE
            assert "4 watches open" in details

            # Every other request is served as before.
            assert statuses(exchange(server.http_port, request("GET", "/v1/kv/hello/x"))) == [200]

            # A watcher that leaves frees its place (noticed at the latest by a heartbeat).
            http_watches[0].close()
            stack.enter_context(wait_until_accepted(server))
            assert statuses(refused_http_watch(server)) == [503]
        # All of them gone (the gRPC calls cancelled): places for as many again.
        with ExitStack() as stack:
            for _ in range(4):
                stack.enter_context(wait_until_accepted(server))
    finally:
        assert server.process.stop() == 0, server.process.log()


LARGE_VALUES = 40
LARGE_VALUE = b'{"value":"' + b"x" * (512 * 1024) + b'"}'
MAX_WATCHERS = 50
# Far below what 50 watchers would hold if each kept its own copy of the 20 MB of history.
BOUND_MB = 300.0


def try_non_reading_watch(server: KvServer) -> socket.socket | None:
    """A watch of the whole history whose client reads its head and nothing more; None: 503."""
    sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=TIMEOUT)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(request("GET", "/v1/watch?from_revision=1"))
    head = sock.recv(len(STREAM_HEAD))
    if head == STREAM_HEAD:
        return sock
    assert statuses(head + sock.recv(1024)) == [503]
    sock.close()
    return None


def test_watchers_that_never_read_a_long_history_are_bounded(tmp_path: Path) -> None:
    server = start_both(
        tmp_path,
        KV_MAX_WATCHERS=str(MAX_WATCHERS),
        KV_WATCH_HEARTBEAT_SECONDS="5",
        KV_WRITE_TIMEOUT="5",
    )
    try:
        for n in range(LARGE_VALUES):
            put = json_put(f"/v1/kv/big/{n}", LARGE_VALUE)
            assert statuses(exchange(server.http_port, put)) == [201]
        before = peak_rss_mb(server.process.pid)
        with watchdog(server), ExitStack() as stack:
            # Each asks for the whole history (20 MB) and reads nothing after the head.
            opened = [try_non_reading_watch(server) for _ in range(3 * MAX_WATCHERS)]
            watchers = [stack.enter_context(sock) for sock in opened if sock is not None]
            assert MAX_WATCHERS <= len(watchers) < len(opened)
            # Cut off as too slow: their places free again, while they are still connected.
            stack.enter_context(wait_until_accepted(server))
            peak = peak_rss_mb(server.process.pid)
        assert peak < BOUND_MB, f"peak RSS {peak:.0f} MB (before the watchers: {before:.0f} MB)"
    finally:
        assert server.process.stop() == 0, server.process.log()
