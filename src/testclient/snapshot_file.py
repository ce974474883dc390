"""The snapshot format as `kv backup` writes and `kv restore` reads it: JSON lines.

    {"snapshot": 1, "revision": R, "entries": N}
    {"key": K, "value": V, "revision": RK}        N lines, in key order (plus "ttl": S)
    {"end": true, "entries": N}

A file (or stream) without its end line, or whose counts disagree, is
incomplete: `SnapshotBroken`. A backup is the server's answer byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from testclient.client import KVClientError, KVEntry

FORMAT = 1


class SnapshotBroken(KVClientError):
    """A snapshot (a stream or a file) that is not whole, or not in the format."""


@dataclass(frozen=True, slots=True)
class Header:
    """A snapshot's first line: the revision it was taken at, and how many entries follow."""

    revision: int
    entries: int


def _document(line: bytes, number: int) -> dict[str, Any]:
    try:
        document = json.loads(line)
    except ValueError as exc:
        raise SnapshotBroken(f"line {number} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SnapshotBroken(f"line {number} is not a JSON object")
    return document


def _count(document: dict[str, Any], field: str, number: int) -> int:
    value = document.get(field)
    if type(value) is not int or value < 0:
        raise SnapshotBroken(f"line {number}: {field} must be a whole number, got {value!r}")
    return value


def read_header(line: bytes) -> Header:
    """The header of a snapshot whose first line is `line`."""
    document = _document(line, 1)
    if document.get("snapshot") != FORMAT:
        raise SnapshotBroken(f"not a kv snapshot (format {FORMAT}): the first line is {line!r}")
    return Header(_count(document, "revision", 1), _count(document, "entries", 1))


def read_end(line: bytes, number: int) -> int:
    """The count the end line `line` (line `number`) gives."""
    return _end_count(_document(line, number), number)


def _end_count(document: dict[str, Any], number: int) -> int:
    if document.get("end") is not True:
        raise SnapshotBroken(f"line {number} is not the snapshot's end line: {document!r:.200}")
    return _count(document, "entries", number)


def _entry(document: dict[str, Any], number: int) -> KVEntry:
    """The entry of line `number`."""
    ttl = document.get("ttl")
    if (
        not isinstance(document.get("key"), str)
        or "value" not in document
        or type(document.get("revision")) is not int
        or not (ttl is None or (type(ttl) is int and ttl >= 1))
        or set(document) - {"key", "value", "revision", "ttl"}
    ):
        raise SnapshotBroken(f"line {number} is not an entry: {document!r:.200}")
    return KVEntry(document["key"], document["value"], document["revision"], ttl)


class StreamCheck:
    """Follows a snapshot's bytes as they arrive: the header, the entries so far, the end."""

    def __init__(self) -> None:
        self.header: Header | None = None
        self.entries = 0
        self._pending = b""
        self._last: bytes | None = None

    def feed(self, chunk: bytes) -> None:
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()
        if not lines:
            return
        if self.header is None:
            self.header = read_header(lines[0])
            lines = lines[1:]
        if lines:
            if self._last is not None:
                self.entries += 1
            self.entries += len(lines) - 1
            self._last = lines[-1]

    def finish(self) -> Header:
        """The header, once the end line was the last line and every count agrees."""
        if self.header is None or self._last is None or self._pending:
            raise SnapshotBroken("the snapshot ended before its end line")
        end = read_end(self._last, self.entries + 2)
        if not end == self.header.entries == self.entries:
            raise SnapshotBroken(
                f"the snapshot announced {self.header.entries} entries, "
                f"held {self.entries}, and its end line says {end}"
            )
        return self.header


def entries_of(file: IO[bytes]) -> tuple[Header, Iterator[KVEntry]]:
    """The header of a snapshot file, and its entries as they are read (then the end checked)."""
    header = read_header(file.readline())

    def entries() -> Iterator[KVEntry]:
        number = 1
        for line in file:
            number += 1
            document = _document(line, number)
            if "end" in document:
                end = _end_count(document, number)
                if not end == header.entries == number - 2:
                    raise SnapshotBroken(
                        f"the file announced {header.entries} entries, "
                        f"holds {number - 2}, and its end line says {end}"
                    )
                if file.read(1):
                    raise SnapshotBroken(f"the file goes on after its end line {number}")
                return
            yield _entry(document, number)
        raise SnapshotBroken(f"the file ends at line {number}, before its end line")

    return header, entries()
