"""The one middleware every HTTP request goes through: `request_middleware`.

For each request, in this order:

1. admission (limits.py): a request that holds a slot is refused 503 when
   the server already serves its limit, drains, or (a write) has its answer
   budget full; the refusal is counted and logged in a scope of its own;
2. the request scope (`kv.observability`): the request id from
   `X-Request-ID` or made up, echoed in the answer; the timer, the metrics
   and the access line;
3. access control (access.py, `admit`): who the caller is, or the refusal;
4. the route's handler, run as that caller;
5. what it raised, answered through the one error table (errors.py);
6. the answer written within the answer budget (limits.py), once the
   request's slot is given back.

One middleware rather than one per concern: aiohttp runs each middleware as
a coroutine of its own for every request. Its dependencies are bound when
the app is made (`request_middleware`), not looked up per request.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_urldispatcher import AbstractRoute

from kv.domain import Guard
from kv.observability import Observability
from kv.transports.admission import Admission
from kv.transports.budget import ByteBudget
from kv.transports.http.access import admit
from kv.transports.http.errors import REQUEST_ID_HEADER, error_answer, error_response
from kv.transports.http.limits import admission_refusal, holds_slot, write_answer

UNMATCHED = "unmatched"


class Operations:
    """The metric label of each route: `GET /v1/kv/{key}` (its method and pattern).

    Worked out once per route of the app; a request no route matched is
    `unmatched` (aiohttp makes a route of its own for each of those).
    """

    def __init__(self) -> None:
        self._names: dict[AbstractRoute, str] = {}

    def of(self, request: web.Request) -> str:
        route = request.match_info.route
        name = self._names.get(route)
        if name is None:
            resource = route.resource
            if resource is None:
                return UNMATCHED
            name = f"{request.method} {resource.canonical}"
            if route.method == request.method:
                self._names[route] = name
        return name


def request_middleware(
    *,
    admission: Admission,
    answers: ByteBudget,
    observability: Observability,
    guard: Guard,
) -> Middleware:
    """The app's one middleware, serving each request as the module docstring says."""
    operations = Operations()
    request_scope = observability.request_scope

    @web.middleware
    async def serve(request: web.Request, handler: Handler) -> web.StreamResponse:
        counted = holds_slot(request)
        if counted:
            refusal = admission_refusal(request, admission, answers)
            if refusal is not None:
                refused = _refused(request, observability, operations.of(request), refusal)
                if admission.draining:
                    refused.force_close()
                return refused
            admission.enter()
        try:
            with request_scope(
                "http",
                operations.of(request),
                request.headers.get(REQUEST_ID_HEADER),
                path=request.path,
                remote=request.remote,
            ) as scope:
                try:
                    with guard.acting_as(admit(request, guard)):
                        response = await handler(request)
                except web.HTTPException as exc:
                    if exc.status < 400:  # a redirect: aiohttp sends it
                        scope.answered(str(exc.status))
                        raise
                    response = error_answer(exc, scope)
                except Exception as exc:
                    response = error_answer(exc, scope)
                response.headers[REQUEST_ID_HEADER] = scope.request_id
                status = response.status
                scope.answered(str(status), server_error=status >= 500)
        finally:
            if counted:
                admission.leave()
        if admission.draining:
            response.force_close()  # served to the end, then the connection closes
        if counted:
            await write_answer(request, response, answers)
        return response

    return serve


def _refused(
    request: web.Request, observability: Observability, operation: str, refusal: str
) -> web.Response:
    """503 `unavailable` with Retry-After, counted and logged as the server error it is."""
    with observability.request_scope(
        "http", operation, request.headers.get(REQUEST_ID_HEADER)
    ) as scope:
        refused = error_response(503, "unavailable", refusal)
        refused.headers[REQUEST_ID_HEADER] = scope.request_id
        scope.answered("503", server_error=True)
    return refused
