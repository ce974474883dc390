"""GrpcTransport: the `kv.v1.KeyValue` service, health and reflection on one grpc.aio server."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# grpc-stubs does not declare the asyncio health servicer.
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

from kv.config import Settings
from kv.domain import KeyValueService, StorageUnavailable
from kv.transports.grpc.calls import unary_call
from kv.transports.grpc.servicer import SERVICE_NAME, KeyValueServicer
from kv.v1 import kv_pb2_grpc

log = logging.getLogger("kv.grpc")

HEALTH_SERVICE_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
# The health service answers for the server as a whole ("") and for the KV service.
HEALTH_SERVICES = ("", SERVICE_NAME)
HEALTH_POLL_SECONDS = 1.0
# A value's protobuf encoding can be larger than its compact JSON, which the
# domain limit measures: a list of small integers takes 2 bytes per item as
# JSON and 11 as a list of `Value`s. Admit that worst case, and let the
# domain refuse (RESOURCE_EXHAUSTED) what is over the limit as JSON.
PROTOBUF_EXPANSION = 6
MESSAGE_SLACK_BYTES = 64 * 1024


def max_message_bytes(max_value_bytes: int) -> int:
    """The largest request the server reads: any value within the limit, with its key."""
    return PROTOBUF_EXPANSION * max_value_bytes + MESSAGE_SLACK_BYTES


class HealthServicer(health_aio.HealthServicer):  # type: ignore[misc]  # untyped base
    """grpc.health.v1.Health, whose Check has the request id and access line of every call."""

    Check = unary_call(HEALTH_SERVICE_NAME)(health_aio.HealthServicer.Check)


class GrpcTransport:
    """The gRPC listener on `KV_HOST:KV_GRPC_PORT`: KeyValue, grpc.health.v1 and reflection."""

    name = "grpc"

    def __init__(self, service: KeyValueService, settings: Settings) -> None:
        self._service = service
        self._settings = settings
        self._port = settings.grpc_port
        self._health = HealthServicer()
        limit = max_message_bytes(settings.max_value_bytes)
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # Without this a second server could bind the same port and
                # share its traffic, instead of failing to start.
                ("grpc.so_reuseport", 0),
                ("grpc.max_connection_idle_ms", int(settings.idle_timeout * 1000)),
            ],
        )
        # Generated code has no annotations.
        kv_pb2_grpc.add_KeyValueServicer_to_server(  # type: ignore[no-untyped-call]
            KeyValueServicer(service, watch_write_timeout=settings.watch_heartbeat), self._server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            (
                SERVICE_NAME,
                HEALTH_SERVICE_NAME,
                reflection.SERVICE_NAME,
            ),
            self._server,
        )
        self._watch: asyncio.Task[None] | None = None
        self._shutdown: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        host = self._settings.host
        return f"[{host}]:{self._port}" if ":" in host else f"{host}:{self._port}"

    @property
    def port(self) -> int:
        """The port listened on: the one bound, once started (useful with port 0)."""
        return self._port

    async def start(self) -> None:
        try:
            self._port = self._server.add_insecure_port(self.address)
        except RuntimeError as exc:
            # grpc reports a failed bind as RuntimeError; kv-server expects OSError.
            raise OSError(f"cannot bind {self.address}: {exc}") from None
        await self._set_health(serving=await self._storage_usable())
        await self._server.start()
        self._watch = asyncio.create_task(self._watch_storage(), name="grpc-health")

    def drain(self) -> None:
        """Report NOT_SERVING from now on, so that balancers stop sending new calls."""
        if self._watch is not None:
            self._watch.cancel()
        self._shutdown = asyncio.get_running_loop().create_task(
            self._health.enter_graceful_shutdown()
        )

    async def stop(self) -> None:
        """Stop accepting, let in-flight calls finish (up to the shutdown timeout)."""
        if self._shutdown is None:
            self.drain()
        assert self._shutdown is not None
        await self._shutdown
        if self._watch is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self._server.stop(grace=self._settings.shutdown_timeout)

    async def _storage_usable(self) -> bool:
        try:
            await self._service.check()
        except StorageUnavailable:
            return False
        return True

    async def _set_health(self, *, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in HEALTH_SERVICES:
            await self._health.set(name, status)

    async def _watch_storage(self) -> None:
        serving: bool | None = None
        while True:
            usable = await self._storage_usable()
            if usable != serving:
                if serving is not None:
                    log.warning("storage %s", "usable again" if usable else "not usable")
                serving = usable
                await self._set_health(serving=usable)
            await asyncio.sleep(HEALTH_POLL_SECONDS)
