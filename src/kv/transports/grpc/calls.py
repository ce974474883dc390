"""The per-call work every method shares: admission, request scope, error mapping.

The gRPC counterpart of the HTTP transport's error middleware, as one
decorator on each servicer method, unary (`unary_call`) or server streaming
(`streaming_call`): it serves the call in its `request_scope` (request id
from the `x-request-id` metadata or made up, returned in the trailing
metadata; metrics; access line), reads the call's request through the
server's `CallAdmission` (call_admission.py), and answers a refusal with its
code, a domain error with its status code from `errors.DOMAIN_ERRORS` and
anything else with INTERNAL. A unary call also holds its share of the
server's admission until it ends; a stream (Watch) lasts as long as its
client wants and holds none (the service bounds the number of watches
instead).

A decorated method is registered as reading its own request (services.py):
grpc hands it the call's request iterator, which it leaves to the admission.
A decorator rather than a `grpc.aio.ServerInterceptor`: with an interceptor,
grpc.aio runs the handler look-up of every call as a coroutine through it
and the interceptor builds a new method handler for each call. Reflection's
stream is grpc's own, not decorated.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote

import grpc
from google.protobuf.message import Message as ProtoMessage

from kv.domain import AccessRefused, BadCredentials, Guard, KVError
from kv.observability import Observability
from kv.transports.grpc.call_admission import Admitted, CallAdmission, Refusal
from kv.transports.grpc.errors import INTERNAL_MESSAGE, SERVER_ERRORS, status_of
from kv.transports.grpc.grpc_internals import Context

GRPC_REQUEST_ID_KEY = "x-request-id"
AUTHORIZATION_KEY = "authorization"
BEARER = "bearer"
OK = grpc.StatusCode.OK.name


class ObservedServicer(Protocol):
    """A servicer whose calls are taken on by a `CallAdmission` and observed (`Observability`)."""

    calls: CallAdmission
    observability: Observability
    guard: Guard


Servicer = TypeVar("Servicer", bound=ObservedServicer)
Request = TypeVar("Request")
Response = TypeVar("Response")
Method = Callable[[Servicer, Request, Context], Awaitable[Response]]
# What grpc calls: the request iterator is left to the admission, which reads the one message.
Handler = Callable[[Servicer, object, Context], Awaitable[Response]]
# Marks a method that reads its own request (services.py registers it so).
READS_REQUEST = "kv_reads_request"


def _read_metadata(context: Context) -> tuple[str | None, list[str]]:
    """The request id offered in the call's metadata, and its `authorization` values."""
    offered = None
    authorization: list[str] = []
    for key, value in context.invocation_metadata() or ():
        if key == GRPC_REQUEST_ID_KEY and isinstance(value, str):
            offered = value
        elif key == AUTHORIZATION_KEY and isinstance(value, str):
            authorization.append(value)
    return offered, authorization


def bearer_token(authorization: list[str]) -> str | None:
    """The token of the one `authorization: Bearer TOKEN` metadata value; None without one."""
    if not authorization:
        return None
    if len(authorization) > 1:
        raise BadCredentials("more than one authorization metadata value")
    scheme, _, token = authorization[0].strip().partition(" ")
    token = token.strip()
    if scheme.lower() != BEARER or not token:
        raise BadCredentials("the authorization metadata must be: Bearer TOKEN")
    return token


@lru_cache(maxsize=1024)
def peer_address(peer: str) -> str | None:
    """The IP address in grpc's peer string (`ipv4:127.0.0.1:5000`, `ipv6:%5B::1%5D:5000`:
    grpc percent-encodes the brackets). Cached: asked of every call, and a
    connection's calls share their peer."""
    kind, _, rest = unquote(peer).partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest[1:].partition("]")[0] if rest.startswith("[") else rest.rpartition(":")[0]
    return None


