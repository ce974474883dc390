"""The HTTP/JSON API: routes and handlers over KeyValueService (docs/http-api.md).

What a request on a key asks (key, body, condition) is read by entry_requests.py.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from aiohttp import web

from kv.config import DEFAULTS, Settings
from kv.domain import Entry, KeyValueService, StorageUnavailable
from kv.domain.transactions import Read
from kv.observability import Observability
from kv.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from kv.transports.admission import Admission
from kv.transports.budget import ANSWERS_NOT_SENT, ByteBudget, answer_limit
from kv.transports.http.console import add_console
from kv.transports.http.entry_requests import (
    BODY_LIMITS,
    KEY_PREFIX,
    BodyLimits,
    defer_continue,
    read_body,
    read_condition,
    read_document,
    read_key,
    wants_minimal,
)
from kv.transports.http.errors import OBSERVABILITY, domain_error_response, json_response
from kv.transports.http.idempotency import idempotent_request, mark_replayed
from kv.transports.http.limits import ADMISSION, ANSWERS, check_entries_room
from kv.transports.http.listing import ListQuery, page_document
from kv.transports.http.middleware import request_middleware
from kv.transports.http.openapi import describe_routes, openapi_json
from kv.transports.http.snapshot import stream_snapshot
from kv.transports.http.watch import EventFrames, stream_changes
from kv.transports.txn_answers import entry_document, txn_document

SERVICE = web.AppKey("service", KeyValueService)
DRAINING = web.AppKey("draining", asyncio.Event)
WATCH_FRAMES = web.AppKey("watch_frames", EventFrames)
WATCH_HEARTBEAT = web.AppKey("watch_heartbeat", float)
WATCH_STALL_TIMEOUT = web.AppKey("watch_stall_timeout", float)

LIST_PATH = "/v1/kv"
WATCH_PATH = "/v1/watch"
SNAPSHOT_PATH = "/v1/snapshot"
TXN_PATH = "/v1/txn"


def _entry_document(service: KeyValueService, entry: Entry) -> dict[str, Any]:
    """`{"key", "value", "revision"}`, plus `"ttl"` (seconds left) when the entry expires."""
    return entry_document(entry, service.ttl_left)


def _entry_response(
    request: web.Request, entry: Entry, status: int = 200, *, created: bool | None = None
) -> web.Response:
    document = _entry_document(request.app[SERVICE], entry)
    if created is not None:
        document["created"] = created
    response = json_response(document, status)
    response.headers["ETag"] = f'"{entry.revision}"'
    if status == 201:
        response.headers["Location"] = KEY_PREFIX + quote(entry.key, safe="")
    return response


async def get_entry(request: web.Request) -> web.Response:
    entry = await request.app[SERVICE].get(read_key(request))
    check_entries_room(request, (entry,))
    return _entry_response(request, entry)


async def put_entry(request: web.Request) -> web.Response:
    key = read_key(request)
    condition = read_condition(request, none_match_allowed=True)
    body = await read_body(request)
    once = await idempotent_request(request)
    result = await request.app[SERVICE].put(
        key, body.value, condition, ttl=body.ttl, idempotency=once
    )
    status = 201 if result.created else 200
    response = _entry_response(request, result.entry, status, created=result.created)
    mark_replayed(response, once)
    return response


async def create_entry(request: web.Request) -> web.Response:
    key = read_key(request)
    condition = read_condition(request, none_match_allowed=True)
    body = await read_body(request)
    once = await idempotent_request(request)
    entry = await request.app[SERVICE].create(
        key, body.value, ttl=body.ttl, condition=condition, idempotency=once
    )
    response = _entry_response(request, entry, 201)
    mark_replayed(response, once)
    return response


async def delete_entry(request: web.Request) -> web.Response:
    key = read_key(request)
    condition = read_condition(request, none_match_allowed=False)
    once = await idempotent_request(request)
    entry = await request.app[SERVICE].delete(key, condition, idempotency=once)
    response = (
        web.Response(status=204) if wants_minimal(request) else _entry_response(request, entry)
    )
    mark_replayed(response, once)
    return response


async def transaction(request: web.Request) -> web.Response:
    """`POST /v1/txn`: compares, then the success or failure ops, atomically (docs/http-api.md)."""
    service = request.app[SERVICE]
    document = await read_document(request)
    once = await idempotent_request(request)
    outcome = await service.txn(document, idempotency=once)
    # The entries its gets read are the answer's bulk, held to the answer budget like a GET's.
    check_entries_room(
        request,
        (
            result.entry
            for op, result in zip(outcome.ops, outcome.results, strict=True)
            if isinstance(op, Read) and result.entry is not None
        ),
    )
    response = json_response(txn_document(outcome, service.ttl_left))
    mark_replayed(response, once)
    return response


async def list_entries(request: web.Request) -> web.Response:
    """One page of the keys under `prefix` (see listing.py for the query)."""
    service = request.app[SERVICE]
    query = ListQuery.parse(request.rel_url.raw_query_string)
    page = await service.list(
        query.prefix, limit=query.limit, cursor=query.cursor, keys_only=query.keys_only
    )
    check_entries_room(request, page.entries)
    document = page_document(
        page,
        keys_only=query.keys_only,
        entry_document=lambda entry: _entry_document(service, entry),
    )
    return json_response(document)


async def watch_changes(request: web.Request) -> web.StreamResponse:
    """The changes under `prefix` as Server-Sent Events (see watch.py)."""
    app = request.app
    return await stream_changes(
        request,
        app[SERVICE],
        app[WATCH_FRAMES],
        heartbeat=app[WATCH_HEARTBEAT],
        stall_timeout=app[WATCH_STALL_TIMEOUT],
    )


async def snapshot_entries(request: web.Request) -> web.StreamResponse:
    """Every live entry at one revision, as JSON lines (see snapshot.py)."""
    return await stream_snapshot(request, request.app[SERVICE])


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    if request.app[DRAINING].is_set():
        return domain_error_response(StorageUnavailable("shutting down"))
    await request.app[SERVICE].check()
    return json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Every transport's request metrics and the store's, in the Prometheus text format."""
    body = request.app[OBSERVABILITY].metrics.render()
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})


