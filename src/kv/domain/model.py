"""Values of the domain: entries, preconditions and the limits on keys and values."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TypeAlias

from kv.domain.errors import InvalidRequest, PreconditionFailed, ValueTooLarge
from kv.domain.frozen import direct_init

JsonValue: TypeAlias = "str | int | float | bool | dict[str, JsonValue] | list[JsonValue] | None"

MAX_KEY_BYTES = 1024
# The largest revision any store gives (etcd's are signed 64-bit): a condition
# on a larger one can never be met, on every store alike.
MAX_REVISION = 2**63 - 1
DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
# Each array or object is a level: `[[1]]` is 2. The same rule on every
# transport, so what one protocol stores every other can read back (protobuf
# refuses to write a `Value` nested much deeper than this).
MAX_NESTING = 32

_Container: TypeAlias = "dict[str, JsonValue] | list[JsonValue]"


@direct_init
@dataclass(frozen=True, slots=True)
class Entry:
    """A stored value with the store-wide revision of the write that last changed it.

    `expires_at`: when the entry expires (Unix seconds), None when it does not.
    """

    key: str
    value: JsonValue
    revision: int
    expires_at: float | None = None

    def expired(self, now: float) -> bool:
        """Whether the entry has expired at `now` (Unix seconds): from then on nobody sees it."""
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing: entries in key order, the cursor of the next page, the revision.

    `next_cursor` is None on the last page. `revision` is the store's
    revision when the page was read.
    """

    entries: tuple[Entry, ...]
    next_cursor: str | None
    revision: int


@dataclass(frozen=True, slots=True)
class Listing:
    """What a store answers for a range of keys: the entries, whether more follow, the revision."""

    entries: tuple[Entry, ...]
    more: bool
    revision: int


@dataclass(frozen=True, slots=True)
class Condition:
    """What the current entry must be for a conditional write to go ahead.

    Built by one of the constructors: `at_revision(r)` (HTTP `If-Match: "r"`),
    `exists()` (`If-Match: *`), `absent()` (`If-None-Match: *`) or `never(why)`:
    a condition no entry can meet (an entity tag that is no revision's, a
    revision beyond MAX_REVISION), which the service refuses without asking
    the store, so every store answers it alike.
    """

    revision: int | None = None
    must_exist: bool | None = None
    unmet: str | None = None  # set by `never`: why no entry can meet it

    @classmethod
    def at_revision(cls, revision: int) -> Condition:
        if revision < 1:
            raise InvalidRequest(f"expected revision must be a positive integer, got {revision}")
        if revision > MAX_REVISION:
            return cls.never(f"expected revision {revision}; no revision is above {MAX_REVISION}")
        return cls(revision=revision, must_exist=True)

    @classmethod
    def never(cls, why: str) -> Condition:
        return cls(must_exist=True, unmet=why)

    @classmethod
    def exists(cls) -> Condition:
        return cls(must_exist=True)

    @classmethod
    def absent(cls) -> Condition:
        return cls(must_exist=False)

    def check(self, current: Entry | None) -> None:
        """Raise PreconditionFailed unless `current` satisfies this condition."""
        if self.unmet is not None:
            raise PreconditionFailed(self.unmet)
        if self.must_exist is False and current is not None:
            raise PreconditionFailed(f"key exists at revision {current.revision}")
        if self.must_exist and current is None:
            raise PreconditionFailed("key does not exist")
        if self.revision is not None and current is not None and current.revision != self.revision:
            raise PreconditionFailed(
                f"expected revision {self.revision}, key is at revision {current.revision}"
            )


def validate_key(key: str) -> str:
    """Return `key` if it is a non-empty string of at most MAX_KEY_BYTES in UTF-8."""
    if not key:
        raise InvalidRequest("key must not be empty")
    return within_key_limit(key, "key")


def within_key_limit(text: str, what: str) -> str:
    """Return `text` if it is valid UTF-8 of at most MAX_KEY_BYTES; InvalidRequest names `what`."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidRequest(f"{what} must be valid UTF-8") from None
    if size > MAX_KEY_BYTES:
        raise InvalidRequest(f"{what} is {size} bytes; the limit is {MAX_KEY_BYTES}")
    return text


def check_nesting(value: JsonValue, limit: int = MAX_NESTING) -> None:
    """Raise InvalidRequest when `value` nests arrays and objects more than `limit` deep.

    Walks the value one level at a time, without recursion, so that no
    input, however deep, can reach the interpreter's recursion limit; it
    stops at the first level past the limit.
    """
    level: list[_Container] = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            raise InvalidRequest(f"value nests more than {limit} levels of arrays and objects")
        below: list[_Container] = []
        for container in level:
            items = container.values() if isinstance(container, dict) else container
            below.extend([item for item in items if isinstance(item, (dict, list))])
        level = below


# What json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# builds on every call; built once, it costs a third less per value.
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_value(value: JsonValue) -> bytes:
    """The compact JSON encoding of `value`: what the size limit and equality are measured on."""
    try:
        return _COMPACT_JSON.encode(value).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"value is not JSON: {exc}") from None


def same_value(stored: JsonValue, value: JsonValue, encoded: bytes) -> bool:
    """Whether `stored` has the compact JSON `encoded` of `value` (a put of it changes nothing).

    Two strings have the same JSON text exactly when they are equal, so a
    string is compared as is, without encoding the stored one again. Other
    values are compared by their text: 1, 1.0 and true are equal in Python.
    """
    if type(stored) is str and type(value) is str:
        return stored == value
    return encode_value(stored) == encoded


def check_value_size(encoded: bytes, limit: int) -> None:
    if len(encoded) > limit:
        raise ValueTooLarge(f"value is {len(encoded)} bytes as compact JSON; the limit is {limit}")
