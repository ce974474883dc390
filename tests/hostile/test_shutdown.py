"""Shutdown bounded by KV_SHUTDOWN_TIMEOUT whatever the clients do.

Calls that cannot be served during shutdown are answered UNAVAILABLE / 503
(safe to retry), never CANCELLED; a request whose headers arrived before
SIGTERM is served to the end, its body still uploading included.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from kv.transports.grpc.call_admission import READ_SLOTS
from kv.v1 import kv_pb2, kv_pb2_grpc
from tests.hostile.conftest import access_lines, start_both
from tests.hostile.test_grpc_reads import GET, hold_every_read_slot
from tests.hostile.test_memory import (
    grpc_round,
    max_message_bytes,
    non_reading_clients,
    worst_case_put,
)
from tests.hostile.wire import TIMEOUT, exchange, json_put, statuses
from tests.servers import KvServer

pytestmark = pytest.mark.e2e

SHUTDOWN_TIMEOUT = 3.0
# What the process may take past KV_SHUTDOWN_TIMEOUT before the test calls it a defect:
# starting and stopping the interpreter's work takes seconds of its own when other
# processes hold the cores. A shutdown that waits for its clients (they never read, never
# send, or retry forever here) takes far longer, and one that ignores KV_SHUTDOWN_TIMEOUT
# for its default (10 s) takes longer than SHUTDOWN_TIMEOUT + EXIT_SLACK too.
EXIT_SLACK = 5.0


def wait_for_log(server: KvServer, text: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while text not in server.process.log():
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{server.process.log()}"
        time.sleep(0.02)


def terminate_and_time(server: KvServer) -> float:
    """SIGTERM, then the seconds until the process exited with status 0."""
    started = time.monotonic()
    server.process.signal(signal.SIGTERM)
    try:
        status = server.process.wait(SHUTDOWN_TIMEOUT + 30)
    except subprocess.TimeoutExpired:
        server.process.signal(signal.SIGKILL)
        raise AssertionError("kv-server did not exit after SIGTERM") from None
    assert status == 0, server.process.log()[-3000:]
    return time.monotonic() - started


def test_sigterm_with_clients_that_never_read_exits_in_time(tmp_path: Path) -> None:
    server = start_both(tmp_path, KV_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT), KV_WRITE_TIMEOUT="600")
    big = b'{"value": "%s"}' % (b"x" * (1024 * 1024 - 2))
    assert statuses(exchange(server.http_port, json_put("/v1/kv/big", big))) == [201]
    clients = non_reading_clients(server.http_port, 100, 16)
    try:
        # Wait until the server answers (and then holds answers it cannot send).
        deadline = time.monotonic() + TIMEOUT
        while not _has_data(clients[0]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        took = terminate_and_time(server)
    finally:
        for sock in clients:
            sock.close()
    assert took < SHUTDOWN_TIMEOUT + EXIT_SLACK, took
    assert "Traceback" not in server.process.log()


def test_sigterm_during_16_worst_case_grpc_uploads_exits_in_time(tmp_path: Path) -> None:
    """The gRPC side of the probe above: SIGTERM while the memory probe's uploads arrive."""
    server = start_both(tmp_path, KV_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT))
    message = worst_case_put(max_message_bytes())
    with ThreadPoolExecutor(1) as pool:
        uploads = pool.submit(grpc_round, server, message)
        # Once the first of them has been answered, the others are arriving.
        wait_for_log(server, "/kv.v1.KeyValue/Put")
        took = terminate_and_time(server)
        outcomes = uploads.result(timeout=TIMEOUT)
    assert took < SHUTDOWN_TIMEOUT + EXIT_SLACK, took
    # Refused as too large, or as the server is busy or leaving: never CANCELLED.
    assert {code.name for code in outcomes} <= {"RESOURCE_EXHAUSTED", "UNAVAILABLE"}, outcomes


def test_grpc_calls_around_sigterm_are_ok_or_unavailable_never_cancelled(
    tmp_path: Path,
) -> None:
    server = start_both(tmp_path, KV_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT))
    outcomes: Counter[str] = Counter()
    warmed_up = asyncio.Event()

    async def client(number: int, stop: asyncio.Event) -> None:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = kv_pb2_grpc.KeyValueStub(channel)
            value = kv_pb2.PutRequest(key=f"k{number}")
            value.value.string_value = "x" * 1000
            while not stop.is_set():
                try:
                    await stub.Put(value, timeout=TIMEOUT)
                    outcomes["OK"] += 1
                    if outcomes["OK"] >= 200:
                        warmed_up.set()
                except grpc.aio.AioRpcError as error:
                    outcomes[error.code().name] += 1
                    if error.code() == grpc.StatusCode.UNAVAILABLE:
                        await asyncio.sleep(0.01)

    async def run() -> float:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(client(number, stop)) for number in range(20)]
        await warmed_up.wait()
        took = await asyncio.to_thread(terminate_and_time, server)
        stop.set()
        await asyncio.gather(*tasks)
        return took

    took = asyncio.run(run())
    assert took < SHUTDOWN_TIMEOUT + EXIT_SLACK, took
    # Every call the server took on was answered: OK before SIGTERM, then
    # UNAVAILABLE; none of them was cancelled.
    answered = Counter(
        status
        for method, status in access_lines(server.process.log())
        if method.endswith("/kv.v1.KeyValue/Put")
    )
    assert set(answered) <= {"OK", "UNAVAILABLE"}, answered
    # These clients retry every 10 ms however long the shutdown lasts, so
    # calls keep reaching grpc's core until the server stops; the core resets
    # those it has not handed to the server yet with CANCELLED (grpc/grpc#41785:
    # 0-17 per run before the server closed its connections before stopping,
    # see kv/transports/grpc/grpc_internals.py). Now they are UNAVAILABLE too.
    assert set(outcomes) == {"OK", "UNAVAILABLE"}, outcomes
    print(f"gRPC calls around SIGTERM: {dict(outcomes)}; served: {dict(answered)}")