def create_app(
    service: KeyValueService,
    *,
    settings: Settings = DEFAULTS,
    admission: Admission | None = None,
    answers: ByteBudget | None = None,
    observability: Observability | None = None,
) -> web.Application:
    """The aiohttp application serving the REST API over `service`, within `admission`
    and the `answers` budget (limits.py).

    Of `settings`: a request body must arrive within `idle_timeout`; a watch
    stream gets a heartbeat every `watch_heartbeat` seconds of silence and
    ends when its client takes no write within `watcher_stall_timeout`.
    `admission` defaults to one of `max_concurrent_requests`.
    """
    body_limits = BodyLimits(service.max_value_bytes, settings.idle_timeout)
    if admission is None:
        admission = Admission(settings.max_concurrent_requests)
    if answers is None:
        answers = ByteBudget(
            answer_limit(settings.max_concurrent_requests, service.max_value_bytes),
            ANSWERS_NOT_SENT,
        )
    if observability is None:
        observability = Observability()
    middleware = request_middleware(
        admission=admission, answers=answers, observability=observability, guard=service.guard
    )
    app = web.Application(middlewares=[middleware], client_max_size=body_limits.body_bytes)
    app[ADMISSION] = admission
    app[ANSWERS] = answers
    app[SERVICE] = service
    app[OBSERVABILITY] = observability
    app[BODY_LIMITS] = body_limits
    app[DRAINING] = asyncio.Event()
    app[WATCH_FRAMES] = EventFrames(service)
    app[WATCH_HEARTBEAT] = settings.watch_heartbeat
    app[WATCH_STALL_TIMEOUT] = settings.watcher_stall_timeout
    # Any character, newline included (`.` alone stops at one): keys may hold
    # every character, and the handlers read the key from the raw path.
    entries = app.router.add_resource(KEY_PREFIX + r"{key:[\s\S]*}")
    entries.add_route("GET", get_entry)
    entries.add_route("HEAD", get_entry)  # aiohttp sends the headers and drops the body
    entries.add_route("PUT", put_entry, expect_handler=defer_continue)
    entries.add_route("POST", create_entry, expect_handler=defer_continue)
    entries.add_route("DELETE", delete_entry)
    listing = app.router.add_resource(LIST_PATH)
    listing.add_route("GET", list_entries)
    listing.add_route("HEAD", list_entries)
    app.router.add_post(TXN_PATH, transaction, expect_handler=defer_continue)
    # No HEAD: a stream's headers alone say nothing, and its handler would never end.
    app.router.add_get(WATCH_PATH, watch_changes, allow_head=False)
    app.router.add_get(SNAPSHOT_PATH, snapshot_entries, allow_head=False)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi_json)
    add_console(app)
    describe_routes(app)  # last: after every route
    return app
