"""Listing requests: the prefix, the page size and the opaque cursor between pages.

A cursor names the last key of the page it follows, so the next page starts
strictly after that key: a key that exists and is not written during a
listing is on exactly one page, whatever else is written or deleted
meanwhile. It also carries a digest of the prefix it was made for, so a
cursor passed with another prefix is refused rather than silently listing
something else. Its format is the domain's own and may change: clients only
pass it back.

    cursor = base64url(VERSION byte, 8 bytes of sha256(prefix), last key in UTF-8)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence

from kv.domain.errors import InvalidRequest
from kv.domain.model import MAX_KEY_BYTES, Entry, encode_value, within_key_limit

MIN_LIMIT = 1
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100

_VERSION = b"\x01"
_DIGEST_BYTES = 8


def validate_prefix(prefix: str) -> str:
    """`prefix` if it is a UTF-8 string of at most MAX_KEY_BYTES (empty: every key)."""
    if not isinstance(prefix, str):
        raise InvalidRequest("prefix must be a string")
    return within_key_limit(prefix, "prefix")


def validate_limit(limit: object) -> int:
    """`limit` if it is a whole number from MIN_LIMIT to MAX_LIMIT (a bool is not)."""
    if type(limit) is not int or not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be a whole number from {MIN_LIMIT} to {MAX_LIMIT}")
    return limit


# What an entry adds to a page besides its key and value: its revision, ttl and framing.
ENTRY_FRAMING_BYTES = 64


def page_length(entries: Sequence[Entry], max_bytes: int) -> int:
    """How many of `entries` one page holds: at least one, and no more than their keys,
    values (as compact JSON) and framing add up to `max_bytes`.

    So a page's answer is bounded in bytes whatever `limit` asks for, on every
    transport alike (a page of 1,000 values of 1 MiB would be 1 GB).
    """
    size = 0
    for count, entry in enumerate(entries):
        size += entry_bytes(entry)
        if size > max_bytes and count:
            return count
    return len(entries)


def entry_bytes(entry: Entry) -> int:
    """About what `entry` takes in an answer: its key, its value as compact JSON (a string,
    the common large value, as its UTF-8 and quotes without escapes: measured in C, not
    encoded in Python) and ENTRY_FRAMING_BYTES."""
    value = entry.value
    if type(value) is str:
        size = _utf8_length(value) + 2
    else:
        size = 0 if value is None else len(encode_value(value))
    return _utf8_length(entry.key) + ENTRY_FRAMING_BYTES + size


def _utf8_length(text: str) -> int:
    # An ASCII string's length is its UTF-8 length, known without a pass over it.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _digest(prefix: str) -> bytes:
    return hashlib.sha256(prefix.encode("utf-8")).digest()[:_DIGEST_BYTES]


def make_cursor(prefix: str, last_key: str) -> str:
    """The cursor of the page after `last_key` in the listing of `prefix`."""
    return make_cursor_text(_VERSION + _digest(prefix) + last_key.encode("utf-8"))


def make_cursor_text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def read_cursor(cursor: str, prefix: str) -> str:
    """The last key named by `cursor`; InvalidRequest when it is malformed or not for `prefix`."""
    malformed = InvalidRequest("cursor is not one this service made; start the listing again")
    if not isinstance(cursor, str) or not cursor or len(cursor) > 4 * MAX_KEY_BYTES:
        raise malformed
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise malformed from None
    if make_cursor_text(raw) != cursor:  # the decoder skips stray characters: be strict
        raise malformed
    header = len(_VERSION) + _DIGEST_BYTES
    if len(raw) <= header or raw[: len(_VERSION)] != _VERSION:
        raise malformed
    if raw[len(_VERSION) : header] != _digest(prefix):
        raise InvalidRequest("cursor belongs to a listing of another prefix")
    try:
        last_key = raw[header:].decode("utf-8")
    except UnicodeDecodeError:
        raise malformed from None
    if not last_key.startswith(prefix) or len(raw) - header > MAX_KEY_BYTES:
        raise malformed
    return last_key
