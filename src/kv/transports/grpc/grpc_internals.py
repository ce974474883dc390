"""Every place the gRPC transport relies on grpc.aio beyond its documented API.

Each workaround below keeps an invariant of the transport; the tests named
guard the invariant, and tests/unit/test_upstream_canaries.py fails with
"upstream changed: ..." when what a workaround relies on is no longer so.
grpcio has an upper bound in pyproject.toml: raising it means running those
tests against the new version first.

1. Methods read their own request (`handler_reading_its_request`,
   `add_method_handlers`). Invariant: grpc reads a call's message only when
   the method asks for it (`context.read()`, call_admission.py), so memory
   is bounded by the read slots and not by how many calls grpc's core holds.
   Relies on: a method declared unary-request served by a stream-request
   handler, which is the same on the wire; `add_registered_method_handlers`,
   which grpc-stubs do not declare. Guards: tests/hostile/test_grpc_reads.py,
   tests/hostile/test_memory.py, and the transport contract suite (clients
   call the methods as the proto declares).
2. Closing the client connections before grpc's stop (`shut_down_connections`),
   for grpc/grpc#41785 (fix proposed in grpc/grpc#41786). Invariant: no call
   ends CANCELLED because the server stopped; it ends OK or UNAVAILABLE (safe
   to retry). Guards: tests/hostile/test_shutdown.py. The bug is a race in
   grpc's core, not reproducible deterministically, so its canary checks the
   precondition instead: the connections grpc accepted are sockets of this
   process, found and shut down here. Once grpcio ships the fix, this can
   go and its guards stay.
3. A call drops its parsed request before `context.abort` (calls.py,
   `_observed_call`; a frame's local cannot be dropped from here). grpc keeps
   the AbortError in the call's state, and its traceback keeps the frames'
   locals: without this, a refused request (up to 25 times its message's
   size once parsed) would live until the garbage collector's next full
   pass. Guard: tests/hostile/test_memory.py. Canary: with the collector
   off, a dropped local is freed when the call ends and a kept one is not.
4. `Context`: grpc-stubs declare the servicer context generic; grpc's
   runtime class is not subscriptable, so only the type checker sees it so.

The connection closing (2): when grpc.aio's server stops, grpc's core resets
with CANCELLED every call that has reached it but has not yet been handed to
the server (its pending queue), and every call that arrives between the stop
and the client reading the GOAWAY (nothing was done, but CANCELLED does not
say "safe to retry"). Clients that retry every few milliseconds always have
such calls in flight, however long the server keeps refusing them first. A
connection that closes under a call is reported UNAVAILABLE by every gRPC
client, which is what such a call must get. So once the transport has no
call in progress (everything it still receives is refused UNAVAILABLE), it
shuts down the TCP connections accepted on its port itself, through
duplicates of their descriptors, and then stops grpc's server at once: the
clients' next attempts find the listener closed. grpc's core sees each
connection end as if the client had left. Linux only (`/proc/self/fd`);
elsewhere nothing is closed and grpc's own stop is all there is.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

PROCESS_FDS = "/proc/self/fd"

# A servicer method's context (4 above).
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


def handler_reading_its_request(
    behavior: Callable[..., Any], *, streaming: bool, serialize: Callable[[Any], bytes]
) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler for a method the proto declares unary-request, registered as stream-request.

    Both are the same on the wire (the client sends one message), but grpc
    hands a stream-request method the call's request iterator instead of
    reading and parsing the message first: `behavior` reads it through
    `context.read()` when it has room for it (call_admission.py). No
    request deserializer: the method gets the raw bytes and parses them.
    """
    make = (
        grpc.stream_stream_rpc_method_handler if streaming else grpc.stream_unary_rpc_method_handler
    )
    return make(behavior, response_serializer=serialize)


def add_method_handlers(
    server: grpc.aio.Server, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
) -> None:
    """Serve `handlers` (by method name) as `service` (its full name) on `server`.

    Registered twice, as grpc's generated code does: as a generic handler,
    and through `add_registered_method_handlers`, which grpc-stubs do not
    declare, so that grpc's core matches the method by its registered path.
    """
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_registered_method_handlers(service, handlers)  # type: ignore[attr-defined]
