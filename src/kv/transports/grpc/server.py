"""GrpcTransport: the `kv.v1.KeyValue` service, health and reflection on one grpc.aio server."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection

from kv.config import Settings
from kv.domain import KeyValueService, StorageUnavailable
from kv.observability import Observability, get_logger
from kv.tls import ServerTls
from kv.transports.admission import Admission
from kv.transports.budget import ANSWERS_NOT_SENT, ByteBudget, answer_limit
from kv.transports.grpc.call_admission import CallAdmission, max_item_tags, max_message_bytes
from kv.transports.grpc.grpc_internals import shut_down_connections
from kv.transports.grpc.servicer import SERVICE_NAME, KeyValueServicer
from kv.transports.grpc.services import HEALTH_SERVICE_NAME, HealthServicer, add_service
from kv.v1 import kv_pb2

log = get_logger("kv.grpc")

# The health service answers for the server as a whole ("") and for the KV service.
HEALTH_SERVICES = ("", SERVICE_NAME)
HEALTH_POLL_SECONDS = 1.0
# While draining, the server keeps answering UNAVAILABLE until no call has
# come for this long (or half the shutdown timeout has passed): grpc's core
# resets the calls it holds but has not handed to the server yet with
# CANCELLED when the server stops (grpc/grpc#41785), so those are let in
# and refused first (docs/hardening.md, "Shutdown").
DRAIN_QUIET_SECONDS = 0.3


class GrpcTransport:
    """The gRPC listener on `KV_HOST:KV_GRPC_PORT`: KeyValue, grpc.health.v1 and reflection."""

    name = "grpc"

    def __init__(
        self,
        service: KeyValueService,
        settings: Settings,
        observability: Observability,
        *,
        tls: ServerTls | None = None,
    ) -> None:
        self._tls = tls
        self._service = service
        self._settings = settings
        self._port = settings.ports[self.name]
        limit = max_message_bytes(settings.max_value_bytes)
        # One largest message at a time, or any number of smaller ones within
        # its size (call_admission.py: parsed, a message can take 25 times its size).
        self._admission = Admission(settings.max_concurrent_requests, max_bytes=limit)
        self.answers = ByteBudget(
            answer_limit(settings.max_concurrent_requests, settings.max_value_bytes),
            ANSWERS_NOT_SENT,
        )
        calls = CallAdmission(
            self._admission,
            timeout=settings.idle_timeout,
            max_item_tags=max_item_tags(settings.max_value_bytes),
            answers=self.answers,
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
                # message a method reads (call_admission.py), not with the link's
                # bandwidth-delay product.
                ("grpc.http2.bdp_probe", 0),
                # A connection that does not finish its TLS handshake is closed
                # as an idle one would be.
                ("grpc.server_handshake_timeout_ms", int(settings.idle_timeout * 1000)),
            ],
        )
        kv_servicer = KeyValueServicer(
            service,
            calls,
            observability,
            watch_write_timeout=settings.watcher_stall_timeout,
            max_message_bytes=limit,
        )
        add_service(
            self._server, kv_pb2.DESCRIPTOR.services_by_name["KeyValue"], kv_servicer, calls
        )
        add_service(
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
        self._health_poller: asyncio.Task[None] | None = None
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
            if self._tls is None:
                self._port = self._server.add_insecure_port(self.address)
            else:
                self._port = self._server.add_secure_port(
                    self.address, self._tls.grpc_credentials()
                )
        except RuntimeError as exc:
            # grpc reports a failed bind as RuntimeError; kv-server expects OSError.
            raise OSError(f"cannot bind {self.address}: {exc}") from None
        await self._set_health(serving=await self._storage_usable())
        await self._server.start()
        self._health_poller = asyncio.create_task(self._poll_storage_health(), name="grpc-health")

    def drain(self) -> None:
        """Report NOT_SERVING, and answer every call not yet in progress UNAVAILABLE."""
        self._admission.draining = True
        if self._health_poller is not None:
            self._health_poller.cancel()
        self._shutdown = asyncio.get_running_loop().create_task(
            self._health.enter_graceful_shutdown()
        )

    async def stop(self) -> None:
        """Finish the calls in progress, then stop; all within the shutdown timeout.

        Calls that arrive meanwhile are refused UNAVAILABLE by the admission
        (safe to retry) rather than left for grpc to cancel, until calls stop
        coming (`DRAIN_QUIET_SECONDS`) or half the timeout has passed. Only
        then, once none is in progress, are the client connections closed
        (grpc_internals.py: what grpc's core holds then ends UNAVAILABLE, not
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
        if self._health_poller is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_poller
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

    async def _poll_storage_health(self) -> None:
        serving: bool | None = None
        while True:
            usable = await self._storage_usable()
            if usable != serving:
                if serving is not None:
                    log.warning("storage usable again" if usable else "storage not usable")
                serving = usable
                await self._set_health(serving=usable)
            await asyncio.sleep(HEALTH_POLL_SECONDS)
