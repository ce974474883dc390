"""The etcd members KV_ETCD_ENDPOINTS names, resolved once into the addresses of one target."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

from kv.domain import StorageUnavailable


async def member_addresses(endpoints: Sequence[str]) -> tuple[str, list[str]]:
    """Every member's address for a gRPC target: ("ipv4", ["a:p", ...]) (or "ipv6" when only v6)."""
    loop = asyncio.get_running_loop()
    v4: list[str] = []
    v6: list[str] = []
    for endpoint in endpoints:
        host, _, port = endpoint.rpartition(":")
        try:
            infos = await loop.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)
        except OSError as exc:
            raise StorageUnavailable(
                f"etcd endpoint {endpoint} cannot be resolved: {exc}"
            ) from None
        v4 += {f"{info[4][0]}:{port}" for info in infos if info[0] == socket.AF_INET}
        v6 += {f"[{info[4][0]}]:{port}" for info in infos if info[0] == socket.AF_INET6}
    if v4:
        return "ipv4", list(dict.fromkeys(v4))
    return "ipv6", list(dict.fromkeys(v6))
