"""What only the gRPC transport does: metadata, status details, health, limits, shutdown."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kv.adapters.memory import InMemoryStore
from kv.config import Settings
from kv.domain import Entry, KeyValueService
from kv.observability import Observability
from kv.transports.grpc import GrpcTransport
from kv.v1 import kv_pb2, kv_pb2_grpc
from tests.fakes import FakeDurableStore
from tests.inprocess import Served, serve_in_process
from tests.servers import free_port

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING


class ExplodingStore(InMemoryStore):
    """A store with a bug: every read raises something that is not a domain error."""

    async def get(self, key: str) -> Entry | None:
        raise RuntimeError("secret internals")


@pytest.fixture
async def channel(served: Served) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(served.client_settings.addresses["grpc"]) as opened:
        yield opened


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async with serve_in_process("grpc") as running:
        yield running


def stub(channel: grpc.aio.Channel) -> Any:
    return kv_pb2_grpc.KeyValueStub(channel)  # type: ignore[no-untyped-call]


async def health_of(channel: grpc.aio.Channel, service: str = "kv.v1.KeyValue") -> int:
    checker = health_pb2_grpc.HealthStub(channel)
    response = await checker.Check(health_pb2.HealthCheckRequest(service=service))
    return int(response.status)


async def eventually(channel: grpc.aio.Channel, status: int, seconds: float = 60.0) -> bool:
    """Whether the health check reports `status` within `seconds` (the server polls every 1 s;
    the budget is for a loaded machine, the wait usually ends within the second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await health_of(channel) == status:
            return True
        await asyncio.sleep(0.05)
    return False


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("logger") == "kv.access"]


