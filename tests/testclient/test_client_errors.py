"""Each KVClient's one error table, for answers a real KV service cannot give on demand.

The outcome-unknown answers (HTTP 504, gRPC DEADLINE_EXCEEDED) and a call that
outlives its deadline become OutcomeUnknown; a refused connection, Unavailable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from aiohttp import web

from kv.v1 import kv_pb2_grpc
from testclient.client import KVClient, KVClientError, OutcomeUnknown, Unavailable
from testclient.grpc_client import GrpcKVClient
from testclient.http_client import HttpKVClient
from tests.servers import free_port
from tests.testclient.stand_ins import serve_grpc, serve_http

# Long enough for a loaded machine to answer a call that is answered at once;
# the stand-ins below that never answer make a call outlive it.
DEADLINE_SECONDS = 0.5


@asynccontextmanager
async def http_stand_in() -> AsyncIterator[str]:
    """An HTTP server: PUT answers 504 outcome_unknown, GET never answers."""
    never = asyncio.Event()

    async def outcome_unknown(request: web.Request) -> web.Response:
        error = {"code": "outcome_unknown", "message": "the store did not confirm in time"}
        return web.json_response({"error": error}, status=504)

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        raise AssertionError("unreachable")

    app = web.Application()
    app.router.add_put("/v1/kv/{key:.*}", outcome_unknown)
    app.router.add_get("/v1/kv/{key:.*}", hang)
    try:
        async with serve_http(app) as url:
            yield url
    finally:
        never.set()


class OutcomeUnknownServicer(kv_pb2_grpc.KeyValueServicer):
    """Put: the server's outcome_unknown; Get: never answers."""

    async def Put(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the store did not confirm")

    async def Get(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await asyncio.Event().wait()


@asynccontextmanager
async def grpc_stand_in() -> AsyncIterator[str]:
    async with serve_grpc(OutcomeUnknownServicer()) as address:
        yield address


def client_of(transport: str, address: str, timeout: float = 10.0) -> KVClient:
    if transport == "http":
        return HttpKVClient(address, timeout=timeout)
    return GrpcKVClient(address, timeout=timeout)


STAND_INS = {"http": http_stand_in, "grpc": grpc_stand_in}
# What the server says when its store did not confirm a write, on each protocol.
OUTCOME_UNKNOWN_ANSWERS = {
    "http": "504 the store did not confirm in time",
    "grpc": "DEADLINE_EXCEEDED the store did not confirm",
}


@pytest.fixture(params=list(STAND_INS))
async def stand_in(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str]]:
    """(transport, address) of a stand-in server for that transport."""
    async with STAND_INS[request.param]() as address:
        yield request.param, address


async def test_the_servers_outcome_unknown_is_outcome_unknown(stand_in: tuple[str, str]) -> None:
    transport, address = stand_in
    async with client_of(transport, address) as client:
        with pytest.raises(OutcomeUnknown, match=OUTCOME_UNKNOWN_ANSWERS[transport]):
            await client.put("k", "v")


async def test_a_call_past_its_deadline_is_outcome_unknown(stand_in: tuple[str, str]) -> None:
    transport, address = stand_in
    async with client_of(transport, address, DEADLINE_SECONDS) as client:
        with pytest.raises(OutcomeUnknown):
            await client.get("k")


@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_nothing_listening_is_unavailable_not_outcome_unknown(transport: str) -> None:
    address = f"127.0.0.1:{free_port()}"
    if transport == "http":
        address = f"http://{address}"
    async with client_of(transport, address) as client:
        with pytest.raises(KVClientError) as raised:
            await client.put("k", "v")
    assert type(raised.value) is Unavailable
