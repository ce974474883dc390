"""`python -m kv.healthcheck`: exit 0 when the local `kv-server` is ready, 1 when it is not.

The container's HEALTHCHECK runs this with the server's own environment, so it probes the very
addresses the server listens on, whatever `TRANSPORT` says. HTTP, when served, is asked
`/readyz` (the store is usable); a server that speaks only gRPC is asked through the standard
`grpc.health.v1.Health` service. Slim images have no curl, and this needs nothing the server
does not already install.

When the server serves TLS, so does the probe (`kv.probe_tls`).
"""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kv.bootstrap import read_settings
from kv.config import ConfigError, Settings
from kv.probe_tls import ProbeTls

HEALTHY, UNHEALTHY = 0, 1
TIMEOUT_SECONDS = 3.0
WILDCARD_HOSTS = ("", "0.0.0.0", "::")


def probe_host(settings: Settings) -> str:
    """The address to probe: loopback when the server binds every interface."""
    host = "127.0.0.1" if settings.host in WILDCARD_HOSTS else settings.host
    return f"[{host}]" if ":" in host else host


def check_http(settings: Settings, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """None when `/readyz` answers 200, else why not."""
    tls = ProbeTls.from_settings(settings)
    context = None if tls is None else tls.ssl_context()
    scheme = "http" if tls is None else "https"
    url = f"{scheme}://{probe_host(settings)}:{settings.ports['http']}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} unreachable: {exc}"


def check_grpc(settings: Settings, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """None when the gRPC health service says SERVING for the whole server, else why not."""
    target = f"{probe_host(settings)}:{settings.ports['grpc']}"
    tls = ProbeTls.from_settings(settings)
    with grpc.insecure_channel(target) if tls is None else tls.grpc_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        except grpc.RpcError as exc:
            return f"gRPC health at {target} failed: {exc.code().name}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return (
            f"gRPC health at {target} is {health_pb2.HealthCheckResponse.Status.Name(reply.status)}"
        )
    return None


def check_resp(settings: Settings, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """None when the RESP listener answers PING with PONG, else why not."""
    address = (probe_host(settings).strip("[]"), settings.ports["resp"])
    tls = ProbeTls.from_settings(settings)
    try:
        with socket.create_connection(address, timeout=timeout) as plain:
            connection = (
                plain
                if tls is None
                else tls.ssl_context().wrap_socket(plain, server_hostname=address[0])
            )
            connection.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = connection.recv(64)
    except OSError as exc:
        return f"RESP at {address[0]}:{address[1]} unreachable: {exc}"
    return None if reply == b"+PONG\r\n" else f"RESP PING answered {reply!r}"


def check(settings: Settings) -> str | None:
    """Probe the transport that tells the most: HTTP readiness, else gRPC health, else PING."""
    if "http" in settings.transports:
        return check_http(settings)
    if "grpc" in settings.transports:
        return check_grpc(settings)
    if "resp" in settings.transports:
        return check_resp(settings)
    return f"no transport this check knows in {', '.join(settings.transports)}"


def main() -> None:
    try:
        problem = check(read_settings())
    except (ConfigError, OSError) as exc:
        problem = str(exc)
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        sys.exit(UNHEALTHY)
    sys.exit(HEALTHY)


if __name__ == "__main__":
    main()
