"""The per-call work every unary method shares: request id, error mapping, access log.

The gRPC counterpart of the HTTP transport's error middleware and access
logger, as a decorator on each unary servicer method (`unary_call`): it
takes the request id from the `x-request-id` metadata (or makes one up)
into `kv.logs.request_id`, returns it in the trailing metadata, answers a
domain error with its status code from `errors.DOMAIN_ERRORS` and anything
else with INTERNAL, and logs one `kv.access` line per call.

A decorator rather than a `grpc.aio.ServerInterceptor`: with an interceptor,
grpc.aio runs the handler look-up of every call as a coroutine through it
and the interceptor builds a new method handler for each call, about 4% of
a call's CPU time. Streaming methods (health Watch, reflection) are not
decorated.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import grpc

from kv.domain import KVError
from kv.logs import GRPC_REQUEST_ID_KEY, accept_request_id, log_request, request_id
from kv.transports.admission import Admission
from kv.transports.grpc.admission import Admitted, Refusal
from kv.transports.grpc.errors import INTERNAL_MESSAGE, status_of

log = logging.getLogger("kv.grpc")
access_log = logging.getLogger("kv.access")

# The stubs make it generic; grpc's runtime class is not subscriptable.
if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
else:
    Context = grpc.aio.ServicerContext


class AdmittingServicer(Protocol):
    """A servicer whose calls are counted and refused by an `Admission`."""

    admission: Admission


Servicer = TypeVar("Servicer", bound=AdmittingServicer)
Request = TypeVar("Request")
Response = TypeVar("Response")
Method = Callable[[Servicer, Request, Context], Awaitable[Response]]


def _offered_request_id(context: Context) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == GRPC_REQUEST_ID_KEY and isinstance(value, str):
            return value
    return None


def _log_access(rid: str, method: str, status: grpc.StatusCode, started: float, peer: str) -> None:
    log_request(
        access_log,
        "request",
        transport="grpc",
        request_id=rid,
        method=method,
        status=status.name,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        remote=peer,
    )


def unary_call(
    service: str,
) -> Callable[[Method[Servicer, Request, Response]], Method[Servicer, Request, Response]]:
    """Decorate a unary-unary method of `service` (its full name, e.g. `kv.v1.KeyValue`).

    The method's name is the RPC's; what the method raises is answered
    through the one table in `errors.py`. The request comes as the server's
    admission left it (admission.py): a `Refusal`, answered with its code,
    or `Admitted`, whose message the method gets and whose size the call
    holds of the admission until it ends; the health service's requests
    come unwrapped and hold nothing.
    """

    def decorate(
        behavior: Method[Servicer, Request, Response],
    ) -> Method[Servicer, Request, Response]:
        method = f"/{service}/{behavior.__name__}"

        @functools.wraps(behavior)
        async def call(
            servicer: Servicer, request: Request | Admitted[Request] | Refusal, context: Context
        ) -> Response:
            started = time.perf_counter()
            rid = accept_request_id(_offered_request_id(context))
            request_id.set(rid)
            # Sent with the status: a separate send of initial metadata would cost
            # one more C-core operation and loop wake-up per call (about 40 µs).
            context.set_trailing_metadata(((GRPC_REQUEST_ID_KEY, rid),))
            status = grpc.StatusCode.OK
            admission = servicer.admission
            size = request.size if isinstance(request, Admitted) else 0
            admission.enter(size)
            try:
                failure: tuple[grpc.StatusCode, str]
                try:
                    if isinstance(request, Refusal):
                        failure = (request.code, request.message)
                    else:
                        return await behavior(
                            servicer,
                            request.message if isinstance(request, Admitted) else request,
                            context,
                        )
                except KVError as exc:
                    failure = (status_of(exc), str(exc))
                except asyncio.CancelledError:
                    status = grpc.StatusCode.CANCELLED
                    raise
                except grpc.aio.AbortError:
                    status = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                except Exception:
                    log.exception("unhandled error serving %s", method, extra={"request_id": rid})
                    failure = (grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)
                # Aborted here, without the request: grpc keeps the AbortError in
                # the call's state, which its traceback's frames (this one) refer
                # back to, so the parsed request (up to 25 times the message's
                # size) would otherwise live until the garbage collector's next
                # full pass. Not in the except clauses either: the AbortError
                # would keep the error as its context.
                del request
                status = failure[0]
                await context.abort(*failure)
            finally:
                admission.leave(size)
                _log_access(rid, method, status, started, context.peer())

        return call

    return decorate
