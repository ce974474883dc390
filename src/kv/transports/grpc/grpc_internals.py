"""Closing the gRPC server's client connections from outside grpc, before grpc's core stops.

When grpc.aio's server stops, grpc's core resets with CANCELLED every call
that has reached it but has not yet been handed to the server (its pending
queue), and every call that arrives between the stop and the client reading
the GOAWAY (grpc/grpc#41785; nothing was done, but CANCELLED does not say
"safe to retry"). Clients that retry every few milliseconds always have such
calls in flight, however long the server keeps refusing them first.

A connection that closes under a call is reported UNAVAILABLE by every gRPC
client, which is what such a call must get. So once the transport has no
call in progress (everything it still receives is refused UNAVAILABLE), it
shuts down the TCP connections accepted on its port itself, through
duplicates of their descriptors, and then stops grpc's server at once: the
clients' next attempts find the listener closed. grpc's core sees each
connection end as if the client had left.

Linux only (`/proc/self/fd`); elsewhere nothing is closed and grpc's own
stop is all there is.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import TYPE_CHECKING, Any

import grpc

PROCESS_FDS = "/proc/self/fd"

# A servicer method's context. grpc-stubs declare the class generic; grpc's
# runtime class is not subscriptable, so only the type checker sees the
# parameters.
if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
else:
    Context = grpc.aio.ServicerContext


def shut_down_connections(port: int) -> int:
    """Shut down (both ways) every TCP connection this process accepted on local `port`.

    Returns how many. Each descriptor is duplicated before it is looked at,
    so a descriptor that grpc closes (and the process reuses) meanwhile is
    never mistaken for another; listening sockets and the process's own
    client connections (another local port) are left alone.
    """
    try:
        names = os.listdir(PROCESS_FDS)
    except OSError:
        return 0
    closed = 0
    for name in names:
        try:
            duplicate = os.dup(int(name))
        except (OSError, ValueError):
            continue
        try:
            sock = socket.socket(fileno=duplicate)
        except OSError:  # not a socket
            os.close(duplicate)
            continue
        with sock:
            if _accepted_on(sock, port):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    closed += 1
    return closed


def _accepted_on(sock: socket.socket, port: int) -> bool:
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
        return False
    try:
        local_port: int = sock.getsockname()[1]
        sock.getpeername()  # a listening socket has no peer
    except OSError:
        return False
    return local_port == port
