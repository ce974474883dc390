"""The change feed's values: one committed change, and the request to follow them.

Every write that changes the store (a put or create that stores a value, a
delete, an expiry) is one `Change` at its own revision. A store with a
change feed (`kv.domain.ports.ChangeFeed`) hands them to watchers in
revision order, none skipped, none repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

from kv.domain.errors import InvalidRequest
from kv.domain.frozen import direct_init
from kv.domain.model import Entry, JsonValue

# What a change costs in a history besides its key and value bytes (the
# objects that hold it); counted so that a history of empty values is bounded too.
CHANGE_OVERHEAD_BYTES = 200


@direct_init
@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class Change:
    """One committed change of one key, at a revision of its own.

    `entry`: the entry the change stored (a put), None when it removed the
    key (a delete; `expired` when the removal was the key's expiry).
    `value_json`: the stored value's compact JSON, as the service made it
    (b"" for a removal), so a transport can send it without encoding the
    value again for every watcher. Compared (and hashed, and weakly
    referenced, as a transport's cache key) by identity: a change is one
    event of one store.
    """

    revision: int
    key: str
    entry: Entry | None
    value_json: bytes = b""
    expired: bool = False

    @property
    def kind(self) -> str:
        """`put` or `delete`, as the HTTP event names it."""
        return "delete" if self.entry is None else "put"

    @property
    def value(self) -> JsonValue:
        return None if self.entry is None else self.entry.value

    @property
    def size(self) -> int:
        """What the change holds in memory, roughly, in bytes (for the history's byte bound)."""
        return len(self.key) + len(self.value_json) + CHANGE_OVERHEAD_BYTES

    @classmethod
    def put(cls, entry: Entry, value_json: bytes) -> Change:
        return cls(entry.revision, entry.key, entry, value_json)

    @classmethod
    def delete(cls, key: str, revision: int, *, expired: bool = False) -> Change:
        return cls(revision, key, None, expired=expired)


def validate_from_revision(revision: object) -> int | None:
    """`revision` if it is None (from now on) or a positive whole number; else InvalidRequest."""
    if revision is None:
        return None
    if type(revision) is not int or revision < 1:
        raise InvalidRequest(f"from_revision must be a positive whole number, got {revision!r}")
    return revision
