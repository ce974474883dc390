"""ScanCursors: SCAN cursors as numbers that fit in 64 bits, for every connection of a server.

Redis clients read a SCAN cursor as an unsigned 64-bit number (`redis-cli
--scan` refuses anything larger), but the service's listing cursor is text
of up to a key's length. The server keeps the most recent `capacity`
listing cursors in one table, shared by its connections (a client's pool
may send the next SCAN on another connection), each under a number of its
own; a number no longer in the table (evicted, or from before a restart) is
an invalid cursor, and the client starts over from 0, as after any error.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict

from kv.domain import InvalidRequest

DEFAULT_CAPACITY = 65_536


class ScanCursors:
    """Listing cursors by number, the least recently made dropped first past `capacity`."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._by_number: OrderedDict[int, str] = OrderedDict()
        self._numbers = itertools.count(1)

    def number(self, cursor: str) -> int:
        """A new number for `cursor` (never 0, which starts and ends a scan)."""
        number = next(self._numbers)
        self._by_number[number] = cursor
        while len(self._by_number) > self._capacity:
            self._by_number.popitem(last=False)
        return number

    def cursor(self, word: bytes) -> str | None:
        """The listing cursor of SCAN's cursor argument (None: 0, the first page)."""
        try:
            number = int(word)
        except ValueError:
            raise InvalidRequest("invalid cursor") from None
        if number == 0:
            return None
        cursor = self._by_number.get(number)
        if cursor is None:
            raise InvalidRequest("invalid cursor (unknown or expired; SCAN again from 0)")
        return cursor
