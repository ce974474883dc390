"""The HTTP/JSON API: routes and handlers over KeyValueService (see README, REST API)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import HttpVersion11, web

from kv.domain import (
    Condition,
    Entry,
    InvalidRequest,
    JsonValue,
    KeyValueService,
    StorageUnavailable,
    ValueTooLarge,
)
from kv.json_codec import read_json
from kv.observability import Observability
from kv.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from kv.transports.admission import Admission
from kv.transports.http.console import add_console
from kv.transports.http.errors import (
    OBSERVABILITY,
    domain_error_response,
    error_middleware,
    json_response,
)
from kv.transports.http.limits import ADMISSION, admission_middleware
from kv.transports.http.listing import ListQuery, page_document
from kv.transports.http.openapi import describe_routes, openapi_json
from kv.transports.http.watch import EventFrames, stream_changes

SERVICE = web.AppKey("service", KeyValueService)
DRAINING = web.AppKey("draining", asyncio.Event)
BODY_TIMEOUT = web.AppKey("body_timeout", float)
BODY_LIMIT = web.AppKey("body_limit", int)
WATCH_FRAMES = web.AppKey("watch_frames", EventFrames)
WATCH_HEARTBEAT = web.AppKey("watch_heartbeat", float)

DEFAULT_ADMISSION_LIMIT = 32
KEY_PREFIX = "/v1/kv/"
LIST_PATH = "/v1/kv"
WATCH_PATH = "/v1/watch"
BODY_FIELDS = frozenset({"value", "ttl"})
JSON_TYPE = "application/json"
# A request body holds the value plus `{"value": }` and whatever white space
# the client adds: allow that much over the value limit before reading stops.
BODY_SLACK_BYTES = 64 * 1024


def _entry_document(service: KeyValueService, entry: Entry) -> dict[str, Any]:
    """`{"key", "value", "revision"}`, plus `"ttl"` (seconds left) when the entry expires."""
    document: dict[str, Any] = {"key": entry.key, "value": entry.value, "revision": entry.revision}
    ttl = service.ttl_left(entry)
    if ttl is not None:
        document["ttl"] = ttl
    return document


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


def _key(request: web.Request) -> str:
    """The key: the raw path after /v1/kv/, percent-decoded exactly once, strictly UTF-8."""
    raw = request.rel_url.raw_path[len(KEY_PREFIX) :]
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequest("key is not valid UTF-8 once percent-decoded") from None


async def defer_continue(request: web.Request) -> None:
    """Send no `100 Continue` yet: `_body` sends it once the body is wanted.

    aiohttp's default sends it before any handler runs, inviting the client
    to upload a body that the checks of its headers are about to refuse
    (RFC 9110 lets a server answer with the final status instead). Other
    expectations are ignored, as RFC 9110 allows.
    """


@dataclass(frozen=True, slots=True)
class WriteBody:
    """What a PUT or POST body asks to store: the value, and its ttl (None: no expiry)."""

    value: JsonValue
    ttl: int | None


async def _body(request: web.Request) -> WriteBody:
    """The `{"value": V}` or `{"value": V, "ttl": S}` body, read within the size and time limits."""
    if request.content_type != JSON_TYPE or (request.charset or "utf-8").lower() != "utf-8":
        raise web.HTTPUnsupportedMediaType(
            text=f"Content-Type must be {JSON_TYPE}, got {request.content_type}"
        )
    limit = request.app[SERVICE].max_value_bytes
    if request.content_length is not None and request.content_length > request.app[BODY_LIMIT]:
        raise ValueTooLarge(
            f"body of {request.content_length} bytes; values are limited to {limit}"
        )
    if (
        request.version == HttpVersion11
        and request.headers.get("Expect", "").lower() == "100-continue"
    ):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the response proper has not started
    try:
        if request.content.is_eof():
            # The whole body came with the headers (as small ones do): reading
            # cannot wait, so the timer (a few µs per request) is not armed.
            body = await request.read()
        else:
            async with asyncio.timeout(request.app[BODY_TIMEOUT]):
                body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ValueTooLarge(f"body too large; values are limited to {limit} bytes") from None
    except TimeoutError:
        raise InvalidRequest("request body not received in time") from None
    except ConnectionResetError:
        raise InvalidRequest("connection closed before the body was received") from None
    try:
        document = read_json(body)
    except ValueError as exc:
        raise InvalidRequest(f"body is not JSON: {exc}") from None
    if not isinstance(document, dict) or "value" not in document or set(document) - BODY_FIELDS:
        raise InvalidRequest('body must be a JSON object with a "value" and at most a "ttl"')
    return WriteBody(document["value"], _ttl(document["ttl"]) if "ttl" in document else None)


# What a `ttl` that is not a JSON integer was, for the error message.
_JSON_KINDS = {bool: "a boolean", float: "a number with a fraction or exponent", str: "a string"}


def _ttl(ttl: object) -> int:
    """A JSON integer (its range is the domain's to check): a float (even 5.0), bool, string or
    null is refused, as the API names a whole number and nothing else."""
    if type(ttl) is int:
        return ttl
    kind = _JSON_KINDS.get(type(ttl), "null" if ttl is None else "an array or object")
    raise InvalidRequest(f"ttl must be a whole number of seconds, got {kind}")


# A revision as an entity tag: ASCII digits only (str.isdigit also takes "²"
# and other digits int() refuses), and no more than a 64-bit revision has.
_REVISION_TAG = re.compile(r'\s*"([0-9]{1,19})"\s*')


def _revision_tag(header: str, raw: str) -> int:
    tag = _REVISION_TAG.fullmatch(raw)
    if tag is None:
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        raise InvalidRequest(f'{header} must be * or one entity tag like "5", got {shown!r}')
    return int(tag.group(1))


def _condition(request: web.Request, *, none_match_allowed: bool) -> Condition | None:
    if_match = request.headers.get("If-Match")
    if_none_match = request.headers.get("If-None-Match")
    if if_match is not None and if_none_match is not None:
        raise InvalidRequest("send If-Match or If-None-Match, not both")
    if if_match is not None:
        if if_match.strip() == "*":
            return Condition.exists()
        return Condition.at_revision(_revision_tag("If-Match", if_match))
    if if_none_match is not None:
        if none_match_allowed and if_none_match.strip() == "*":
            return Condition.absent()
        raise InvalidRequest("If-None-Match is only supported as * on PUT")
    return None


def _wants_minimal(request: web.Request) -> bool:
    prefer = request.headers.get("Prefer", "")
    return any(part.strip() == "return=minimal" for part in prefer.replace(";", ",").split(","))


async def get_entry(request: web.Request) -> web.Response:
    return _entry_response(request, await request.app[SERVICE].get(_key(request)))


async def put_entry(request: web.Request) -> web.Response:
    key = _key(request)
    condition = _condition(request, none_match_allowed=True)
    body = await _body(request)
    result = await request.app[SERVICE].put(key, body.value, condition, ttl=body.ttl)
    status = 201 if result.created else 200
    return _entry_response(request, result.entry, status, created=result.created)


async def create_entry(request: web.Request) -> web.Response:
    key = _key(request)
    body = await _body(request)
    entry = await request.app[SERVICE].create(key, body.value, ttl=body.ttl)
    return _entry_response(request, entry, 201)


async def delete_entry(request: web.Request) -> web.Response:
    key = _key(request)
    entry = await request.app[SERVICE].delete(key, _condition(request, none_match_allowed=False))
    if _wants_minimal(request):
        return web.Response(status=204)
    return _entry_response(request, entry)


async def list_entries(request: web.Request) -> web.Response:
    """One page of the keys under `prefix` (see listing.py for the query)."""
    service = request.app[SERVICE]
    query = ListQuery.parse(request.rel_url.raw_query_string)
    page = await service.list(
        query.prefix, limit=query.limit, cursor=query.cursor, keys_only=query.keys_only
    )
    document = page_document(
        page,
        keys_only=query.keys_only,
        entry_document=lambda entry: _entry_document(service, entry),
    )
    return json_response(document)


async def watch_changes(request: web.Request) -> web.StreamResponse:
    """The changes under `prefix` as Server-Sent Events (see watch.py)."""
    app = request.app
    return await stream_changes(request, app[SERVICE], app[WATCH_FRAMES], app[WATCH_HEARTBEAT])


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
    body_timeout: float = 15.0,
    admission: Admission | None = None,
    observability: Observability | None = None,
    watch_heartbeat: float = 15.0,
) -> web.Application:
    """The aiohttp application serving the REST API over `service`, within `admission`.

    `watch_heartbeat`: seconds of silence after which a watch stream gets a comment line.
    """
    body_limit = service.max_value_bytes + BODY_SLACK_BYTES
    app = web.Application(
        middlewares=[admission_middleware, error_middleware], client_max_size=body_limit
    )
    app[ADMISSION] = admission if admission is not None else Admission(DEFAULT_ADMISSION_LIMIT)
    app[SERVICE] = service
    app[OBSERVABILITY] = observability if observability is not None else Observability()
    app[BODY_LIMIT] = body_limit
    app[DRAINING] = asyncio.Event()
    app[BODY_TIMEOUT] = body_timeout
    app[WATCH_FRAMES] = EventFrames(service)
    app[WATCH_HEARTBEAT] = watch_heartbeat
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
    # No HEAD: a stream's headers alone say nothing, and its handler would never end.
    app.router.add_get(WATCH_PATH, watch_changes, allow_head=False)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi_json)
    add_console(app)
    describe_routes(app)  # last: after every route
    return app
