"""Where the clients find the KV service, and where the test-client service listens."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kv.config import Env
from testclient.client import KVClient
from testclient.grpc_client import GrpcKVClient
from testclient.http_client import HttpKVClient
from testclient.resp_client import RespKVClient


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """The client side's settings (see README, Configuration)."""

    transport: str = "http"
    kv_url: str = "http://localhost:8080"
    grpc_target: str = "localhost:50051"
    resp_url: str = "redis://localhost:6379"
    host: str = "0.0.0.0"
    port: int = 8081
    timeout: float = 10.0
    request_id: str | None = None
    """Sent with every call so the KV service's log lines carry the caller's request id;
    None: each call gets a new one. The test-client service sets it per request."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        env = Env(environ)
        return cls(
            transport=env.choice("TRANSPORT", "http", tuple(CLIENTS)),
            kv_url=env.text("KV_URL", "http://localhost:8080"),
            grpc_target=env.text("KV_GRPC_TARGET", "localhost:50051"),
            resp_url=env.text("KV_RESP_URL", "redis://localhost:6379"),
            host=env.text("KV_HOST", "0.0.0.0"),
            port=env.port("TESTCLIENT_PORT", 8081),
            timeout=env.number("KV_CLIENT_TIMEOUT", 10.0, low=0.1, high=600.0),
        )


def _http(settings: ClientSettings) -> KVClient:
    return HttpKVClient(settings.kv_url, timeout=settings.timeout, request_id=settings.request_id)


def _grpc(settings: ClientSettings) -> KVClient:
    return GrpcKVClient(
        settings.grpc_target, timeout=settings.timeout, request_id=settings.request_id
    )


def _resp(settings: ClientSettings) -> KVClient:
    return RespKVClient(settings.resp_url, timeout=settings.timeout)


# Adding a transport on the client side: one KVClient class, one line here.
CLIENTS: dict[str, Callable[[ClientSettings], KVClient]] = {
    "http": _http,
    "grpc": _grpc,
    "resp": _resp,
}


def connect(settings: ClientSettings, transport: str | None = None) -> KVClient:
    """A new KVClient for `transport` (default: the configured one). Call inside a running loop."""
    return CLIENTS[transport or settings.transport](settings)
