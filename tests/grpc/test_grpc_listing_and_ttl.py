"""`List` and `ttl_seconds` on the wire: field presence as the proto documents it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from kv.v1 import kv_pb2, kv_pb2_grpc
from tests.inprocess import serve_in_process
from tests.servers import script, start_kv_server


@pytest.fixture
async def kv() -> AsyncIterator[Any]:
    async with (
        serve_in_process("grpc") as served,
        grpc.aio.insecure_channel(served.client_settings.addresses["grpc"]) as channel,
    ):
        yield kv_pb2_grpc.KeyValueStub(channel)  # type: ignore[no-untyped-call]


def text(value: str) -> struct_pb2.Value:
    return struct_pb2.Value(string_value=value)


async def put(kv: Any, key: str, **fields: Any) -> Any:
    return await kv.Put(kv_pb2.PutRequest(key=key, value=text(key), **fields))


async def test_list_pages_with_next_cursor_absent_on_the_last(kv: Any) -> None:
    for key in ("p/c", "p/a", "p/b", "q"):
        await put(kv, key)
    first = await kv.List(kv_pb2.ListRequest(prefix="p/", limit=2))
    assert [e.key for e in first.entries] == ["p/a", "p/b"]
    assert first.HasField("next_cursor")
    assert first.revision == 4
    assert first.entries[0].value == text("p/a")
    assert not first.entries[0].HasField("ttl_seconds")
    last = await kv.List(kv_pb2.ListRequest(prefix="p/", limit=2, cursor=first.next_cursor))
    assert [e.key for e in last.entries] == ["p/c"]
    assert not last.HasField("next_cursor")


async def test_list_without_limit_gives_100(kv: Any) -> None:
    for number in range(101):
        await put(kv, f"k{number:03d}")
    page = await kv.List(kv_pb2.ListRequest())
    assert len(page.entries) == 100
    assert page.HasField("next_cursor")


async def test_keys_only_entries_have_no_value_and_no_ttl(kv: Any) -> None:
    await put(kv, "k", ttl_seconds=100)
    page = await kv.List(kv_pb2.ListRequest(keys_only=True))
    (entry,) = page.entries
    assert entry.key == "k"
    assert entry.revision == 1
    assert not entry.HasField("value")
    assert not entry.HasField("ttl_seconds")


async def test_ttl_seconds_on_every_entry_response(kv: Any) -> None:
    written = await put(kv, "k", ttl_seconds=100)
    assert written.ttl_seconds == 100
    created = await kv.Create(kv_pb2.CreateRequest(key="c", value=text("c"), ttl_seconds=50))
    assert created.ttl_seconds == 50
    read = await kv.Get(kv_pb2.GetRequest(key="k"))
    assert 0 < read.ttl_seconds <= 100
    (listed, _) = (await kv.List(kv_pb2.ListRequest())).entries
    assert 0 < listed.ttl_seconds <= 100
    deleted = await kv.Delete(kv_pb2.DeleteRequest(key="k"))
    assert 0 < deleted.ttl_seconds <= 100


async def test_a_put_without_ttl_seconds_clears_the_expiry(kv: Any) -> None:
    first = await put(kv, "k", ttl_seconds=100)
    plain = await put(kv, "k")
    assert not plain.HasField("ttl_seconds")
    assert plain.revision > first.revision
    assert not (await kv.Get(kv_pb2.GetRequest(key="k"))).HasField("ttl_seconds")


@pytest.mark.parametrize(
    "request_message",
    [
        kv_pb2.ListRequest(limit=0),
        kv_pb2.ListRequest(limit=1001),
        kv_pb2.ListRequest(limit=-5),
        kv_pb2.ListRequest(cursor="not-a-cursor"),
    ],
    ids=["limit-0", "limit-1001", "limit-negative", "foreign-cursor"],
)
async def test_bad_list_requests_are_invalid_argument(kv: Any, request_message: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kv.List(request_message)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("ttl", [0, -1, 31_536_001, 2**62])
async def test_bad_ttl_seconds_are_invalid_argument(kv: Any, ttl: int) -> None:
    for call in (
        kv.Put(kv_pb2.PutRequest(key="k", value=text("v"), ttl_seconds=ttl)),
        kv.Create(kv_pb2.CreateRequest(key="k", value=text("v"), ttl_seconds=ttl)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await kv.Get(kv_pb2.GetRequest(key="k"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.e2e
def test_grpcurl_lists_and_writes_with_a_ttl_through_reflection(tmp_path: Path) -> None:
    server = start_kv_server(tmp_path, {"TRANSPORT": "grpc"})
    try:

        def grpcurl(body: str, method: str) -> Any:
            done = subprocess.run(
                [script("grpcurl"), "-plaintext", "-d", body, server.grpc_target, method],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)

        written = grpcurl('{"key": "a/1", "value": "x", "ttl_seconds": 60}', "kv.v1.KeyValue/Put")
        assert written["ttl_seconds"] == "60"  # grpcurl prints int64 as a JSON string
        page = grpcurl('{"prefix": "a/", "limit": 5}', "kv.v1.KeyValue/List")
        assert [entry["key"] for entry in page["entries"]] == ["a/1"]
        assert "next_cursor" not in page
    finally:
        server.process.stop()
