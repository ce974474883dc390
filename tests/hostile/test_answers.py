"""HTTP answers larger than their requests, to clients that never read them.

A list page of large values, and pipelined GETs of a large value, must hold
neither the server's memory (a page of 100 values of 1 MiB) nor its request
slots until the write timeout (every other client, `/healthz` included, would
get 503), nor memory once those clients are gone. Checked against a real
`kv-server`: its resident memory over rounds of the same load (rounds.py),
and what other clients get.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from kv.domain.model import DEFAULT_MAX_VALUE_BYTES
from kv.transports.budget import answer_limit
from tests.hostile.conftest import start_both
from tests.hostile.rounds import ROUNDS, SETTLED_GROWTH, assert_no_leak, settled_rss_mb
from tests.hostile.wire import (
    TIMEOUT,
    exchange,
    json_put,
    peak_rss_mb,
    reset_peak_rss,
    statuses,
    watchdog,
)
from tests.servers import KvServer

pytestmark = pytest.mark.e2e

# KV_MAX_CONCURRENT_REQUESTS's default; an answer is held about twice while it is
# written (the body, and what the connection's buffer copied of it).
ANSWER_BUDGET_MB = 2 * answer_limit(32, DEFAULT_MAX_VALUE_BYTES) / 2**20
SLACK_MB = 64.0


def big_value_body() -> bytes:
    return b'{"value": "%s"}' % (b"x" * (DEFAULT_MAX_VALUE_BYTES - 2))


def non_reading(port: int, requests: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(requests)
    return sock


def rounded(figures: list[float]) -> list[int]:
    return [round(mb) for mb in figures]


def status_of(server: KvServer, path: str) -> int:
    try:
        with urlopen(server.url + path, timeout=TIMEOUT) as response:
            return int(response.status)
    except HTTPError as error:
        return error.code


def test_list_pages_of_large_values_to_clients_that_never_read(tmp_path: Path) -> None:
    # 100 values of 1 MiB; 100 clients ask for a page of 100 and never read it. A
    # page is bounded in bytes, and the answers waiting for them by the answer budget.
    server = start_both(tmp_path)
    try:
        for n in range(100):
            put = json_put(f"/v1/kv/L/{n:03}", big_value_body())
            assert statuses(exchange(server.http_port, put)) == [201]
        idle = settled_rss_mb(server, 0)
        listing = b"GET /v1/kv?prefix=L%2F&limit=100 HTTP/1.1\r\nHost: localhost\r\n\r\n"
        peaks, settled, health = [], [], []
        with watchdog(server):
            for _ in range(ROUNDS):
                reset_peak_rss(server.process.pid)
                clients = [non_reading(server.http_port, listing) for _ in range(100)]
                try:
                    time.sleep(1.0)
                    peaks.append(peak_rss_mb(server.process.pid))
                    health.append(status_of(server, "/healthz"))
                finally:
                    for sock in clients:
                        sock.close()
                settled.append(settled_rss_mb(server, idle * SETTLED_GROWTH))
        print(f"HTTP pages: peaks {rounded(peaks)}, settled {rounded(settled)} from {idle:.0f} MB")
        assert health == [200] * ROUNDS
        assert_no_leak(peaks, settled, idle, idle + ANSWER_BUDGET_MB + SLACK_MB)
        page = json.loads(urlopen(server.url + "/v1/kv?prefix=L%2F&limit=100").read())
        assert len(page["entries"]) == 1
        assert page["next_cursor"] is not None
    finally:
        assert server.process.stop() == 0, server.process.log()[-3000:]


def test_clients_that_never_read_do_not_hold_the_request_slots(tmp_path: Path) -> None:
    # 100 clients pipeline 4 GETs of a 1 MiB value and never read. A slot is held
    # while a request is served, not while its answer waits for a reader, and the
    # health checks hold none: others are served meanwhile.
    server = start_both(tmp_path)
    try:
        assert statuses(exchange(server.http_port, json_put("/v1/kv/big", big_value_body()))) == [
            201
        ]
        assert statuses(exchange(server.http_port, json_put("/v1/kv/small", b'{"value": 1}'))) == [
            201
        ]
        idle = settled_rss_mb(server, 0)
        gets = b"GET /v1/kv/big HTTP/1.1\r\nHost: localhost\r\n\r\n" * 4
        peaks, settled, answered = [], [], []
        with watchdog(server):
            for _ in range(ROUNDS):
                reset_peak_rss(server.process.pid)
                clients = [non_reading(server.http_port, gets) for _ in range(100)]
                try:
                    time.sleep(1.0)
                    answered.append(
                        {
                            path: status_of(server, path)
                            for path in ("/healthz", "/readyz", "/v1/kv/small")
                        }
                    )
                    peaks.append(peak_rss_mb(server.process.pid))
                finally:
                    for sock in clients:
                        sock.close()
                # The answers being written when their clients went are freed with
                # their connections, not left for a garbage collection that an
                # idle server never runs (about one 1 MiB body per held answer).
                settled.append(settled_rss_mb(server, idle * SETTLED_GROWTH))
        print(
            f"HTTP pipelined: peaks {rounded(peaks)}, settled {rounded(settled)} from {idle:.0f} MB"
        )
        assert answered == [{"/healthz": 200, "/readyz": 200, "/v1/kv/small": 200}] * ROUNDS
        assert_no_leak(peaks, settled, idle, idle + ANSWER_BUDGET_MB + SLACK_MB)
    finally:
        assert server.process.stop() == 0, server.process.log()[-3000:]
