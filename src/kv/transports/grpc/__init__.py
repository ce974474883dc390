"""The gRPC transport (grpc.aio): `kv.v1.KeyValue`, grpc.health.v1 and server reflection."""

from kv.transports.grpc.server import GrpcTransport
from kv.transports.grpc.servicer import KeyValueServicer

__all__ = ["GrpcTransport", "KeyValueServicer"]
