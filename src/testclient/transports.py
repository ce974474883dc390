"""The protocols the clients speak, chosen by name (`TRANSPORT`) through `CLIENTS`.

Adding a transport on the client side is a `KVClient` class in its own module
and one line in `CLIENTS`. Everything else reads what it needs of a
transport from that line: the settings (the variable naming its address or
replicas, and the default), the `kv` and `kv-testclient run` option that
overrides it, how to address a server at `host:port` (the in-process test
harness), and what the protocol serves (the scenarios skip what it does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from testclient.client import KVClient
from testclient.grpc_client import GrpcKVClient
from testclient.http_client import HttpKVClient
from testclient.resp_client import RespKVClient
from testclient.tls import ClientTls


class KVClientFactory(Protocol):
    """Builds a `KVClient` from one address, the call timeout, the request id and the TLS files."""

    def __call__(
        self, address: str, /, *, timeout: float, request_id: str | None, tls: ClientTls
    ) -> KVClient: ...


def _http(address: str, /, *, timeout: float, request_id: str | None, tls: ClientTls) -> KVClient:
    # A context is made (the system's CAs read) only for a server that speaks TLS.
    secure = urlsplit(address).scheme == "https"
    return HttpKVClient(
        address,
        timeout=timeout,
        request_id=request_id,
        ssl_context=tls.ssl_context() if secure else None,
    )


def _grpc(address: str, /, *, timeout: float, request_id: str | None, tls: ClientTls) -> KVClient:
    return GrpcKVClient(
        address,
        timeout=timeout,
        request_id=request_id,
        credentials=tls.grpc_credentials() if tls.grpc_secure else None,
    )


def _resp(address: str, /, *, timeout: float, request_id: str | None, tls: ClientTls) -> KVClient:
    return RespKVClient(
        address, timeout=timeout, request_id=request_id, tls_options=tls.redis_options()
    )


@dataclass(frozen=True, slots=True)
class ClientTransport:
    """One protocol as the clients know it."""

    client: KVClientFactory
    variable: str
    """The variable naming the address, or a comma list of the addresses of replicas."""
    default: str
    """The address without it: the server's default port on this machine."""
    option: str
    """The command-line option of `kv` and `kv-testclient run` that overrides `variable`."""
    address_form: str
    """How to address a server at `{host}:{port}` (`{secure}`: the scheme's TLS suffix)."""
    schemes: tuple[str, ...] = ()
    """The URL schemes an address must have; empty: any address (a gRPC target)."""
    watch: bool = True
    """Whether the protocol serves watch."""

    def address_of(self, host: str, port: int, *, secure: bool = False) -> str:
        """The address of this transport's server listening on `host:port` (over TLS: `secure`)."""
        return self.address_form.format(host=host, port=port, secure="s" if secure else "")


CLIENTS: dict[str, ClientTransport] = {
    "http": ClientTransport(
        _http, "KV_URL", "http://localhost:8080", "--url", "http{secure}://{host}:{port}",
        schemes=("http", "https"),
    ),
    "grpc": ClientTransport(
        _grpc, "KV_GRPC_TARGET", "localhost:50051", "--target", "{host}:{port}"
    ),
    "resp": ClientTransport(
        _resp, "KV_RESP_URL", "redis://localhost:6379", "--resp-url",
        "redis{secure}://{host}:{port}", schemes=("redis", "rediss"), watch=False,
    ),
}  # fmt: skip
