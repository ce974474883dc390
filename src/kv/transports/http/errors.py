"""Every error the HTTP transport can answer with, mapped in one place.

Domain errors map through `DOMAIN_ERRORS`; HTTP-only failures (unknown route,
wrong method, wrong content type) through `HTTP_ERRORS`. `error_answer`
turns both into `{"error": {"code": C, "message": M}}`; anything else is a
bug, is logged with its traceback and answered 500 with nothing of the
exception. The request middleware (middleware.py) calls it for whatever a
request's handler raises.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import istr

from kv.domain import (
    AccessRefused,
    BadCredentials,
    Compacted,
    IdempotencyKeyReused,
    InvalidRequest,
    KeyExists,
    KeyNotFound,
    KVError,
    OutcomeUnknown,
    PermissionDenied,
    PreconditionFailed,
    ProtectedMode,
    StorageUnavailable,
    TooManyWatches,
    Unauthenticated,
    ValueTooLarge,
    WatcherTooSlow,
)
from kv.json_codec import write_json
from kv.observability import Observability, RequestScope
from kv.transports.error_tables import closest_row

REQUEST_ID_HEADER = istr("X-Request-ID")
OBSERVABILITY = web.AppKey("observability", Observability)

DOMAIN_ERRORS: dict[type[KVError], tuple[int, str]] = {
    InvalidRequest: (400, "invalid_request"),
    KeyNotFound: (404, "not_found"),
    KeyExists: (409, "already_exists"),
    PreconditionFailed: (412, "precondition_failed"),
    IdempotencyKeyReused: (422, "idempotency_key_reused"),
    ValueTooLarge: (413, "payload_too_large"),
    StorageUnavailable: (503, "unavailable"),
    OutcomeUnknown: (504, "outcome_unknown"),
    Compacted: (410, "compacted"),
    TooManyWatches: (503, "unavailable"),
    # Raised once a watch's stream has started: the stream ends (see watch.py).
    WatcherTooSlow: (503, "unavailable"),
    Unauthenticated: (401, "unauthenticated"),
    BadCredentials: (401, "unauthenticated"),
    PermissionDenied: (403, "permission_denied"),
    ProtectedMode: (403, "protected_mode"),
    # Raised only as one of its subclasses; mapped so that every domain error has a row.
    AccessRefused: (403, "permission_denied"),
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
# Sent with every 401: the scheme and realm the client must authenticate with.
AUTHENTICATE_CHALLENGE = 'Bearer realm="kv"'


def compact_json(document: Any) -> bytes:
    """The UTF-8 compact JSON every response body of this API is written in."""
    return write_json(document)


def json_response(document: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=compact_json(document), content_type="application/json")


def error_response(status: int, code: str, message: str) -> web.Response:
    response = json_response({"error": {"code": code, "message": message}}, status)
    if status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    elif status == 401:
        response.headers["WWW-Authenticate"] = AUTHENTICATE_CHALLENGE
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


def error_answer(exc: Exception, scope: RequestScope) -> web.Response:
    """The answer to `exc`, raised while serving the request of `scope`, by the tables above.

    Call it from the `except` clause that caught `exc`: a bug (an exception
    of neither table) is logged with the traceback being handled. A refusal
    of access control is recorded as one (`scope.refused`).
    """
    if isinstance(exc, KVError):
        if isinstance(exc, AccessRefused):
            scope.refused(exc)
        return domain_error_response(exc)
    if isinstance(exc, web.HTTPException):
        return _http_error_response(exc)
    scope.unexpected_error()
    return error_response(500, "internal", "internal error; see the server log")