async def test_request_id_is_echoed_and_logged(log_lines: list[dict[str, Any]]) -> None:
    # The scope ends (and its line is logged) before the answer is sent, so
    # the line exists once the call has its status: no waiting, no race.
    async with (
        serve_in_process("grpc", access_log="all") as served,
        grpc.aio.insecure_channel(served.client_settings.addresses["grpc"]) as channel,
    ):
        call = stub(channel).Get(
            kv_pb2.GetRequest(key="nope"), metadata=(("x-request-id", "rid-42"),)
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        assert ("x-request-id", "rid-42") in tuple(await call.trailing_metadata())
        [line] = access_lines(log_lines)
    assert line["request_id"] == "rid-42"
    assert (line["transport"], line["operation"]) == ("grpc", "/kv.v1.KeyValue/Get")
    assert line["outcome"] == "NOT_FOUND"
    assert line["duration_ms"] >= 0
    assert line["peer"]


async def test_by_default_only_server_errors_have_access_lines(
    channel: grpc.aio.Channel, log_lines: list[dict[str, Any]]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await stub(channel).Get(kv_pb2.GetRequest(key="nope"))
    await stub(channel).Put(kv_pb2.PutRequest(key="k", value=struct_pb2.Value(string_value="v")))
    assert access_lines(log_lines) == []


async def test_request_id_is_made_up_when_not_sent(channel: grpc.aio.Channel) -> None:
    call = stub(channel).Put(kv_pb2.PutRequest(key="k", value=struct_pb2.Value(string_value="v")))
    await call
    metadata = dict(await call.trailing_metadata())
    assert len(metadata["x-request-id"]) == 32


async def test_health_checks_have_request_ids_and_access_lines(
    log_lines: list[dict[str, Any]],
) -> None:
    async with (
        serve_in_process("grpc", access_log="all") as served,
        grpc.aio.insecure_channel(served.client_settings.addresses["grpc"]) as channel,
    ):
        checker = health_pb2_grpc.HealthStub(channel)
        call = checker.Check(
            health_pb2.HealthCheckRequest(service=""), metadata=(("x-request-id", "rid-health"),)
        )
        assert (await call).status == SERVING
        assert ("x-request-id", "rid-health") in tuple(await call.trailing_metadata())
        [line] = access_lines(log_lines)
    assert line["operation"] == "/grpc.health.v1.Health/Check"
    assert line["outcome"] == "OK"


async def test_a_bug_is_internal_without_details(log_lines: list[dict[str, Any]]) -> None:
    async with serve_in_process("grpc", ExplodingStore()) as served:
        target = served.client_settings.addresses["grpc"]
        async with grpc.aio.insecure_channel(target) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub(channel).Get(
                    kv_pb2.GetRequest(key="k"), metadata=(("x-request-id", "rid-bug"),)
                )
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (raised.value.details() or "")
    [error] = [line for line in log_lines if "exception" in line]
    assert "secret internals" in error["exception"]
    assert error["request_id"] == "rid-bug"
    [access] = access_lines(log_lines)  # a server error: logged by default
    assert (access["request_id"], access["outcome"]) == ("rid-bug", "INTERNAL")


@pytest.mark.parametrize(
    "request_message",
    [
        kv_pb2.PutRequest(key="k"),
        kv_pb2.CreateRequest(key="k"),
        kv_pb2.PutRequest(key="k", value=struct_pb2.Value(number_value=math.nan)),
        kv_pb2.PutRequest(key="k", value=struct_pb2.Value(number_value=math.inf)),
        kv_pb2.PutRequest(
            key="k",
            value=struct_pb2.Value(list_value=struct_pb2.ListValue(values=[struct_pb2.Value()])),
        ),
        kv_pb2.DeleteRequest(key="k", expected_revision=0),
    ],
    ids=["put-no-value", "create-no-value", "nan", "infinity", "unset-item", "delete-rev-0"],
)
async def test_invalid_requests(channel: grpc.aio.Channel, request_message: Any) -> None:
    method = type(request_message).__name__.removesuffix("Request")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await getattr(stub(channel), method)(request_message)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_expected_revision_zero_on_put_means_must_not_exist(
    channel: grpc.aio.Channel,
) -> None:
    value = struct_pb2.Value(string_value="v")
    first = await stub(channel).Put(kv_pb2.PutRequest(key="z", value=value, expected_revision=0))
    assert first.created
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub(channel).Put(kv_pb2.PutRequest(key="z", value=value, expected_revision=0))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_health_follows_the_storage() -> None:
    store = FakeDurableStore()
    async with serve_in_process("grpc", store) as served:
        target = served.client_settings.addresses["grpc"]
        async with grpc.aio.insecure_channel(target) as channel:
            assert await health_of(channel) == SERVING
            assert await health_of(channel, "") == SERVING
            store.broken = True
            assert await eventually(channel, NOT_SERVING)
            assert await health_of(channel, "") == NOT_SERVING
            store.broken = False
            assert await eventually(channel, SERVING)


async def test_drain_reports_not_serving_and_stop_lets_calls_finish() -> None:
    store = FakeDurableStore()
    async with serve_in_process("grpc", store) as served:
        [transport] = served.app.transports
        put = asyncio.create_task(served.client.put("slow", "v"))
        await asyncio.wait_for(store.has_pending.wait(), 60)
        async with grpc.aio.insecure_channel(served.client_settings.addresses["grpc"]) as channel:
            transport.drain()
            assert await eventually(channel, NOT_SERVING)
        stopping = asyncio.create_task(transport.stop())
        await asyncio.sleep(0.1)
        assert not put.done()
        store.sync()  # the write becomes durable while the server is stopping
        written = await put
        assert written.created
        await stopping


async def test_a_port_in_use_is_an_oserror() -> None:
    port = free_port()
    settings = Settings(transports=("grpc",), host="127.0.0.1", ports={"grpc": port})
    first = GrpcTransport(KeyValueService(InMemoryStore()), settings, Observability())
    second = GrpcTransport(KeyValueService(InMemoryStore()), settings, Observability())
    await first.start()
    try:
        with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
            await second.start()
    finally:
        first.drain()
        await first.stop()
        await second.stop()


async def test_health_watch_streams_serving_then_not_serving_on_drain() -> None:
    async with serve_in_process("grpc", InMemoryStore()) as served:
        [transport] = served.app.transports
        async with grpc.aio.insecure_channel(served.client_settings.addresses["grpc"]) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            watch = stub.Watch(health_pb2.HealthCheckRequest(service="kv.v1.KeyValue"))
            first = await asyncio.wait_for(watch.read(), 60)
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            transport.drain()
            second = await asyncio.wait_for(watch.read(), 60)
            assert second.status == NOT_SERVING
            watch.cancel()
