"""gRPC's own answers to access control: UNAUTHENTICATED, PERMISSION_DENIED; health and
reflection open; odd and huge authorization metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from kv.v1 import kv_pb2, kv_pb2_grpc
from tests.access.secured import ADMIN_TOKEN, APP_TOKEN, WRONG_TOKEN, serve_secured

# gRPC


@pytest.fixture
async def channel(tmp_path: Path) -> AsyncIterator[grpc.aio.Channel]:
    async with serve_secured("grpc", tmp_path) as served:
        port = served.settings.ports["grpc"]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as opened:
            yield opened


async def grpc_code(
    channel: grpc.aio.Channel, request: object, metadata: tuple[tuple[str, str], ...]
) -> tuple[grpc.StatusCode, str]:
    stub = kv_pb2_grpc.KeyValueStub(channel)  # type: ignore[no-untyped-call]
    method = stub.Put if isinstance(request, kv_pb2.PutRequest) else stub.Get
    try:
        await method(request, metadata=metadata, timeout=30)
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", f"Bearer {WRONG_TOKEN}"),), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", APP_TOKEN),), grpc.StatusCode.UNAUTHENTICATED),
        (
            (("authorization", f"Bearer {APP_TOKEN}"), ("authorization", f"Bearer {APP_TOKEN}")),
            grpc.StatusCode.UNAUTHENTICATED,
        ),
        ((("authorization", f"Bearer {APP_TOKEN}"),), grpc.StatusCode.NOT_FOUND),
        ((("authorization", f"Bearer {ADMIN_TOKEN}"),), grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_grpc_get_answers_by_its_credentials(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...], code: grpc.StatusCode
) -> None:
    answer, details = await grpc_code(channel, kv_pb2.GetRequest(key="app/missing"), metadata)
    assert answer == code
    assert APP_TOKEN not in details


async def test_grpc_a_token_without_the_right_is_permission_denied(
    channel: grpc.aio.Channel,
) -> None:
    put = kv_pb2.PutRequest(key="shared/x")
    put.value.string_value = "v"
    answer, _ = await grpc_code(channel, put, (("authorization", f"Bearer {APP_TOKEN}"),))
    assert answer == grpc.StatusCode.PERMISSION_DENIED


async def test_grpc_health_and_reflection_need_no_token(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=30)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=30
    )
    names = [
        service.name
        async for answer in answers
        for service in answer.list_services_response.service
    ]
    assert "kv.v1.KeyValue" in names


async def test_grpc_a_huge_authorization_value_is_refused_without_echo(
    channel: grpc.aio.Channel,
) -> None:
    huge = APP_TOKEN + "A" * 64 * 1024
    answer, details = await grpc_code(
        channel, kv_pb2.GetRequest(key="app/x"), (("authorization", f"Bearer {huge}"),)
    )
    assert answer not in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND)
    assert "AAAAAAAA" not in details
