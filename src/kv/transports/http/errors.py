"""Every error the HTTP transport can answer with, mapped in one place.

Domain errors map through `DOMAIN_ERRORS`; HTTP-only failures (unknown route,
wrong method, wrong content type) through `HTTP_ERRORS`. The middleware turns
both into `{"error": {"code": C, "message": M}}`; anything else is a bug, is
logged with its traceback and answered 500 with nothing of the exception.
The middleware also runs each request in its `request_scope` (request id,
metrics, access line: `kv.observability.scope`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from kv.domain import (
    Compacted,
    InvalidRequest,
    KeyExists,
    KeyNotFound,
    KVError,
    OutcomeUnknown,
    PreconditionFailed,
    StorageUnavailable,
    TooManyWatches,
    ValueTooLarge,
    WatcherTooSlow,
)
from kv.json_codec import write_json
from kv.observability import Observability
from kv.transports.error_tables import closest_row

REQUEST_ID_HEADER = "X-Request-ID"
OBSERVABILITY = web.AppKey("observability", Observability)

DOMAIN_ERRORS: dict[type[KVError], tuple[int, str]] = {
    InvalidRequest: (400, "invalid_request"),
    KeyNotFound: (404, "not_found"),
    KeyExists: (409, "already_exists"),
    PreconditionFailed: (412, "precondition_failed"),
    ValueTooLarge: (413, "payload_too_large"),
    StorageUnavailable: (503, "unavailable"),
    OutcomeUnknown: (504, "outcome_unknown"),
    Compacted: (410, "compacted"),
    TooManyWatches: (503, "unavailable"),
    # Raised once a watch's stream has started: the stream ends (see watch.py).
    WatcherTooSlow: (503, "unavailable"),
}

HTTP_ERRORS: dict[int, str] = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}

RETRY_AFTER_SECONDS = "1"


def compact_json(document: Any) -> bytes:
    """The UTF-8 compact JSON every response body of this API is written in."""
    return write_json(document)


def json_response(document: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=compact_json(document), content_type="application/json")


def error_response(status: int, code: str, message: str) -> web.Response:
    response = json_response({"error": {"code": code, "message": message}}, status)
    if status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def domain_error_response(exc: KVError) -> web.Response:
    """The response for a domain error: its row in `DOMAIN_ERRORS` (`closest_row`)."""
    row = closest_row(DOMAIN_ERRORS, exc)
    if row is None:
        return error_response(500, "internal", "internal error; see the server log")
    status, code = row
    return error_response(status, code, str(exc))


def _http_error_response(exc: web.HTTPException) -> web.Response:
    code = HTTP_ERRORS.get(exc.status, "internal" if exc.status >= 500 else "invalid_request")
    response = error_response(exc.status, code, exc.reason if exc.text is None else exc.text)
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def operation_of(request: web.Request) -> str:
    """The route a request matched, e.g. `PUT /v1/kv/{key}` (a metric label: few values)."""
    resource = request.match_info.route.resource
    return "unmatched" if resource is None else f"{request.method} {resource.canonical}"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve in the request's scope, and answer every error as JSON with the status of its table."""
    with request.app[OBSERVABILITY].request_scope(
        "http",
        operation_of(request),
        request.headers.get(REQUEST_ID_HEADER),
        path=request.path,
        remote=request.remote,
    ) as scope:
        try:
            response = await handler(request)
        except KVError as exc:
            response = domain_error_response(exc)
        except web.HTTPException as exc:
            if exc.status < 400:  # a redirect: aiohttp sends it
                scope.answered(str(exc.status))
                raise
            response = _http_error_response(exc)
        except Exception:
            scope.unexpected_error()
            response = error_response(500, "internal", "internal error; see the server log")
        response.headers[REQUEST_ID_HEADER] = scope.request_id
        scope.answered(str(response.status), server_error=response.status >= 500)
        return response
