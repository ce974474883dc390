"""Malformed and hostile HTTP input: every one a 4xx in the API's shape, nothing stored.

Bodies too large or too deep, malformed requests and headers, 100-continue, and their neighbours.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.hostile.conftest import start_both
from tests.hostile.wire import (
    TIMEOUT,
    body_of,
    exchange,
    json_put,
    nested_json,
    request,
    statuses,
)
from tests.servers import KvServer

pytestmark = pytest.mark.e2e


def error_code(raw: bytes) -> str:
    code: str = json.loads(body_of(raw))["error"]["code"]
    return code


# JSON nested past the limit is refused before any store sees it: no write is
# applied, and no later read of the key fails on it.
@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_values_nested_too_deep_are_400_and_never_stored(tmp_path: Path, store: str) -> None:
    server = start_both(tmp_path, KV_STORE=store)
    try:
        for depth in (33, 500, 980, 981, 5000, 100_000):
            key = f"/v1/kv/deep-{depth}"
            answer = exchange(
                server.http_port, json_put(key, b'{"value": %s}' % nested_json(depth))
            )
            assert statuses(answer) == [400], (depth, answer[:300])
            assert error_code(answer) == "invalid_request"
            assert statuses(exchange(server.http_port, request("GET", key))) == [404]
        # The same text inside a string is a string, and not deep at all.
        inside = b'{"value": "%s"}' % nested_json(5000)
        assert statuses(exchange(server.http_port, json_put("/v1/kv/text", inside))) == [201]
        at_limit = json_put("/v1/kv/deep-32", b'{"value": %s}' % nested_json(32))
        assert statuses(exchange(server.http_port, at_limit)) == [201]
        assert statuses(exchange(server.http_port, request("GET", "/v1/kv/deep-32"))) == [200]
    finally:
        assert server.process.stop() == 0
    assert "Traceback" not in server.process.log()


# Any character is a key's, control characters and line breaks included.
@pytest.mark.parametrize("character", ["%0A", "%0D", "%00", "%1F", "%7F", "%0D%0A", "%E2%80%A8"])
def test_keys_with_control_characters_work_on_every_method(
    hostile_server: KvServer, character: str
) -> None:
    port = hostile_server.http_port
    key = f"/v1/kv/a{character}b"
    created = exchange(port, json_put(key, b'{"value": 1}'))
    assert statuses(created) == [201], created
    assert json.loads(body_of(created))["key"] == "a" + _decoded(character) + "b"
    assert statuses(exchange(port, request("GET", key))) == [200]
    assert statuses(exchange(port, request("HEAD", key))) == [200]
    stale = {"If-Match": '"999999"'}
    assert statuses(exchange(port, json_put(key, b'{"value": 2}', stale))) == [412]
    post = request("POST", key, {"Content-Type": "application/json"}, b'{"value": 3}')
    assert statuses(exchange(port, post)) == [409]
    assert statuses(exchange(port, request("DELETE", key))) == [200]
    assert statuses(exchange(port, request("GET", key))) == [404]


def _decoded(character: str) -> str:
    from urllib.parse import unquote

    return unquote(character)


# A malformed If-Match is the client's error (400), never the server's; a
# well-formed one that is no revision's tag (they compare as strings) is 412.
@pytest.mark.parametrize(
    ("tag", "status"),
    [
        ('"' + "9" * 5000 + '"', 412),
        ('"²"', 412),
        ('"١٢"', 412),
        ('"12345678901234567890"', 412),
        ('"9223372036854775808"', 412),
        ('"-1"', 412),
        ('"0"', 412),
        ('""', 412),
        ('"034"', 412),
        ("1", 400),
        ('"1', 400),
        ('"1" "2"', 400),
    ],
)
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_if_match_not_naming_the_revision_is_412_or_400(
    hostile_server: KvServer, tag: str, status: int, method: str
) -> None:
    port = hostile_server.http_port
    assert statuses(exchange(port, json_put("/v1/kv/tagged", b'{"value": 1}'))) in ([200], [201])
    if method == "PUT":
        sent = json_put("/v1/kv/tagged", b'{"value": 2}', {"If-Match": tag})
    else:
        sent = request("DELETE", "/v1/kv/tagged", {"If-Match": tag})
    answer = exchange(port, sent)
    assert statuses(answer) == [status], answer[:300]
    assert error_code(answer) == ("invalid_request" if status == 400 else "precondition_failed")
    assert json.loads(body_of(exchange(port, request("GET", "/v1/kv/tagged"))))["value"] == 1


# A request aiohttp cannot parse gets a 400 in the API's shape, echoing
# nothing of it, and logs no traceback.
@pytest.mark.parametrize(
    "garbage",
    [
        b"GARBAGE\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03secret-looking-bytes\r\n\r\n",
        b"GET /v1/kv/x HTTP/1.1\r\nHost: x\r\nBad Header With Spaces\r\n\r\n",
        b"GET /v1/kv/" + b"x" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/kv/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"PUT /v1/kv/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /v1/kv/x HTTP/1.1\r\nHost: x\r\nX-Secret: \x00sensitive\r\n\r\n",
    ],
)
def test_aiohttps_own_400s_are_json_without_echo_or_traceback(
    hostile_server: KvServer, garbage: bytes
) -> None:
    answer = exchange(hostile_server.http_port, garbage)
    assert statuses(answer) == [400], answer
    head, body = answer.split(b"\r\n\r\n", 1)
    assert b"application/json" in head
    assert error_code(answer) == "invalid_request"
    for echoed in (b"GARBAGE", b"secret", b"Spaces", b"xxxxxxxx", b"sensitive", b"zz"):
        assert echoed not in body
    log = hostile_server.process.log()
    assert "Traceback" not in log
    assert '"level": "ERROR"' not in log


# A valid request followed in the same packet by a malformed one is answered
# before the malformed one gets its 400.
def test_a_valid_request_before_a_malformed_one_in_one_packet_is_answered(
    hostile_server: KvServer,
) -> None:
    port = hostile_server.http_port
    valid = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    for garbage in (b"BAD LINE\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
        assert statuses(exchange(port, valid + garbage)) == [200, 400]
        assert statuses(exchange(port, valid + valid + garbage)) == [200, 200, 400]


# A body the headers already refuse gets its status, not 100 Continue.
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "application/json", "Content-Length": "50000000"}, 413),
        ({"Content-Type": "text/plain", "Content-Length": "10"}, 415),
    ],
)
def test_no_100_continue_before_a_refusal(
    hostile_server: KvServer, headers: dict[str, str], status: int
) -> None:
    lines = ["PUT /v1/kv/upload HTTP/1.1", "Host: x", "Expect: 100-continue"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", hostile_server.http_port), timeout=TIMEOUT) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = _read_head(sock)
    assert statuses(answer)[:1] == [status], answer
    assert b"100 Continue" not in answer


def test_100_continue_is_sent_when_the_body_is_wanted(hostile_server: KvServer) -> None:
    head = (
        b"PUT /v1/kv/continued HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Type: application/json\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", hostile_server.http_port), timeout=TIMEOUT) as sock:
        sock.sendall(head)
        assert _read_head(sock).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b'{"value": 7}')
        deadline = time.monotonic() + TIMEOUT
        answer = b""
        while b"201 Created" not in answer and time.monotonic() < deadline:
            answer += sock.recv(65536)
    assert b"201 Created" in answer


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    deadline = time.monotonic() + TIMEOUT
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
