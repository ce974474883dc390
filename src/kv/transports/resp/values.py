"""Keys and values between Redis words (bytes) and the domain (text keys, JSON values).

The mapping (docs/resp.md): `SET` stores its value as a JSON string, so it
must be UTF-8 text; `GET` answers a string value as itself and any other
value as its compact JSON text. The `KV.*` commands carry the value as JSON
text both ways, so every JSON value round-trips exactly.
"""

from __future__ import annotations

from kv.domain import Entry, InvalidRequest, JsonValue, KeyValueService
from kv.json_codec import read_json, write_json
from kv.transports.resp.errors import CommandError
from kv.transports.resp.replies import Reply


def key_of(word: bytes) -> str:
    """A key as the domain takes it: UTF-8 text (the domain checks empty and too long)."""
    try:
        return word.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("key must be valid UTF-8") from None


def text_of(word: bytes) -> str:
    """A value written with SET: stored as a JSON string, so it must be UTF-8."""
    try:
        return word.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(
            "SET stores text: the value must be valid UTF-8 (KV.PUT takes any JSON value)"
        ) from None


def json_of(word: bytes) -> JsonValue:
    """A value written with KV.PUT or KV.CREATE: JSON text."""
    try:
        value: JsonValue = read_json(word)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(f"value is not JSON: {exc}") from None
    return value


def as_redis_value(value: JsonValue) -> bytes:
    """What GET answers: a string as itself, any other value as its compact JSON."""
    if type(value) is str:
        return value.encode("utf-8", "surrogatepass")
    return write_json(value)


def revision_of(word: bytes) -> int:
    """The revision after IFREV: an integer; the domain refuses one that is not positive."""
    try:
        return int(word)
    except ValueError:
        raise CommandError("revision must be an integer") from None


def entry_reply(service: KeyValueService, entry: Entry, *, created: bool | None = None) -> Reply:
    """A KV.* answer: key, value (JSON text), revision, `ttl` (seconds left) when the
    entry expires, and `created` for KV.PUT. A map in RESP3; a flat array of field,
    value, ... in RESP2."""
    reply: dict[str, Reply] = {
        "key": entry.key,
        "value": write_json(entry.value),
        "revision": entry.revision,
    }
    ttl = service.ttl_left(entry)
    if ttl is not None:
        reply["ttl"] = ttl
    if created is not None:
        reply["created"] = int(created)
    return reply
