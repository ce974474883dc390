"""The domain core: KV operations, their rules and the storage port. Imports no framework."""

from kv.domain.changes import Change
from kv.domain.errors import (
    Compacted,
    InvalidRequest,
    KeyExists,
    KeyNotFound,
    KVError,
    OutcomeUnknown,
    PreconditionFailed,
    StorageUnavailable,
    TooManyWatches,
    ValueTooLarge,
    WatcherTooSlow,
)
from kv.domain.model import Condition, Entry, JsonValue, Listing, Page
from kv.domain.ports import (
    ChangeFeed,
    SingleWrites,
    Snapshots,
    Store,
    StoreSnapshot,
    Subscription,
)
from kv.domain.service import KeyValueService, PutResult
from kv.domain.snapshots import Snapshot
from kv.domain.transactions import Compare, Op, Outcome, Read, Transaction
from kv.domain.writes import Decision, Write, WriteKind, Written

__all__ = [
    "Change",
    "ChangeFeed",
    "Compacted",
    "Compare",
    "Condition",
    "Decision",
    "Entry",
    "InvalidRequest",
    "JsonValue",
    "KVError",
    "KeyExists",
    "KeyNotFound",
    "KeyValueService",
    "Listing",
    "Op",
    "Outcome",
    "OutcomeUnknown",
    "Page",
    "PreconditionFailed",
    "PutResult",
    "Read",
    "SingleWrites",
    "Snapshot",
    "Snapshots",
    "StorageUnavailable",
    "Store",
    "StoreSnapshot",
    "Subscription",
    "TooManyWatches",
    "Transaction",
    "ValueTooLarge",
    "WatcherTooSlow",
    "Write",
    "WriteKind",
    "Written",
]
