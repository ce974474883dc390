"""The test-client service: runs scenarios against the KV service on request, over HTTP.

    GET  /tests           the scenario names
    POST /test_NAME       run one scenario: RESULT, 200 passed or failed, 503 KV unreachable
    POST /tests/run       run them all: {"success", "results": [RESULT, ...]}
    GET  /healthz         liveness

`?transport=http|grpc` picks the client for one call; every other query
parameter is handed to the scenarios (e.g. `?seconds=5` for linearizability). Errors of this API are
`{"success": false, "error": TEXT}`, like a RESULT that could not be produced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from time import perf_counter
from typing import Any

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from testclient import config
from testclient.client import KVClient
from testclient.config import CLIENTS, ClientSettings, ConfigError, replicas
from testclient.logs import REQUEST_ID_HEADER, accept_request_id, request_id
from testclient.runner import report, run_scenario, run_scenarios
from testclient.scenarios import SCENARIOS, Connect

log = structlog.stdlib.get_logger("testclient.service")
access_log = structlog.stdlib.get_logger("testclient.access")

ConnectTo = Callable[[ClientSettings, str | None], KVClient]
"""Opens a KVClient for settings and a transport name: `testclient.config.connect`."""

SETTINGS = web.AppKey("settings", ClientSettings)
CONNECT_TO: web.AppKey[ConnectTo] = web.AppKey("connect_to")

# Long enough for every scenario in flight to finish on SIGTERM: a whole run
# takes well under a second against a healthy local service.
SHUTDOWN_TIMEOUT_SECONDS = 15.0


STARTED = web.RequestKey("started", float)
"""When the request reached the middleware (perf_counter), for the access line's duration."""


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"success": False, "error": message}, status=status)


class AccessLogger(AbstractAccessLogger):
    """One `testclient.access` line per request: request id, method, path, status, duration."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        started = request.get(STARTED)
        seconds = time if started is None else perf_counter() - started
        access_log.info(
            "request",
            request_id=response.headers.get(REQUEST_ID_HEADER, "-"),
            method=request.method,
            path=request.path,
            status=response.status,
            duration_ms=round(seconds * 1000, 3),
            remote=request.remote,
        )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Set the request id, and answer every error as `{"success": false, "error": TEXT}`."""
    request[STARTED] = perf_counter()
    rid = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    request_id.set(rid)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text or exc.reason
        if "Allow" in exc.headers:
            message = f"{request.method} is not allowed here; use {exc.headers['Allow']}"
        response = _error(exc.status, message)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
    except Exception:
        log.exception("unhandled error", method=request.method, path=request.path)
        response = _error(500, "internal error; see the test client's log")
    response.headers[REQUEST_ID_HEADER] = rid
    return response


def _connect(request: web.Request) -> tuple[Connect, list[Connect]]:
    """The client factories for this request (its transport, its request id sent along):
    one for the service, and one per replica of it."""
    transport = request.query.get("transport", request.app[SETTINGS].transport)
    if transport not in CLIENTS:
        raise web.HTTPBadRequest(
            text=f"unknown transport {transport!r}; use one of {', '.join(CLIENTS)}"
        )
    settings = replace(request.app[SETTINGS], request_id=request_id.get())
    connect_to = request.app[CONNECT_TO]
    return partial(connect_to, settings, transport), [
        partial(connect_to, replica, transport) for replica in replicas(settings, transport)
    ]


def _parameters(request: web.Request) -> dict[str, str]:
    """The scenario parameters of this request: its query, less `transport`."""
    return {name: value for name, value in request.query.items() if name != "transport"}


def _json(document: dict[str, Any], *, unreachable: bool) -> web.Response:
    return web.json_response(document, status=503 if unreachable else 200)


async def list_tests(request: web.Request) -> web.Response:
    return web.json_response({"tests": list(SCENARIOS)})


async def run_one(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in SCENARIOS:
        raise web.HTTPNotFound(text=f"no test named {name!r}; GET /tests lists them")
    connect, each = _connect(request)
    result = await run_scenario(name, connect, _parameters(request), replicas=each)
    return _json(result.to_json(), unreachable=result.error is not None)


async def run_all(request: web.Request) -> web.Response:
    connect, each = _connect(request)
    document = report(
        await run_scenarios(list(SCENARIOS), connect, _parameters(request), replicas=each)
    )
    return _json(document, unreachable="error" in document)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: ClientSettings, connect: ConnectTo = config.connect) -> web.Application:
    """The test-client API over clients made by `connect` (tests pass their own)."""
    app = web.Application(middlewares=[error_middleware])
    app[SETTINGS] = settings
    app[CONNECT_TO] = connect
    app.router.add_get("/tests", list_tests)
    app.router.add_post("/tests/run", run_all)
    app.router.add_post("/test_{name}", run_one)
    app.router.add_get("/healthz", healthz)
    return app


async def serve(
    settings: ClientSettings, stop: asyncio.Event, connect: ConnectTo = config.connect
) -> None:
    """Serve the test-client API on `settings.host:settings.port` until `stop` is set."""
    runner = web.AppRunner(
        create_app(settings, connect),
        access_log_class=AccessLogger,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
        handle_signals=False,
    )
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, settings.host, settings.port).start()
        except OSError as exc:
            raise ConfigError(
                "TESTCLIENT_PORT", f"cannot listen on {settings.host}:{settings.port}: {exc}"
            ) from None
        log.info(
            "ready",
            address=f"http://{settings.host}:{settings.port}",
            transport=settings.transport,
            addresses=dict(settings.addresses),
        )
        await stop.wait()
        log.info("shutting down: finishing the runs in flight")
    finally:
        await runner.cleanup()
    log.info("stopped")
