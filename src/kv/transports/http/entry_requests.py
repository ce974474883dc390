"""What a request on `/v1/kv/{key}` asks: the key, the write body, the condition headers.

`read_document` reads any JSON body (a transaction's too) within the same limits.

Each reader raises the domain's `InvalidRequest` or `ValueTooLarge` (or
aiohttp's 415), mapped to a status by the one error table in errors.py.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import HttpVersion11, hdrs, web
from multidict import istr

from kv.domain import Condition, InvalidRequest, JsonValue, ValueTooLarge
from kv.domain.model import MAX_REVISION
from kv.json_codec import read_json
from kv.transports.http.aiohttp_internals import send_continue

KEY_PREFIX = "/v1/kv/"
JSON_TYPE = "application/json"
BODY_FIELDS = frozenset({"value", "ttl"})
# A request body holds the value plus `{"value": }` and whatever white space
# the client adds: allow that much over the value limit before reading stops.
BODY_SLACK_BYTES = 64 * 1024
MAX_REVISION_DIGITS = len(str(MAX_REVISION))
# How much of a header a message quotes back.
_SHOWN_CHARACTERS = 40
IF_NONE_MATCH = istr("If-None-Match")
IF_MATCH = istr("If-Match")
PREFER = istr("Prefer")


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """How much of a write's body is read, and for how long.

    `value_bytes`: the service's value limit (named in errors); `timeout`:
    seconds for the body to arrive once it is wanted.
    """

    value_bytes: int
    timeout: float

    @property
    def body_bytes(self) -> int:
        """The largest body read: the value limit plus `BODY_SLACK_BYTES`."""
        return self.value_bytes + BODY_SLACK_BYTES


BODY_LIMITS = web.AppKey("body_limits", BodyLimits)


def read_key(request: web.Request) -> str:
    """The key: the raw path after /v1/kv/, percent-decoded exactly once, strictly UTF-8."""
    raw = request.rel_url.raw_path[len(KEY_PREFIX) :]
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequest("key is not valid UTF-8 once percent-decoded") from None


async def defer_continue(request: web.Request) -> None:
    """Send no `100 Continue` yet: `read_body` sends it once the body is wanted.

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


async def read_body(request: web.Request) -> WriteBody:
    """The `{"value": V}` or `{"value": V, "ttl": S}` body, read within the size and time limits."""
    document = await read_document(request)
    if (
        not isinstance(document, dict)
        or "value" not in document
        or not document.keys() <= BODY_FIELDS
    ):
        raise InvalidRequest('body must be a JSON object with a "value" and at most a "ttl"')
    return WriteBody(document["value"], _ttl(document["ttl"]) if "ttl" in document else None)


async def read_document(request: web.Request) -> Any:
    """The JSON body of a request, read within the size and time limits (415 if not JSON)."""
    if request.content_type != JSON_TYPE or (request.charset or "utf-8").lower() != "utf-8":
        received = request.headers.get(hdrs.CONTENT_TYPE, "none")[:_SHOWN_CHARACTERS]
        raise web.HTTPUnsupportedMediaType(
            text=f"Content-Type must be {JSON_TYPE} (UTF-8), got {received!r}"
        )
    limits = request.app[BODY_LIMITS]
    limit = limits.value_bytes
    if request.content_length is not None and request.content_length > limits.body_bytes:
        raise ValueTooLarge(
            f"body of {request.content_length} bytes; values are limited to {limit}"
        )
    if (
        request.version == HttpVersion11
        and request.headers.get(hdrs.EXPECT, "").lower() == "100-continue"
    ):
        await send_continue(request)
    try:
        if request.content.is_eof():
            # The whole body came with the headers (as small ones do): reading
            # cannot wait, so no timer is armed (most requests are small).
            body = await request.read()
        else:
            async with asyncio.timeout(limits.timeout):
                body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ValueTooLarge(f"body too large; values are limited to {limit} bytes") from None
    except TimeoutError:
        raise InvalidRequest("request body not received in time") from None
    except ConnectionResetError:
        raise InvalidRequest("connection closed before the body was received") from None
    try:
        return read_json(body)
    except ValueError as exc:
        raise InvalidRequest(f"body is not JSON: {exc}") from None


# What a `ttl` that is not a JSON integer was, for the error message.
_JSON_KINDS = {bool: "a boolean", float: "a number with a fraction or exponent", str: "a string"}


def _ttl(ttl: object) -> int:
    """A JSON integer (its range is the domain's to check): a float (even 5.0), bool, string or
    null is refused, as the API names a whole number and nothing else."""
    if type(ttl) is int:
        return ttl
    kind = _JSON_KINDS.get(type(ttl), "null" if ttl is None else "an array or object")
    raise InvalidRequest(f"ttl must be a whole number of seconds, got {kind}")


# One entity tag (RFC 9110 8.8.3): optionally weak, then quoted characters
# other than `"`, space and controls. The server's tags are the revisions'
# decimal digits, strong; tags compare as strings, so any other well-formed
# tag (`"034"`, `W/"3"`, `"0"`) is a condition no entry meets.
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\U0010ffff]*)"\s*')
_REVISION = re.compile(r"[1-9][0-9]*")


def _revision_tag(header: str, raw: str) -> Condition:
    tag = _ENTITY_TAG.fullmatch(raw)
    shown = raw if len(raw) <= _SHOWN_CHARACTERS else raw[:_SHOWN_CHARACTERS] + "..."
    if tag is None:
        raise InvalidRequest(f'{header} must be * or one entity tag like "5", got {shown!r}')
    weak, opaque = tag.groups()
    # Digits past a 64-bit revision's count are no revision either: never given to int().
    if weak or _REVISION.fullmatch(opaque) is None or len(opaque) > MAX_REVISION_DIGITS:
        return Condition.never(f"{header} {shown}: no entry has that entity tag")
    return Condition.at_revision(int(opaque))


def read_condition(request: web.Request, *, none_match_allowed: bool) -> Condition | None:
    if_match = request.headers.get(IF_MATCH)
    if_none_match = request.headers.get(IF_NONE_MATCH)
    if if_match is not None and if_none_match is not None:
        raise InvalidRequest("send If-Match or If-None-Match, not both")
    if if_match is not None:
        if if_match.strip() == "*":
            return Condition.exists()
        return _revision_tag("If-Match", if_match)
    if if_none_match is not None:
        if none_match_allowed and if_none_match.strip() == "*":
            return Condition.absent()
        raise InvalidRequest("If-None-Match is only supported as * on PUT")
    return None


def wants_minimal(request: web.Request) -> bool:
    prefer = request.headers.get(PREFER, "")
    return any(part.strip() == "return=minimal" for part in prefer.replace(";", ",").split(","))
