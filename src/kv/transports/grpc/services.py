"""The services of the gRPC server, each method registered to read its own request.

A method decorated by `unary_call` or `streaming_call` (calls.py) reads its
request through the server's `CallAdmission` (call_admission.py), so grpc must
not read it first: `add_service` registers it as reading a stream of
requests (stream-unary, stream-stream), which is the same as a unary request
on the wire. Clients call it as the proto declares and see no difference.
"""

from __future__ import annotations

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2

# grpc-stubs does not declare the asyncio health servicer.
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]

from kv.observability import Observability
from kv.transports.grpc.call_admission import CallAdmission
from kv.transports.grpc.calls import READS_REQUEST, streaming_call, unary_call
from kv.transports.grpc.grpc_internals import add_method_handlers, handler_reading_its_request

HEALTH_SERVICE_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


def add_service(
    server: grpc.aio.Server, service: ServiceDescriptor, servicer: object, calls: CallAdmission
) -> None:
    """Serve `service` from `servicer`, each method registered as reading its own request.

    Every method is decorated by `unary_call` or `streaming_call`, and is
    registered as reading a stream of requests (call_admission.py: so that grpc
    reads its message only once the call is taken on); the client still
    sends one, as the proto declares, and sees no difference on the wire.
    """
    handlers = {}
    for method in service.methods:
        behavior = getattr(servicer, method.name)
        if not getattr(behavior, READS_REQUEST, False):
            raise TypeError(f"{service.full_name}.{method.name} does not read its own request")
        calls.register(f"/{service.full_name}/{method.name}", GetMessageClass(method.input_type))
        handlers[method.name] = handler_reading_its_request(
            behavior,
            streaming=method.server_streaming,
            serialize=GetMessageClass(method.output_type).SerializeToString,
        )
    add_method_handlers(server, service.full_name, handlers)


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
