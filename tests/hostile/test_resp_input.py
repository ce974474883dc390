"""RESP requests whose size no limit governed: headers announcing more than any request
holds, uploads that never finish on many connections, and answers larger than the request.

Each probe runs against a real `kv-server` and checks what the defect broke: the
reply (an immediate `-ERR Protocol error` rather than a stall or a dropped
connection), the server's resident memory, and `/healthz` staying answered.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.request import urlopen

import pytest

from kv.domain.model import DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES
from kv.transports.budget import received_limit
from kv.transports.resp.server import REQUEST_SLACK_BYTES
from tests.hostile.conftest import start_both
from tests.hostile.wire import (
    TIMEOUT,
    cpu_seconds,
    peak_rss_mb,
    read_until_closed,
    rss_mb,
    watchdog,
)
from tests.servers import KvServer, free_port, wait_port_open

pytestmark = pytest.mark.e2e

# What a burst may cost beyond the budget it is held to: the connections' own
# objects, a read's worth of bytes in flight each, the allocator's slack.
SLACK_MB = 64.0
MAX_REQUEST_BYTES = DEFAULT_MAX_VALUE_BYTES + MAX_KEY_BYTES + REQUEST_SLACK_BYTES
# KV_MAX_CONCURRENT_REQUESTS's default.
RECEIVE_BUDGET_MB = received_limit(32, MAX_REQUEST_BYTES) / 2**20


def command(*words: bytes) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)


@contextmanager
def resp_server(tmp_path: Path, **env: str) -> Iterator[tuple[KvServer, int]]:
    port = free_port()
    server = start_both(tmp_path, TRANSPORT="http,resp", KV_RESP_PORT=str(port), **env)
    wait_port_open(port, server.process)
    try:
        yield server, port
    finally:
        assert server.process.stop() == 0, server.process.log()[-3000:]


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def healthz(server: KvServer) -> int:
    """/healthz's status, answered within TIMEOUT (a stalled event loop answers nothing)."""
    with urlopen(server.url + "/healthz", timeout=TIMEOUT) as response:
        return int(response.status)


@pytest.mark.parametrize(
    "header",
    [
        b"*2147483647\r\n",
        b"*4294967295\r\n",
        b"*1\r\n$99999999999\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1200000\r\n",
    ],
    ids=["2^31-words", "2^32-words", "huge-bulk", "value-past-the-limit"],
)
def test_headers_announcing_too_much_are_refused_at_once(tmp_path: Path, header: bytes) -> None:
    # Refused from the header alone: nothing allocated for what it announces, no
    # stall of the event loop (so /healthz answers), the error the protocol promises.
    # A stall is the server's own work, about 7 s of CPU per connection when the
    # header's list was allocated: measured as CPU time, which the scheduler of a
    # loaded machine does not stretch as it does the time /healthz takes.
    with resp_server(tmp_path) as (server, port):
        spent = cpu_seconds(server.process.pid)
        health = []
        for _ in range(3):
            with connect(port) as sock:
                sock.sendall(header)
                assert read_line(sock).startswith(b"-ERR Protocol error")
                assert read_until_closed(sock) == b""
            health.append(healthz(server))
        spent = cpu_seconds(server.process.pid) - spent
        assert health == [200] * 3
        assert spent < 1.0, f"{spent:.2f} s of CPU for 3 headers and 3 /healthz"
        log = server.process.log()
        assert "MemoryError" not in log
        assert "Traceback" not in log


def test_uploads_that_never_finish_hold_only_the_receive_budget(tmp_path: Path) -> None:
    # Every connection announces a value at the limit and sends most of it: what
    # the server keeps of them is the receive budget's, whatever their number.
    connections = 400
    announced = DEFAULT_MAX_VALUE_BYTES
    head = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % announced
    body = b"x" * (announced - 64 * 1024)
    with resp_server(tmp_path) as (server, port):
        idle = rss_mb(server.process.pid)
        sockets = []
        with watchdog(server):
            try:
                for _ in range(connections):
                    sock = connect(port)
                    sockets.append(sock)
                    sock.sendall(head + body)
                peak = peak_rss_mb(server.process.pid)
                health = healthz(server)
                refused = 0
                for sock in sockets:
                    sock.settimeout(0.05)
                    with suppress(TimeoutError):
                        refused += sock.recv(64).startswith(b"-TRYAGAIN")
            finally:
                for sock in sockets:
                    sock.close()
        print(f"RESP uploads: peak {peak:.0f} MB from {idle:.0f}; {refused} refused")
        assert peak - idle < RECEIVE_BUDGET_MB + SLACK_MB, (peak, idle)
        assert refused >= connections - RECEIVE_BUDGET_MB, refused
        assert health == 200


def test_mget_of_one_large_value_many_times_is_sent_as_read(tmp_path: Path) -> None:
    # A 14 KB request asks for 1,400 copies of a 1 MiB value: made as the client
    # reads, it costs the server a value at a time. Ten clients ask, and never read.
    value = b"x" * (DEFAULT_MAX_VALUE_BYTES - 2)
    with resp_server(tmp_path, KV_WRITE_TIMEOUT="3") as (server, port):
        with connect(port) as sock:
            sock.sendall(command(b"SET", b"big", value))
            assert read_line(sock) == b"+OK\r\n"
        idle = rss_mb(server.process.pid)
        with watchdog(server):
            readers = [connect(port) for _ in range(10)]
            try:
                for sock in readers:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    sock.sendall(command(b"MGET", *[b"big"] * 1400))
                time.sleep(1.0)
                peak = peak_rss_mb(server.process.pid)
                health = healthz(server)
            finally:
                for sock in readers:
                    sock.close()
            # And one that reads gets every copy.
            with connect(port) as sock:
                sock.sendall(command(b"MGET", *[b"big"] * 50) + command(b"QUIT"))
                received = read_until_closed(sock)
        print(f"RESP MGET: peak {peak:.0f} MB from {idle:.0f}")
        assert received.startswith(b"*50\r\n")
        assert received.count(value) == 50
        assert peak - idle < 10 * 2 + SLACK_MB, (peak, idle)
        assert health == 200
        assert "never retrieved" not in server.process.log()
