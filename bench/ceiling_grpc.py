"""The gRPC framework ceiling: a bare grpc.aio servicer of kv.v1.KeyValue doing the dict work.

Get and Put over a dict of (Value message, revision), with the same proto and
event loop as `kv-server`, but no domain, validation, value conversion,
interceptor, health or reflection: what grpc.aio itself can serve here.

    python -m bench.ceiling_grpc PORT
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import grpc

from kv.server import run_event_loop
from kv.v1 import kv_pb2, kv_pb2_grpc


class CeilingServicer(kv_pb2_grpc.KeyValueServicer):
    """Get and Put on a dict; nothing else."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, int]] = {}
        self._revision = 0

    async def Get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        found = self._entries.get(request.key)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such key")
        value, revision = found
        return kv_pb2.GetResponse(key=request.key, value=value, revision=revision)

    async def Put(self, request: kv_pb2.PutRequest, context: Any) -> kv_pb2.PutResponse:
        created = request.key not in self._entries
        self._revision += 1
        self._entries[request.key] = (request.value, self._revision)
        return kv_pb2.PutResponse(
            key=request.key, value=request.value, revision=self._revision, created=created
        )


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:`port` until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    server = grpc.aio.server()
    kv_pb2_grpc.add_KeyValueServicer_to_server(CeilingServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await stop.wait()
    await server.stop(grace=1.0)


def main() -> None:
    run_event_loop(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
