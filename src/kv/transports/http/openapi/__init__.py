"""The OpenAPI 3.1 document of the REST API, served at `GET /openapi.json`.

It is made from the application's own router: every route the app has is
looked up in `OPERATIONS` by (method, path), and a route without an entry
stops the document from being built, so the two cannot drift apart
silently. A HEAD route takes the operation of the GET beside it, without a
body. Adding a path: its route in `create_app`, one entry in `OPERATIONS`
(operations.py; the schemas they refer to are in schemas.py).
tests/http/test_openapi.py checks the routes and the operations both ways,
and validates real responses against the schemas; tests/fuzz fuzzes the API
from this document.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kv.transports.http.access import is_open
from kv.transports.http.errors import compact_json
from kv.transports.http.openapi.operations import OPERATIONS
from kv.transports.http.openapi.schemas import JSON, SCHEMAS

__all__ = ["OPERATIONS", "build_document", "describe_routes", "openapi_json", "routes"]


def _head(get: dict[str, Any]) -> dict[str, Any]:
    """The HEAD operation beside a GET: the same answers, without bodies."""
    responses = {
        status: {"description": response["description"]}
        for status, response in get["responses"].items()
    }
    return {**get, "summary": get["summary"] + " (headers only)", "responses": responses}


BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "A principal's token, when the server has an auth file (docs/security.md).",
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": ERROR_SCHEMA}}}}


ERROR_SCHEMA = "#/components/schemas/Error"
UNAUTHENTICATED = _error(
    "unauthenticated: no token, or one no principal has (WWW-Authenticate: Bearer)."
)
FORBIDDEN = _error(
    "permission_denied: the token's principal may not use the key or prefix; or "
    "protected_mode: no auth file, and the client is not on loopback."
)


def _guarded(path: str, operation: dict[str, Any]) -> dict[str, Any]:
    """The operation with access control's answers: 403 for every path; a token and 401
    for every path but those that need none (health, readiness, the console's files)."""
    responses = {**operation["responses"], "403": FORBIDDEN}
    if is_open(path):
        return {**operation, "responses": responses, "security": [{}]}
    return {**operation, "responses": {**responses, "401": UNAUTHENTICATED}}


def routes(app: web.Application) -> set[tuple[str, str]]:
    """Every (method, path) the app routes, paths as the router spells them."""
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "*"
    }


def build_document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI document of `app`'s routes; KeyError names a route with no operation."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path in sorted(routes(app)):
        if (method, path) in OPERATIONS:
            operation = OPERATIONS[(method, path)]
        elif method == "HEAD" and ("GET", path) in OPERATIONS:
            operation = _head(OPERATIONS[("GET", path)])
        else:
            raise KeyError(f"route {method} {path} has no entry in openapi.operations")
        paths.setdefault(path, {})[method.lower()] = _guarded(path, operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kv",
            "version": "1",
            "description": "A key-value service: JSON values with store-wide revisions.",
        },
        "paths": paths,
        # A token when the server has an auth file; none otherwise.
        "security": [{"bearer": []}, {}],
        "components": {"schemas": SCHEMAS, "securitySchemes": {"bearer": BEARER}},
    }


OPENAPI_DOCUMENT: web.AppKey[bytes] = web.AppKey("openapi_document")


def describe_routes(app: web.Application) -> None:
    """Build `app`'s document now, once its routes are all added: a route without an
    operation fails the app's creation, not the first request for the document."""
    app[OPENAPI_DOCUMENT] = compact_json(build_document(app))


async def openapi_json(request: web.Request) -> web.Response:
    """GET /openapi.json."""
    return web.Response(body=request.app[OPENAPI_DOCUMENT], content_type=JSON)
