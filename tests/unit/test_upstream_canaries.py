"""Canaries: each fails, saying which workaround to revisit, when the framework behaviour a
workaround relies on changes (kv/transports/http/aiohttp_internals.py,
kv/transports/grpc/grpc_internals.py: the inventories these follow).

Where an upstream bug can be reproduced deterministically, the canary reproduces it and fails
once it is fixed ("upstream fixed: ..."). Where it cannot (a race in grpc's core), the canary
checks the precondition the workaround relies on instead ("upstream changed: ...").
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import pytest
from aiohttp import web
from aiohttp.http_parser import HttpRequestParser
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_protocol import RequestHandler
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kv.transports.grpc.grpc_internals import shut_down_connections
from kv.transports.http.aiohttp_internals import KVAppRunner, KVRequestHandler
from tests.inprocess import serve_in_process

VALID = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
MALFORMED = b"\x00NOT HTTP\r\n\r\n"


class _Protocol:
    """What the parser is handed as its protocol; it calls nothing of it on these bytes."""


async def test_aiohttp_still_loses_a_valid_request_before_a_malformed_one() -> None:
    """aiohttp parses every request of a read at once; a malformed one raises for them all."""
    parser = HttpRequestParser(
        _Protocol(), asyncio.get_running_loop(), 2**16, max_line_size=8190, max_field_size=8190
    )
    try:
        messages, _, _ = parser.feed_data(VALID + MALFORMED)
    except Exception:  # the bug: the valid request before it is lost with the exception
        return
    raise AssertionError(
        f"upstream fixed: aiohttp's parser returned {len(messages)} message(s) before a "
        "malformed request instead of raising for the whole read; the one-request-ahead "
        "parser of KVRequestHandler (aiohttp_internals.py, workaround 2) may go, if a "
        "connection's queue of requests is bounded otherwise"
    )


async def test_aiohttps_app_runner_still_needs_its_server_class_swapped() -> None:
    """The swap (workaround 3) makes every handler a KVRequestHandler parsing one ahead."""
    runner = KVAppRunner(web.Application(), handle_signals=False)
    await runner.setup()
    try:
        server = runner.server
        assert server is not None
        handler = server()
        assert isinstance(handler, KVRequestHandler), (
            "upstream changed: AppRunner's server no longer builds handlers through "
            "__call__ with its _loop and _kwargs; revisit KVAppRunner (aiohttp_internals.py)"
        )
        messages, _, _ = handler._parser.feed_data(VALID + VALID)
        assert len(messages) == 1, (
            "upstream changed: the parser ignores max_msg_queue_size; revisit "
            "KVRequestHandler.__init__ (aiohttp_internals.py, workaround 2)"
        )
        assert {"_max_msg_queue_size", "_msg_queue_resume_size"} <= set(RequestHandler.__slots__), (
            "upstream changed: RequestHandler's queue limits were renamed (workaround 2)"
        )
    finally:
        await runner.cleanup()


async def test_aiohttp_still_counts_100_continue_as_output() -> None:
    """send_continue (workaround 4) resets what aiohttp counts for the interim response."""
    counted: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        counted.append(request.writer.output_size)
        request.writer.output_size = 0
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/")
        assert response.status == 200
    assert len(counted) == 1
    assert counted[0] > 0, (
        "upstream changed: aiohttp no longer counts a 100 Continue as response output; "
        "send_continue (aiohttp_internals.py, workaround 4) need not reset output_size"
    )


async def test_grpcs_accepted_connections_are_still_sockets_of_this_process() -> None:
    """grpc/grpc#41785 is a race, not reproducible deterministically: this checks what
    shut_down_connections (grpc_internals.py, workaround 2) relies on instead."""
    async with serve_in_process("grpc") as served:
        port = served.settings.ports["grpc"]
        target = f"127.0.0.1:{port}"
        async with grpc.aio.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            await health.Check(health_pb2.HealthCheckRequest(), timeout=30)
            closed = shut_down_connections(port)
            assert closed == 1, (
                f"upstream changed: {closed} connections accepted by grpc were found in "
                "/proc/self/fd for one client; shut_down_connections no longer closes them"
            )


async def test_grpc_aio_server_still_registers_methods_by_path() -> None:
    """add_method_handlers (workaround 1) calls a method grpc-stubs do not declare."""
    server = grpc.aio.server()
    assert callable(getattr(server, "add_registered_method_handlers", None)), (
        "upstream changed: grpc.aio.Server.add_registered_method_handlers is gone; "
        "revisit add_method_handlers (grpc_internals.py, workaround 1)"
    )


class Payload:
    """What an aborting method holds in a local: a parsed request, in calls.py."""


async def payload_alive_after_abort(*, dropped: bool) -> tuple[bool, bool]:
    """Whether a method's local outlives its aborted call: with the garbage collector off
    (reference counts alone), then after a full pass."""
    seen: list[weakref.ref[Payload]] = []

    async def method(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        payload: Payload | None = Payload()
        seen.append(weakref.ref(payload))
        if dropped:
            payload = None
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "refused")
        raise AssertionError("abort returned")

    handler = grpc.unary_unary_rpc_method_handler(method)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("canary.Abort", {"Call": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    with garbage_collector_off():
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/canary.Abort/Call")
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(b"", timeout=30)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        await server.stop(None)  # every call's task has ended
        counted_alive = seen[0]() is not None
    gc.collect()
    return counted_alive, seen[0]() is not None


@contextmanager
def garbage_collector_off() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_grpc_still_keeps_an_aborted_calls_locals_until_a_gc_pass() -> None:
    """Workaround 3: calls.py drops its parsed request before `context.abort`."""
    assert await payload_alive_after_abort(dropped=True) == (False, False), (
        "upstream changed: a local dropped before context.abort is still held; "
        "the request dropped in calls.py (_observed_call) no longer frees it"
    )
    kept = await payload_alive_after_abort(dropped=False)
    assert kept[1] is False, "the payload outlived a full garbage collection"
    assert kept[0] is True, (
        "upstream fixed: grpc no longer keeps an aborted call's frames alive until the "
        "garbage collector runs; calls.py need not drop its request before context.abort "
        "(grpc_internals.py, workaround 3)"
    )
