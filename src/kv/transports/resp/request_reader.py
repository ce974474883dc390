"""RequestReader: the bytes a client sends, split into requests, each header checked first.

A request is an array of bulk strings, as Redis clients send it:

    *<words>\\r\\n  then, per word,  $<length>\\r\\n<length bytes>\\r\\n

Every header is checked against the limits before anything is kept for what
it announces: an array of more words than a request of `max_bytes` can hold
(each word takes at least 6 bytes, `$0\\r\\n\\r\\n`), or a word that would take
the request past `max_bytes`, is a `ProtocolError` as soon as its header has
arrived, never an allocation of what it announces (13 bytes, `*2147483647`,
would otherwise ask for a list of 2^31 items). Redis's own words name the errors.

`announced` is what the request being received will hold once its current
word has arrived, so that a budget can be asked for it before those bytes
come (kv.transports.budget).

While `unauthenticated` is set (access control is on and the client has not
authenticated), Redis's own tighter limits hold: an array of more than 10
words, or a word of more than 16384 bytes, is a ProtocolError
("unauthenticated multibulk length" / "unauthenticated bulk length"). And
`feed` then hands out one request at a time, keeping what follows it
unparsed: the request may be the AUTH that lifts those limits for the next
one. `feed(b"")` parses the next once the one before has run.
"""

from __future__ import annotations

import re

CRLF = b"\r\n"
# `*` or `$`, up to 20 digits (more than any limit), CR LF.
MAX_HEADER_BYTES = 23
MIN_WORD_BYTES = len(b"$0\r\n\r\n")
# Redis's limits for a client that has not authenticated (networking.c,
# processMultibulkBuffer).
UNAUTHENTICATED_MAX_WORDS = 10
UNAUTHENTICATED_MAX_WORD_BYTES = 16384
# The largest request those limits let through, its headers included.
UNAUTHENTICATED_MAX_REQUEST_BYTES = 5 + UNAUTHENTICATED_MAX_WORDS * (
    UNAUTHENTICATED_MAX_WORD_BYTES + len(b"$16384\r\n\r\n")
)
# The headers of small arrays and words, whole: `_small_requests` reads them by lookup.
_ARRAY_HEADERS = {b"*%d" % count: count for count in range(64)}
_BULK_HEADERS = tuple(b"$%d" % length for length in range(1024))
# The most bytes `_small_requests` splits at once (it copies them into lines).
SPLIT_MAX_BYTES = 256 * 1024
# A header, whole: what the fast path reads (anything else goes header by header,
# which tells a header not all here yet from a wrong one).
_ARRAY = re.compile(rb"\*(-?[0-9]{1,20})\r\n")
_BULK = re.compile(rb"\$([0-9]{1,20})\r\n")


class ProtocolError(Exception):
    """Bytes that are not a request within the limits; the connection cannot go on."""


