"""SortedMap: string keys in order, each with a value beside it, in sorted chunks.

The layout is sortedcontainers' `SortedList` (a list of sorted chunks of
between CHUNK/2 and 2*CHUNK keys, and the last key of each chunk), with a
parallel list of values per chunk. A key is found by two binary searches
(the chunk, then the place in it), so a lookup, an insert and a removal
cost O(log n) plus moving at most 2*CHUNK pointers, and a range is read
from any key onwards one step per key.

Why not `SortedDict`: it is a dict plus a sorted list of its keys, two
indexes of every key, and the dict's table alone takes more per key than
this whole structure (a pointer to the key and one to the value, and the
chunks' spare room). For a store that keeps millions of small entries that
is most of what a key costs besides its own bytes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Generic, TypeVar

V = TypeVar("V")

# Keys per chunk (a chunk holds from half to twice as many): big enough that
# the chunk index stays small, small enough that an insert moves few pointers.
CHUNK = 1000


class SortedMap(Generic[V]):
    """A mapping of `str` keys to values, iterated in key order from any key."""

    def __init__(self, items: Iterable[tuple[str, V]] = (), *, chunk: int = CHUNK) -> None:
        """`items`: the initial pairs, in any order, each key once."""
        self._chunk = chunk
        pairs = sorted(items, key=lambda pair: pair[0])
        self._keys: list[list[str]] = [
            [key for key, _ in pairs[i : i + chunk]] for i in range(0, len(pairs), chunk)
        ]
        self._values: list[list[V]] = [
            [value for _, value in pairs[i : i + chunk]] for i in range(0, len(pairs), chunk)
        ]
        self._maxes = [keys[-1] for keys in self._keys]  # the last key of each chunk
        self._len = len(pairs)

    def __len__(self) -> int:
        return self._len

    def __contains__(self, key: str) -> bool:
        return self._find(key) is not None

    def get(self, key: str) -> V | None:
        """The value at `key`; None when the key is absent."""
        found = self._find(key)
        return None if found is None else self._values[found[0]][found[1]]

    def set(self, key: str, value: V) -> None:
        """Put `value` at `key`, replacing what was there."""
        if not self._maxes:
            self._keys.append([key])
            self._values.append([value])
            self._maxes.append(key)
            self._len = 1
            return
        chunk = bisect_left(self._maxes, key)
        if chunk == len(self._maxes):  # past every key: goes last
            chunk -= 1
            self._keys[chunk].append(key)
            self._values[chunk].append(value)
            self._maxes[chunk] = key
        else:
            keys = self._keys[chunk]
            at = bisect_left(keys, key)
            if keys[at] == key:
                self._values[chunk][at] = value
                return
            keys.insert(at, key)
            self._values[chunk].insert(at, value)
        self._len += 1
        if len(self._keys[chunk]) > 2 * self._chunk:
            self._split(chunk)

    def pop(self, key: str) -> V | None:
        """Remove `key`; its value, or None when it was absent."""
        found = self._find(key)
        if found is None:
            return None
        chunk, at = found
        keys = self._keys[chunk]
        del keys[at]
        value = self._values[chunk].pop(at)
        self._len -= 1
        if len(keys) * 2 < self._chunk and len(self._keys) > 1:
            self._merge(chunk if chunk + 1 < len(self._keys) else chunk - 1)
        elif keys:
            self._maxes[chunk] = keys[-1]
        else:  # the last key of the last chunk
            self._keys.clear()
            self._values.clear()
            self._maxes.clear()
        return value

    def items(self, start: str | None = None, *, inclusive: bool = True) -> Iterator[tuple[str, V]]:
        """The pairs in key order from `start` (None: the first key), with it or after it.

        Read it to the end, or as far as needed, before the map changes.
        """
        if start is None:
            chunk, at = 0, 0
        else:
            bisect = bisect_left if inclusive else bisect_right
            chunk = bisect(self._maxes, start)
            at = bisect(self._keys[chunk], start) if chunk < len(self._keys) else 0
        while chunk < len(self._keys):
            keys = islice(self._keys[chunk], at, None)
            yield from zip(keys, islice(self._values[chunk], at, None), strict=True)
            chunk, at = chunk + 1, 0

    def _find(self, key: str) -> tuple[int, int] | None:
        """The chunk of `key` and its place there; None when the key is absent."""
        chunk = bisect_left(self._maxes, key)
        if chunk == len(self._maxes):
            return None
        keys = self._keys[chunk]
        at = bisect_left(keys, key)
        return (chunk, at) if keys[at] == key else None

    def _split(self, chunk: int) -> None:
        """Cut a chunk past 2*CHUNK keys in two (new lists, so neither keeps the spare room)."""
        keys, values, half = self._keys[chunk], self._values[chunk], self._chunk
        self._keys[chunk : chunk + 1] = [keys[:half], keys[half:]]
        self._values[chunk : chunk + 1] = [values[:half], values[half:]]
        self._maxes.insert(chunk, keys[half - 1])

    def _merge(self, chunk: int) -> None:
        """Join chunk `chunk + 1` onto `chunk` (one of them is under CHUNK/2 keys)."""
        self._keys[chunk] += self._keys.pop(chunk + 1)
        self._values[chunk] += self._values.pop(chunk + 1)
        del self._maxes[chunk + 1]
        self._maxes[chunk] = self._keys[chunk][-1]
        if len(self._keys[chunk]) > 2 * self._chunk:
            self._split(chunk)
