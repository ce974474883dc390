"""Where the clients find the KV service (one replica or several); where the test client listens."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from testclient.client import KVClient
from testclient.environment import ConfigError, Env, split_list
from testclient.grpc_client import GrpcKVClient
from testclient.http_client import HttpKVClient
from testclient.resp_client import RespKVClient

__all__ = ["CLIENTS", "REPLICA_ADDRESSES", "ClientSettings", "ConfigError", "connect", "replicas"]


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """The client side's settings (see docs/configuration.md).

    `kv_url` and `grpc_target` each name one address, or a comma list of the
    addresses of replicas of one service: `replicas()` splits them.
    """

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
    token: str | None = None
    """`KV_TOKEN`: sent on every call, over every transport, when the service requires one."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        env = Env(environ)
        return cls(
            transport=env.choice("TRANSPORT", "http", tuple(CLIENTS)),
            kv_url=env.urls("KV_URL", "http://localhost:8080"),
            grpc_target=env.targets("KV_GRPC_TARGET", "localhost:50051"),
            resp_url=env.targets("KV_RESP_URL", "redis://localhost:6379"),
            host=env.text("KV_HOST", "0.0.0.0"),
            port=env.port("TESTCLIENT_PORT", 8081),
            timeout=env.number("KV_CLIENT_TIMEOUT", 10.0, low=0.1, high=600.0),
            token=env.text("KV_TOKEN", "") or None,
        )


def _first(addresses: str) -> str:
    return split_list(addresses)[0]


def _http(settings: ClientSettings) -> KVClient:
    return HttpKVClient(
        _first(settings.kv_url),
        timeout=settings.timeout,
        request_id=settings.request_id,
        token=settings.token,
    )


def _grpc(settings: ClientSettings) -> KVClient:
    return GrpcKVClient(
        _first(settings.grpc_target),
        timeout=settings.timeout,
        request_id=settings.request_id,
        token=settings.token,
    )


def _resp(settings: ClientSettings) -> KVClient:
    return RespKVClient(_first(settings.resp_url), timeout=settings.timeout, token=settings.token)


# Adding a transport on the client side: one KVClient class, one line here.
CLIENTS: dict[str, Callable[[ClientSettings], KVClient]] = {
    "http": _http,
    "grpc": _grpc,
    "resp": _resp,
}

# The setting that names a transport's replicas (a comma list); a transport
# without a line here has one address, so one replica.
REPLICA_ADDRESSES: dict[str, str] = {
    "http": "kv_url",
    "grpc": "grpc_target",
    "resp": "resp_url",
}


def _only(field: str, address: str) -> dict[str, Any]:
    return {field: address}


def connect(settings: ClientSettings, transport: str | None = None) -> KVClient:
    """A new KVClient for `transport` (default: the configured one), on its first replica.

    Call it inside a running event loop.
    """
    return CLIENTS[transport or settings.transport](settings)


def replicas(settings: ClientSettings, transport: str | None = None) -> tuple[ClientSettings, ...]:
    """One settings object per replica that `transport`'s setting names, each naming only it."""
    field = REPLICA_ADDRESSES.get(transport or settings.transport)
    if field is None:
        return (settings,)
    addresses: tuple[str, ...] = split_list(getattr(settings, field))
    return tuple(replace(settings, **_only(field, address)) for address in addresses)
