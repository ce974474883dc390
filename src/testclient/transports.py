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

from testclient.client import KVClient
from testclient.grpc_client import GrpcKVClient
from testclient.http_client import HttpKVClient
from testclient.resp_client import RespKVClient


class KVClientFactory(Protocol):
    """A `KVClient` class: built from one address, the call timeout and the request id."""

    def __call__(self, address: str, /, *, timeout: float, request_id: str | None) -> KVClient: ...


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
    """How to address a server at `{host}:{port}`."""
    schemes: tuple[str, ...] = ()
    """The URL schemes an address must have; empty: any address (a gRPC target)."""
    watch: bool = True
    """Whether the protocol serves watch."""

    def address_of(self, host: str, port: int) -> str:
        """The address of this transport's server listening on `host:port`."""
        return self.address_form.format(host=host, port=port)


CLIENTS: dict[str, ClientTransport] = {
    "http": ClientTransport(
        HttpKVClient, "KV_URL", "http://localhost:8080", "--url", "http://{host}:{port}",
        schemes=("http", "https"),
    ),
    "grpc": ClientTransport(
        GrpcKVClient, "KV_GRPC_TARGET", "localhost:50051", "--target", "{host}:{port}"
    ),
    "resp": ClientTransport(
        RespKVClient, "KV_RESP_URL", "redis://localhost:6379", "--resp-url",
        "redis://{host}:{port}", schemes=("redis", "rediss"), watch=False,
    ),
}  # fmt: skip
