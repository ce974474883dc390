"""Malformed and hostile gRPC input: INVALID_ARGUMENT, a clean message and an access line.

Values nested past the limit, messages that are not protobuf, keys and values that are not
UTF-8 or JSON, and their neighbours.
"""

from __future__ import annotations

import time

import grpc
import pytest

from tests.hostile.conftest import access_lines
from tests.hostile.wire import (
    NULL_VALUE,
    exchange,
    field,
    json_put,
    nested_json,
    nested_value,
    put_request,
    raw_call,
    request,
    statuses,
)
from tests.servers import KvServer

pytestmark = pytest.mark.e2e

PUT = "/kv.v1.KeyValue/Put"
CREATE = "/kv.v1.KeyValue/Create"
GET = "/kv.v1.KeyValue/Get"
DELETE = "/kv.v1.KeyValue/Delete"


@pytest.mark.parametrize(
    ("method", "message"),
    [
        (PUT, put_request(b"\xff\xfe", NULL_VALUE)),  # a key that is not UTF-8
        (CREATE, put_request(b"ok\xc3", NULL_VALUE)),
        (GET, field(1, b"\xed\xa0\x80")),  # a UTF-8-encoded surrogate
        (DELETE, field(1, b"\x80")),
        (PUT, b"\xff\xff\xff\xff"),  # not protobuf at all
        (PUT, field(1, b"k")[:-1]),  # cut short
        (PUT, b"\x12\xff\xff\xff\xff\x0f"),  # a length far beyond the message
        (PUT, put_request(b"k", nested_value(200))),  # past protobuf's own depth limit
        (PUT, put_request(b"k", nested_value(33))),  # past the API's 32 levels
        (CREATE, put_request(b"k", nested_value(60))),
        (PUT, put_request(b"k", b"")),  # a Value with no kind
        (PUT, put_request(b"k", field(6, field(1, b"")))),  # a list holding one
    ],
)
def test_malformed_messages_are_invalid_argument_with_an_access_line(
    hostile_server: KvServer, method: str, message: bytes
) -> None:
    code, details = raw_call(hostile_server.grpc_target, method, message)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    for leak in ("Exception", "Error", "Traceback", "<class", "DecodeError"):
        assert leak not in details
    _wait_for_access_line(hostile_server, method, "INVALID_ARGUMENT")
    assert "Traceback" not in hostile_server.process.log()


def _wait_for_access_line(server: KvServer, method: str, status: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for logged_method, logged_status in access_lines(server.process.log()):
            if logged_method.endswith(method) and logged_status == status:
                return
        time.sleep(0.05)
    raise AssertionError(f"no access line for {method} {status}:\n{server.process.log()}")


def test_what_one_protocol_stores_the_other_reads_back(hostile_server: KvServer) -> None:
    # At the limit over gRPC, read over HTTP; and the other way round.
    code, details = raw_call(
        hostile_server.grpc_target, PUT, put_request(b"via-grpc", nested_value(32))
    )
    assert code == grpc.StatusCode.OK, details
    answer = exchange(hostile_server.http_port, request("GET", "/v1/kv/via-grpc"))
    assert statuses(answer) == [200]
    body = json_put("/v1/kv/via-http", b'{"value": %s}' % nested_json(32))
    assert statuses(exchange(hostile_server.http_port, body)) == [201]
    assert raw_call(hostile_server.grpc_target, GET, field(1, b"via-http"))[0] == grpc.StatusCode.OK
    # A key with a newline, written over gRPC, is reachable over HTTP.
    assert raw_call(hostile_server.grpc_target, PUT, put_request(b"a\nb", NULL_VALUE))[0] == (
        grpc.StatusCode.OK
    )
    assert statuses(exchange(hostile_server.http_port, request("GET", "/v1/kv/a%0Ab"))) == [200]


def test_values_too_deep_for_protobuf_are_refused_when_written_over_http(
    hostile_server: KvServer,
) -> None:
    # Before: HTTP stored them and a gRPC read was INTERNAL (protobuf's limit).
    body = json_put("/v1/kv/too-deep-for-grpc", b'{"value": %s}' % nested_json(60))
    assert statuses(exchange(hostile_server.http_port, body)) == [400]
    code, _ = raw_call(hostile_server.grpc_target, GET, field(1, b"too-deep-for-grpc"))
    assert code == grpc.StatusCode.NOT_FOUND
