"""The gRPC transport's health probe (`kv.healthcheck`): the standard `grpc.health.v1` service."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kv.probe_tls import ProbeTls


def probe(host: str, port: int, timeout: float, tls: ProbeTls | None) -> str | None:
    """None when the health service at `host:port` says SERVING for the whole server."""
    target = f"{host}:{port}"
    with grpc.insecure_channel(target) if tls is None else tls.grpc_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        except grpc.RpcError as exc:
            return f"gRPC health at {target} failed: {exc.code().name}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        status = health_pb2.HealthCheckResponse.Status.Name(reply.status)
        return f"gRPC health at {target} is {status}"
    return None