def unary_call(
    service: str, *, counted: bool = True, needs_token: bool = True
) -> Callable[[Method[Servicer, Request, Response]], Handler[Servicer, Response]]:
    """Decorate a unary-unary method of `service` (its full name, e.g. `kv.v1.KeyValue`).

    The method's name is the RPC's; what the method raises is answered
    through the one table in `errors.py`. The call is taken on and its
    request read by the servicer's `CallAdmission` (call_admission.py), which
    either refuses it (answered with the refusal's code) or hands the
    method the parsed message; the call holds its place and the message's
    bytes in the admission until its answer is sent. A call not `counted`
    (health's Check, which must answer NOT_SERVING while the server drains)
    holds none and is not refused.

    The call's caller is admitted by the servicer's guard first, from the
    `authorization: Bearer TOKEN` metadata and the peer's address (a call
    that `needs_token=False`, health's, only from the address: protected
    mode), and the method runs as that caller.
    """
    return _observed_call(service, admitted=counted, needs_token=needs_token)


def streaming_call(
    service: str, *, needs_token: bool = True
) -> Callable[[Method[Servicer, Request, None]], Handler[Servicer, None]]:
    """Decorate a unary-stream method of `service`, which sends with `context.write`.

    As `unary_call`, except that the call holds no share of the admission
    (its request is still read through it). The status ends the stream: OK
    when the method returns, else its error's code.
    """
    return _observed_call(service, admitted=False, needs_token=needs_token)


def _observed_call(
    service: str, *, admitted: bool, needs_token: bool
) -> Callable[[Method[Servicer, Request, Response]], Handler[Servicer, Response]]:
    def decorate(behavior: Method[Servicer, Request, Response]) -> Handler[Servicer, Response]:
        method = f"/{service}/{behavior.__name__}"

        @functools.wraps(behavior)
        async def call(servicer: Servicer, requests: object, context: Context) -> Response:
            request: Admitted[Any] | Refusal | None = None
            offered, authorization = _read_metadata(context)
            peer = context.peer()
            guard = servicer.guard
            # The scope ends (metrics, access line) before the answer is
            # sent, so a client that has its answer can find the call's line.
            with servicer.observability.request_scope("grpc", method, offered, peer=peer) as scope:
                # Sent with the status: a separate send of initial metadata would
                # cost one more C-core operation and loop wake-up per call.
                context.set_trailing_metadata(((GRPC_REQUEST_ID_KEY, scope.request_id),))
                try:
                    if needs_token:
                        token = bearer_token(authorization) if guard.enabled else None
                        principal = guard.admit(token, peer_address(peer))
                    else:
                        guard.admit_peer(peer_address(peer))
                        principal = None
                    request = await servicer.calls.take(method, context, counted=admitted)
                    if isinstance(request, Refusal):
                        status, details = request.code, request.message
                    else:
                        with guard.acting_as(principal):
                            response = await behavior(servicer, request.message, context)
                        if request.held is not None and isinstance(response, ProtoMessage):
                            servicer.calls.hold_answer(request.held, response)
                        scope.answered(OK)
                        return response
                except KVError as exc:
                    if isinstance(exc, AccessRefused):
                        scope.refused(exc)
                    status, details = status_of(exc), str(exc)
                except grpc.aio.AbortError:  # the method aborted (and answered) the call
                    status = context.code() or grpc.StatusCode.UNKNOWN
                    scope.answered(status.name, server_error=status in SERVER_ERRORS)
                    raise
                except Exception:
                    scope.unexpected_error()
                    status, details = grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE
                scope.answered(status.name, server_error=status in SERVER_ERRORS)
            # Aborted here, without the request: grpc keeps the AbortError in
            # the call's state, which its traceback's frames (this one) refer
            # back to, so the parsed request (up to 25 times the message's
            # size) would otherwise live until the garbage collector's next
            # full pass. Not in the except clauses either: the AbortError
            # would keep the error as its context.
            request = None
            return await context.abort(status, details)  # raises AbortError

        setattr(call, READS_REQUEST, True)
        return call

    return decorate
