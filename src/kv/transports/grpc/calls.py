"""The per-call work every method shares: admission, request scope, error mapping.

The gRPC counterpart of the HTTP transport's error middleware, as one
decorator on each servicer method, unary (`unary_call`) or server streaming
(`streaming_call`): it serves the call in its `request_scope` (request id
from the `x-request-id` metadata or made up, returned in the trailing
metadata; metrics; access line), answers a domain error with its status
code from `errors.DOMAIN_ERRORS` and anything else with INTERNAL. A unary
call also holds its share of the server's admission until it ends; a
stream (Watch) lasts as long as its client wants and holds none (the
service bounds the number of watches instead).

A decorator rather than a `grpc.aio.ServerInterceptor`: with an interceptor,
grpc.aio runs the handler look-up of every call as a coroutine through it
and the interceptor builds a new method handler for each call. The streaming
methods of health (Watch) and reflection are not decorated.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import grpc

from kv.domain import KVError
from kv.observability import Observability
from kv.transports.admission import Admission
from kv.transports.grpc.admission import Admitted, Refusal
from kv.transports.grpc.errors import INTERNAL_MESSAGE, SERVER_ERRORS, status_of

GRPC_REQUEST_ID_KEY = "x-request-id"

# The stubs make it generic; grpc's runtime class is not subscriptable.
if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
else:
    Context = grpc.aio.ServicerContext


class ObservedServicer(Protocol):
    """A servicer whose calls are admitted by an `Admission` and observed (`Observability`)."""

    admission: Admission
    observability: Observability


Servicer = TypeVar("Servicer", bound=ObservedServicer)
Request = TypeVar("Request")
Response = TypeVar("Response")
Method = Callable[[Servicer, Request, Context], Awaitable[Response]]


def _offered_request_id(context: Context) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == GRPC_REQUEST_ID_KEY and isinstance(value, str):
            return value
    return None


def unary_call(
    service: str,
) -> Callable[[Method[Servicer, Request, Response]], Method[Servicer, Request, Response]]:
    """Decorate a unary-unary method of `service` (its full name, e.g. `kv.v1.KeyValue`).

    The method's name is the RPC's; what the method raises is answered
    through the one table in `errors.py`. The request comes as the server's
    admission left it (admission.py): a `Refusal`, answered with its code,
    or `Admitted`, whose message the method gets and whose size the call
    holds of the admission until its answer is sent; the health service's requests
    come unwrapped and hold nothing.
    """
    return _observed_call(service, admitted=True)


def streaming_call(
    service: str,
) -> Callable[[Method[Servicer, Request, None]], Method[Servicer, Request, None]]:
    """Decorate a unary-stream method of `service`, which sends with `context.write`.

    As `unary_call`, except that the call holds no share of the admission
    (its request is a message, or a `Refusal` of its own parser). The status
    ends the stream: OK when the method returns, else its error's code.
    """
    return _observed_call(service, admitted=False)


def _observed_call(
    service: str, *, admitted: bool
) -> Callable[[Method[Servicer, Request, Response]], Method[Servicer, Request, Response]]:
    def decorate(
        behavior: Method[Servicer, Request, Response],
    ) -> Method[Servicer, Request, Response]:
        method = f"/{service}/{behavior.__name__}"

        @functools.wraps(behavior)
        async def call(
            servicer: Servicer, request: Request | Admitted[Request] | Refusal, context: Context
        ) -> Response:
            admission = servicer.admission if admitted else None
            size = request.size if isinstance(request, Admitted) else 0
            if admission is not None:
                admission.enter(size)
                # Left once grpc has sent the answer (its done callbacks run after
                # the status went out, whatever the outcome), not when the method
                # returns: the transport's stop closes the connections once no call
                # is in progress (connections.py), which must lose no answer.
                # grpc calls any callable; its stubs declare a class of their own.
                context.add_done_callback(lambda _: admission.leave(size))  # type: ignore[arg-type]
            message: object = None
            # The scope ends (metrics, access line) before the answer is
            # sent, so a client that has its answer can find the call's line.
            with servicer.observability.request_scope(
                "grpc", method, _offered_request_id(context), peer=context.peer()
            ) as scope:
                # Sent with the status: a separate send of initial metadata would
                # cost one more C-core operation and loop wake-up per call.
                context.set_trailing_metadata(((GRPC_REQUEST_ID_KEY, scope.request_id),))
                try:
                    if isinstance(request, Refusal):
                        status, details = request.code, request.message
                    else:
                        message = request.message if isinstance(request, Admitted) else request
                        response = await behavior(servicer, message, context)
                        scope.answered(grpc.StatusCode.OK.name)
                        return response
                except KVError as exc:
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
            del request
            message = None
            return await context.abort(status, details)  # raises AbortError

        return call

    return decorate