def test_grpc_calls_in_flight_at_sigterm_are_unavailable_not_cancelled(tmp_path: Path) -> None:
    """Clients that back off on UNAVAILABLE are never answered CANCELLED.

    Each of 20 clients puts in a loop and stops at its first UNAVAILABLE, as
    a client with a retry backoff longer than the shutdown would. The calls
    in flight at SIGTERM have reached grpc's core but not yet the servicer;
    stopping grpc's server at once would have the core reset them CANCELLED
    (grpc/grpc#41785), so they must be let in and answered UNAVAILABLE
    before the server stops.
    """
    server = start_both(tmp_path, KV_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT))
    outcomes: Counter[str] = Counter()
    warmed_up = asyncio.Event()

    async def client(number: int) -> None:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = kv_pb2_grpc.KeyValueStub(channel)
            value = kv_pb2.PutRequest(key=f"k{number}")
            value.value.string_value = "x" * 1000
            while True:
                try:
                    await stub.Put(value, timeout=TIMEOUT)
                except grpc.aio.AioRpcError as error:
                    outcomes[error.code().name] += 1
                    return
                outcomes["OK"] += 1
                if outcomes["OK"] >= 200:
                    warmed_up.set()

    async def run() -> float:
        tasks = [asyncio.create_task(client(number)) for number in range(20)]
        await warmed_up.wait()
        took = await asyncio.to_thread(terminate_and_time, server)
        await asyncio.gather(*tasks)
        return took

    took = asyncio.run(run())
    assert took < SHUTDOWN_TIMEOUT + EXIT_SLACK, took
    assert outcomes["UNAVAILABLE"] == 20, outcomes
    assert set(outcomes) == {"OK", "UNAVAILABLE"}, outcomes


def test_an_upload_in_progress_at_sigterm_is_served_to_the_end(tmp_path: Path) -> None:
    server = start_both(tmp_path, KV_SHUTDOWN_TIMEOUT="30")
    body = b'{"value": "%s"}' % (b"y" * 200_000)
    head = (
        b"PUT /v1/kv/uploaded HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=TIMEOUT) as upload:
        upload.sendall(head + body[:1000])
        # A kept-alive connection that asks for more after SIGTERM.
        with socket.create_connection(("127.0.0.1", server.http_port), timeout=TIMEOUT) as idle:
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert idle.recv(65536).startswith(b"HTTP/1.1 200")
            server.process.signal(signal.SIGTERM)
            wait_for_log(server, "shutting down")
            # (Not /healthz, which holds no request slot and is answered until the end.)
            idle.sendall(b"GET /v1/kv/uploaded HTTP/1.1\r\nHost: localhost\r\n\r\n")
            refused = _read_all(idle)
        upload.sendall(body[1000:])
        answer = _read_all(upload)
    assert statuses(answer) == [201], answer[:300]
    assert statuses(refused) == [503], refused
    assert b"Retry-After" in refused
    assert json.loads(refused.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "unavailable"
    assert server.process.wait(TIMEOUT) == 0


def _has_data(sock: socket.socket) -> bool:
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return False


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_grpc_calls_whose_message_has_not_arrived_by_the_timeout_are_unavailable(
    tmp_path: Path,
) -> None:
    """Calls taken on wait for their message until the shutdown timeout; these never send it."""
    server = start_both(tmp_path, KV_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT), KV_IDLE_TIMEOUT="60")
    release = threading.Event()
    with grpc.insecure_channel(server.grpc_target) as channel:
        try:
            stalled = hold_every_read_slot(server, channel, release)
            took = terminate_and_time(server)
        finally:
            release.set()
        errors = [call.exception(timeout=TIMEOUT) for call in stalled]
    assert took < SHUTDOWN_TIMEOUT + EXIT_SLACK, took
    # Nothing was done: safe to retry, and logged so, not CANCELLED.
    assert [error.code() for error in errors] == [grpc.StatusCode.UNAVAILABLE] * READ_SLOTS  # type: ignore[union-attr]
    lines = access_lines(server.process.log())
    assert lines.count((GET, "UNAVAILABLE")) == READ_SLOTS + 1  # and the call refused unread
