"""Stand-in KV servers on loopback, for answers a correct KV service never gives on demand.

A test builds the app or servicer that gives the answer it needs; these serve it
and yield the address a `KVClient` takes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from aiohttp import web

from kv.v1 import kv_pb2_grpc
from tests.servers import free_port


@asynccontextmanager
async def serve_http(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve_grpc(servicer: kv_pb2_grpc.KeyValueServicer) -> AsyncIterator[str]:
    """Serve `servicer` on a free loopback port; yields its `host:port`."""
    server = grpc.aio.server()
    kv_pb2_grpc.add_KeyValueServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)