class RequestReader:
    """Splits what a client sends into requests (lists of words), checking every header."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()  # what arrived of the request being received
        self._words: list[bytes] = []  # the words of the request being received
        self._count = 0  # words the request announced (0: no request started)
        self._length = -1  # the length of the word being received (-1: its header next)
        self.announced = 0  # bytes of the request being received, through its current word
        self.unauthenticated = False  # Redis's tighter limits, one request per feed

    @property
    def receiving(self) -> bool:
        """Whether part of a request has arrived, and not the rest."""
        return bool(self._buffer) or self._count > 0

    @property
    def buffered(self) -> int:
        """Bytes held of the request being received (its words so far and what follows)."""
        return len(self._buffer) + sum(map(len, self._words))

    def keep(self, data: bytes) -> None:
        """Hold `data` unparsed, behind what is held already: the next `feed` parses it."""
        self._buffer += data

    def feed(self, data: bytes) -> list[list[bytes]]:
        """The requests completed by `data`, in order; ProtocolError when a header is wrong.

        An empty array is no request (Redis ignores it). While `unauthenticated`,
        at most one request, within the tighter limits (module docstring).
        """
        unauthenticated = self.unauthenticated
        if self._buffer:
            self._buffer += data
            source: bytes | bytearray = self._buffer
        else:
            source = data  # the common case: nothing held back, parsed as it came
        requests: list[list[bytes]] = []
        position = 0
        if (
            self._count == 0
            and not unauthenticated
            and len(source) <= min(SPLIT_MAX_BYTES, self.max_bytes)
        ):
            requests, position = _small_requests(source, self.max_bytes)
        while True:
            if self._count == 0:
                if requests and unauthenticated:
                    break  # the next is parsed once this one has run
                whole = (
                    None if unauthenticated else _whole_request(source, position, self.max_bytes)
                )
                if whole is not None:
                    words, position = whole
                    if words:
                        requests.append(words)
                    continue
                # Not all here: received header by header from here on.
                start = position
                count, position = _header(source, position, b"*")
                if count is None:
                    break
                if unauthenticated and count > UNAUTHENTICATED_MAX_WORDS:
                    raise ProtocolError("unauthenticated multibulk length")
                if count * MIN_WORD_BYTES > self.max_bytes:
                    raise ProtocolError("invalid multibulk length")
                if count > 0:
                    self._count = count
                    self.announced = position - start
            elif self._length < 0:
                start = position
                length, position = _header(source, position, b"$")
                if length is None:
                    break
                self.announced += position - start + length + len(CRLF)
                if length < 0:
                    raise ProtocolError("invalid bulk length")
                if unauthenticated and length > UNAUTHENTICATED_MAX_WORD_BYTES:
                    raise ProtocolError("unauthenticated bulk length")
                if self.announced > self.max_bytes:
                    raise ProtocolError("invalid bulk length")
                self._length = length
            else:
                end = position + self._length
                if len(source) < end + len(CRLF):
                    break
                if source[end : end + len(CRLF)] != CRLF:
                    raise ProtocolError("expected CRLF after a bulk string")
                self._words.append(bytes(source[position:end]))
                position = end + len(CRLF)
                self._length = -1
                if len(self._words) == self._count:
                    requests.append(self._words)
                    self._words = []
                    self._count = 0
                    self.announced = 0
        # What was parsed goes (once per feed: many pipelined requests cost one move).
        if source is self._buffer:
            del self._buffer[:position]
        elif position < len(source):
            self._buffer = bytearray(memoryview(source)[position:])
        return requests


def _header(source: bytes | bytearray, start: int, kind: bytes) -> tuple[int | None, int]:
    """The number in the header of `kind` at `start`, and where it ends.

    (None, start) when it has not all arrived yet.
    """
    if start >= len(source):
        return None, start
    if source[start : start + 1] != kind:
        raise ProtocolError(_expected(kind, source[start : start + 1]))
    end = source.find(CRLF, start, start + MAX_HEADER_BYTES)
    what = "multibulk" if kind == b"*" else "bulk"
    if end < 0:
        if len(source) - start >= MAX_HEADER_BYTES:
            raise ProtocolError(f"invalid {what} length")
        return None, start
    digits = source[start + 1 : end]
    if not (digits[1:] if digits[:1] == b"-" else digits).isdigit():
        raise ProtocolError(f"invalid {what} length")
    return int(digits), end + len(CRLF)


def _whole_request(
    buffer: bytes | bytearray, start: int, max_bytes: int
) -> tuple[list[bytes], int] | None:
    """The request at `start` and where it ends, if all of it is in `buffer` (else None).

    The common case, in one pass: the same checks as the header-by-header path,
    which takes over for a request that has not all arrived.
    """
    header = _ARRAY.match(buffer, start)
    if header is None:
        return None
    count = int(header.group(1))
    if count * MIN_WORD_BYTES > max_bytes:
        raise ProtocolError("invalid multibulk length")
    position = header.end()
    size = len(buffer)
    words = []
    for _ in range(count):
        header = _BULK.match(buffer, position)
        if header is None:
            return None
        first = header.end()
        end = first + int(header.group(1))
        if end + 2 - start > max_bytes:
            raise ProtocolError("invalid bulk length")
        if end + 2 > size:
            return None
        if buffer[end : end + 2] != CRLF:
            raise ProtocolError("expected CRLF after a bulk string")
        word = buffer[first:end]
        words.append(word if type(word) is bytes else bytes(word))
        position = end + 2
    return words, position


def _small_requests(source: bytes | bytearray, max_bytes: int) -> tuple[list[list[bytes]], int]:
    """The whole requests at the start of `source`, read line by line, and where they end.

    The common case of a pipeline, in one pass: `source` split at every CRLF,
    each request taken whole when its array header and every word's header are
    the canonical ones of a small request (`*3`, then `$3` and 3 bytes, ...) and
    it is all here. It stops at the first request that is anything else (a word
    holding CRLF, a header written otherwise, one not all here), which the
    header-by-header path then reads from its start, and decides; so this
    raises nothing. Only for a `source` no longer than `max_bytes`, so that no
    request in it can be past the limit.
    """
    lines = (source if type(source) is bytes else bytes(source)).split(CRLF)
    last = len(lines) - 1  # what follows the last CRLF: not a whole line
    requests: list[list[bytes]] = []
    index = 0
    while index < last:
        count = _ARRAY_HEADERS.get(lines[index])
        if count is None:
            break
        end = index + 1 + 2 * count
        if end > last:
            break
        words = lines[index + 2 : end : 2]
        try:
            canonical = list(map(_BULK_HEADERS.__getitem__, map(len, words)))
        except IndexError:  # a word too long for the table
            break
        if lines[index + 1 : end : 2] != canonical:
            break
        if words:
            requests.append(words)
        index = end
    # Every line taken, and the CRLF after it.
    return requests, sum(map(len, lines[:index])) + len(CRLF) * index


def _expected(kind: bytes, got: bytes | bytearray) -> str:
    shown = got.decode("ascii") if got.isascii() and got.decode().isprintable() else repr(got)
    return f"expected '{kind.decode()}', got '{shown}'"
