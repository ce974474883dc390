"""Replies in the Redis protocol: RESP2, and RESP3 for a connection that sent `HELLO 3`.

A handler returns plain Python values and the connection encodes them with
`encode(value, protocol)`:

    None          null: `$-1` (RESP2) or `_` (RESP3)
    NULL_ARRAY    the null array: `*-1` (RESP2) or `_` (RESP3)
    bytes, str    a bulk string
    int, bool     an integer (`:1`); RESP3 has no use for its boolean here
    list, tuple   an array
    dict          a map (RESP3 `%`); RESP2 has no maps: a flat array of key, value, ...
    Status        a simple string (`+OK`)
    RespError     an error (`-CODE message`)
    Streamed      an array made an item at a time as it is sent (MGET): only as a
                  whole reply, never inside another; the connection sends it
                  (`kv.transports.resp.answers`), `encode` does not
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

Reply: TypeAlias = (
    "bytes | str | int | Status | RespError | NullArray | Streamed | Sequence[Reply] "
    "| Mapping[str, Reply] | None"
)


@dataclass(frozen=True, slots=True)
class Status:
    """A simple string reply, e.g. `+OK`: one line, no CR or LF in it."""

    text: str


@dataclass(frozen=True, slots=True)
class RespError:
    """An error reply `-CODE message`: the code is its first word, as Redis clients expect."""

    code: str
    message: str

    def line(self) -> bytes:
        text = f"{self.code} {self.message}".replace("\r", " ").replace("\n", " ")
        return b"-" + text.encode("utf-8", "replace") + b"\r\n"


@dataclass(frozen=True, slots=True)
class Streamed:
    """An array reply of `count` items, each made only when the client has room for it.

    So an answer's size is not what the server holds: a client asking MGET of
    one large key many times gets it a value at a time, as it reads.
    """

    count: int
    items: AsyncIterator[Reply]


class NullArray:
    """The null array: `*-1` (RESP2) or `_` (RESP3), as EXEC answers when a watched key changed."""


OK = Status("OK")
PONG = Status("PONG")
QUEUED = Status("QUEUED")
NULL_ARRAY = NullArray()

_NULL = {2: b"$-1\r\n", 3: b"_\r\n"}
_OK_LINE = b"+OK\r\n"


def encode(value: Reply, protocol: int) -> bytes:
    """`value` as the bytes of one reply in RESP`protocol` (2 or 3)."""
    # The common replies built whole: SET's, then GET's (a value or null).
    if value is OK:
        return _OK_LINE
    if type(value) is bytes:
        return b"$%d\r\n%b\r\n" % (len(value), value)
    if value is None:
        return _NULL[protocol]
    parts: list[bytes] = []
    _encode_into(parts, value, protocol)
    return b"".join(parts)


def _bulk(parts: list[bytes], data: bytes) -> None:
    parts.append(b"$%d\r\n" % len(data))
    parts.append(data)
    parts.append(b"\r\n")


def _encode_into(parts: list[bytes], value: Reply, protocol: int) -> None:
    # The common cases first: bulk strings and null (GET), then integers.
    if type(value) is bytes:
        _bulk(parts, value)
    elif value is None:
        parts.append(_NULL[protocol])
    elif type(value) is str:
        _bulk(parts, value.encode("utf-8"))
    elif value is OK:
        parts.append(_OK_LINE)
    elif isinstance(value, bool | int):
        parts.append(b":%d\r\n" % int(value))
    elif isinstance(value, Status):
        parts.append(b"+" + value.text.encode("utf-8") + b"\r\n")
    elif isinstance(value, RespError):
        parts.append(value.line())
    elif isinstance(value, NullArray):
        parts.append(b"*-1\r\n" if protocol == 2 else b"_\r\n")
    elif isinstance(value, Mapping):
        parts.append(b"%%%d\r\n" % len(value) if protocol == 3 else b"*%d\r\n" % (2 * len(value)))
        for name, item in value.items():
            _bulk(parts, name.encode("utf-8"))
            _encode_into(parts, item, protocol)
    else:
        assert isinstance(value, Sequence), f"not a reply here: {value!r}"
        parts.append(b"*%d\r\n" % len(value))
        for item in value:
            _encode_into(parts, item, protocol)
