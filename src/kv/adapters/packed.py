"""How the local stores' key directory holds one entry: the common entry packed in one object.

Most entries hold a string and never expire. Such an entry is held as one
`bytes`: its revision (8 bytes, signed, little-endian), then the value's
UTF-8. Beside the key (which the directory holds once) that is the only
object the entry costs: no `Entry`, no separate int for the revision, no
separate str for the value. Any other entry (a value that is not a string,
or an entry that expires) is held as the `Entry` itself, unchanged.

`unpack` builds the `Entry` back, equal to the one packed; the directory
calls it on every read, so what a store hands out is never what it holds.
UTF-8 is encoded with `surrogatepass`, so every `str` comes back as it was.
"""

from __future__ import annotations

import struct
from typing import TypeAlias

from kv.domain import Entry

Packed: TypeAlias = "bytes | Entry"

_REVISION = struct.Struct("<q")
_UTF8 = "utf-8"
_ERRORS = "surrogatepass"


def pack(entry: Entry) -> Packed:
    """`entry` as the key directory holds it (`entry.key` is not part of it)."""
    if type(entry.value) is str and entry.expires_at is None:
        return _REVISION.pack(entry.revision) + entry.value.encode(_UTF8, _ERRORS)
    return entry


def unpack(key: str, packed: Packed) -> Entry:
    """The entry at `key` that `packed` holds."""
    if type(packed) is bytes:
        value = packed[_REVISION.size :].decode(_UTF8, _ERRORS)
        return Entry(key, value, _REVISION.unpack_from(packed)[0])
    assert isinstance(packed, Entry)
    return packed


def unpack_key(key: str, packed: Packed) -> Entry:
    """The entry at `key` that `packed` holds, its value left out (None): a keys-only listing."""
    if type(packed) is bytes:
        return Entry(key, None, _REVISION.unpack_from(packed)[0])
    assert isinstance(packed, Entry)
    return Entry(key, None, packed.revision, packed.expires_at)
