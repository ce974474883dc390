"""The domain core: KV operations, their rules and the storage port. Imports no framework."""

from kv.domain.access import Access, Guard, Principal, Principals, decide
from kv.domain.batches import PlannedWrite
from kv.domain.changes import Change
from kv.domain.errors import (
    AccessRefused,
    BadCredentials,
    Compacted,
    IdempotencyKeyReused,
    InvalidRequest,
    KeyExists,
    KeyNotFound,
    KVError,
    OutcomeUnknown,
    PermissionDenied,
    PreconditionFailed,
    ProtectedMode,
    StorageUnavailable,
    TooManyWatches,
    Unauthenticated,
    ValueTooLarge,
    WatcherTooSlow,
)
from kv.domain.idempotency import Claim, IdempotencyRecord
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
    "Access",
    "AccessRefused",
    "BadCredentials",
    "Change",
    "ChangeFeed",
    "Claim",
    "Compacted",
    "Compare",
    "Condition",
    "Decision",
    "Entry",
    "Guard",
    "IdempotencyKeyReused",
    "IdempotencyRecord",
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
    "PermissionDenied",
    "PlannedWrite",
    "PreconditionFailed",
    "Principal",
    "Principals",
    "ProtectedMode",
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
    "Unauthenticated",
    "ValueTooLarge",
    "WatcherTooSlow",
    "Write",
    "WriteKind",
    "Written",
    "decide",
]
