"""`idempotency-key` metadata over gRPC: replays with `idempotent-replayed`, and reuse refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from kv.v1 import kv_pb2, kv_pb2_grpc
from tests.inprocess import serve_in_process


@pytest.fixture
async def kv() -> AsyncIterator[Any]:
    async with (
        serve_in_process("grpc") as served,
        grpc.aio.insecure_channel(served.client_settings.addresses["grpc"]) as channel,
    ):
        yield kv_pb2_grpc.KeyValueStub(channel)  # type: ignore[no-untyped-call]


async def call(method: Any, request: Any, key: str) -> tuple[Any, dict[str, str]]:
    pending = method(request, metadata=(("idempotency-key", key),))
    answer = await pending
    trailing = dict(await pending.trailing_metadata() or ())
    return answer, trailing


def text(value: str) -> struct_pb2.Value:
    return struct_pb2.Value(string_value=value)


async def test_put_create_delete_and_txn_replay(kv: Any) -> None:
    put = kv_pb2.PutRequest(key="a", value=text("x"))
    first, trailing = await call(kv.Put, put, "p")
    assert "idempotent-replayed" not in trailing
    await kv.Put(kv_pb2.PutRequest(key="a", value=text("newer")))
    again, trailing = await call(kv.Put, put, "p")
    assert (again, trailing["idempotent-replayed"]) == (first, "true")
    assert (await kv.Get(kv_pb2.GetRequest(key="a"))).value == text("newer")

    create = kv_pb2.CreateRequest(key="c", value=text("y"))
    assert (await call(kv.Create, create, "c"))[0] == (await call(kv.Create, create, "c"))[0]
    delete = kv_pb2.DeleteRequest(key="c")
    deleted = await call(kv.Delete, delete, "d")
    replay = await call(kv.Delete, delete, "d")
    assert replay == (deleted[0], {"idempotent-replayed": "true"})


async def test_another_request_with_the_key_is_failed_precondition(kv: Any) -> None:
    await call(kv.Put, kv_pb2.PutRequest(key="a", value=text("x")), "k")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(kv.Put, kv_pb2.PutRequest(key="a", value=text("other")), "k")
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await call(kv.Put, kv_pb2.PutRequest(key="a", value=text("x")), "")
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
