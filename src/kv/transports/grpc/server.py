"""GrpcTransport: the `kv.v1.KeyValue` service, health and reflection on one grpc.aio server."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2

# grpc-stubs does not declare the asyncio health servicer.
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

from kv.config import Settings
from kv.domain import KeyValueService, StorageUnavailable
from kv.observability import Observability, get_logger
from kv.transports.admission import Admission
from kv.transports.grpc.admission import CallAdmission
from kv.transports.grpc.calls import READS_REQUEST, streaming_call, unary_call
from kv.transports.grpc.connections import shut_down_connections
from kv.transports.grpc.servicer import SERVICE_NAME, KeyValueServicer
from kv.v1 import kv_pb2

log = get_logger("kv.grpc")

HEALTH_SERVICE_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
# The health service answers for the server as a whole ("") and for the KV service.
HEALTH_SERVICES = ("", SERVICE_NAME)
HEALTH_POLL_SECONDS = 1.0
# A value's protobuf encoding can be larger than its compact JSON, which the
# domain limit measures. The worst case is a list of zeros: 2 bytes per item
# as JSON (`0,`), 11 as a `Value` in a `ListValue` (its field tag and length,
# then a double with its tag); every other JSON text costs less per byte
# (docs/hardening.md). A value of N bytes holds at most (N - 1) // 2 items.
WORST_BYTES_PER_ITEM = 11
# The key (1024 bytes and its framing), the framing of the value and list
# (at most 5 bytes each), the expected revision and ttl: well within 4 KiB.
MESSAGE_FRAMING_BYTES = 4096
# While draining, the server keeps answering UNAVAILABLE until no call has
# come for this long (or half the shutdown timeout has passed): grpc's core
# resets the calls it holds but has not handed to the server yet with
# CANCELLED when the server stops (grpc/grpc#41785), so those are let in
# and refused first (docs/hardening.md, "Shutdown").
DRAIN_QUIET_SECONDS = 0.3


def max_message_bytes(max_value_bytes: int) -> int:
    """The largest message read or written: a value within the limit however encoded, its key."""
    return WORST_BYTES_PER_ITEM * ((max_value_bytes - 1) // 2) + MESSAGE_FRAMING_BYTES


def max_item_tags(max_value_bytes: int) -> int:
    """The most bytes 0x0a a message may hold (admission.py): a value's, and its key's."""
    return max_value_bytes // 2 + MESSAGE_FRAMING_BYTES


def _add_service(
    server: grpc.aio.Server, service: ServiceDescriptor, servicer: object, calls: CallAdmission
) -> None:
    """Serve `service` from `servicer`, each method registered as reading its own request.

    Every method is decorated by `unary_call` or `streaming_call`, and is
    registered as reading a stream of requests (admission.py: so that grpc
    reads its message only once the call is taken on); the client still
    sends one, as the proto declares, and sees no difference on the wire.
    """
    handlers = {}
    for method in service.methods:
        behavior = getattr(servicer, method.name)
        if not getattr(behavior, READS_REQUEST, False):
            raise TypeError(f"{service.full_name}.{method.name} does not read its own request")
        calls.register(f"/{service.full_name}/{method.name}", GetMessageClass(method.input_type))
        handler = (
            grpc.stream_stream_rpc_method_handler
            if method.server_streaming
            else grpc.stream_unary_rpc_method_handler
        )
        handlers[method.name] = handler(
            behavior, response_serializer=GetMessageClass(method.output_type).SerializeToString
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )
    server.add_registered_method_handlers(service.full_name, handlers)  # type: ignore[attr-defined]


class HealthServicer(health_aio.HealthServicer):  # type: ignore[misc]  # untyped base
    """grpc.health.v1.Health, whose calls are read and observed as every call is.

    Neither is counted in the admission: health answers NOT_SERVING while the
    server drains, and a Watch lasts as long as its client wants.
    """

    def __init__(self, calls: CallAdmission, observability: Observability) -> None:
        super().__init__()
        self.calls = calls
        self.observability = observability

    Check = unary_call(HEALTH_SERVICE_NAME, counted=False)(health_aio.HealthServicer.Check)
    List = unary_call(HEALTH_SERVICE_NAME, counted=False)(health_aio.HealthServicer.List)
    Watch = streaming_call(HEALTH_SERVICE_NAME)(health_aio.HealthServicer.Watch)


class GrpcTransport:
    """The gRPC listener on `KV_HOST:KV_GRPC_PORT`: KeyValue, grpc.health.v1 and reflection."""

    name = "grpc"

    def __init__(
        self, service: KeyValueService, settings: Settings, observability: Observability
    ) -> None:
        self._service = service
        self._settings = settings
        self._port = settings.ports[self.name]
        limit = max_message_bytes(settings.max_value_bytes)
        # One largest message at a time, or any number of smaller ones within
        # its size (admission.py: parsed, a message can take 25 times its size).
        self._admission = Admission(settings.max_concurrent_requests, max_bytes=limit)
        calls = CallAdmission(
            self._admission,
            timeout=settings.idle_timeout,
            max_item_tags=max_item_tags(settings.max_value_bytes),
        )
        self._health = HealthServicer(calls, observability)
        write_timeout_ms = int(settings.write_timeout * 1000)
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # Without this a second server could bind the same port and
                # share its traffic, instead of failing to start.
                ("grpc.so_reuseport", 0),
                ("grpc.max_connection_idle_ms", int(settings.idle_timeout * 1000)),
                # The write timeout: the server pings a connection that has
                # been quiet this long and closes it when the ack does not
                # come this long after, as it cannot from a peer that does
                # not read what it is sent.
                ("grpc.keepalive_time_ms", write_timeout_ms),
                ("grpc.keepalive_timeout_ms", write_timeout_ms),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.max_pings_without_data", 0),
                # No one connection opens more calls than the server takes on.
                ("grpc.max_concurrent_streams", settings.max_concurrent_requests),
                # A request message nobody reads yet holds at most the stream's
                # flow-control window (64 KiB): the window grows only for the
                # message a method reads (admission.py), not with the link's
                # bandwidth-delay product.
                ("grpc.http2.bdp_probe", 0),
            ],
        )
        kv_servicer = KeyValueServicer(
            service, calls, observability, watch_write_timeout=settings.watch_heartbeat
        )
        _add_service(
            self._server, kv_pb2.DESCRIPTOR.services_by_name["KeyValue"], kv_servicer, calls
        )
        _add_service(
            self._server, health_pb2.DESCRIPTOR.services_by_name["Health"], self._health, calls
        )
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
        """Report NOT_SERVING, and answer every call not yet in progress UNAVAILABLE."""
        self._admission.draining = True
        if self._watch is not None:
            self._watch.cancel()
        self._shutdown = asyncio.get_running_loop().create_task(
            self._health.enter_graceful_shutdown()
        )

    async def stop(self) -> None:
        """Finish the calls in progress, then stop; all within the shutdown timeout.

        Calls that arrive meanwhile are refused UNAVAILABLE by the admission
        (safe to retry) rather than left for grpc to cancel, until calls stop
        coming (`DRAIN_QUIET_SECONDS`) or half the timeout has passed. Only
        then, once none is in progress, are the client connections closed
        (connections.py: what grpc's core holds then ends UNAVAILABLE, not
        CANCELLED) and the server stopped, with what is left of the timeout
        as its grace: a call it cancels then is one that outlived the timeout.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self._settings.shutdown_timeout
        if self._shutdown is None:
            self.drain()
        assert self._shutdown is not None
        await self._shutdown
        if self._watch is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self._refuse_until_quiet(started + self._settings.shutdown_timeout / 2)
        if await self._admission.wait_idle(deadline):
            shut_down_connections(self._port)
        await self._server.stop(grace=max(0.0, deadline - loop.time()))

    async def _refuse_until_quiet(self, until: float) -> None:
        """Keep answering until no call came for `DRAIN_QUIET_SECONDS`, or the loop time `until`."""
        loop = asyncio.get_running_loop()
        seen = -1
        while seen != self._admission.entered and loop.time() < until:
            seen = self._admission.entered
            await asyncio.sleep(min(DRAIN_QUIET_SECONDS, max(0.0, until - loop.time())))

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
                    log.warning("storage usable again" if usable else "storage not usable")
                serving = usable
                await self._set_health(serving=usable)
            await asyncio.sleep(HEALTH_POLL_SECONDS)
