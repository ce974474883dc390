"""The domain core: KV operations, their rules and the storage port. Imports no framework."""

from kv.domain.access import Access, Guard, Principal, Principals, decide
from kv.domain.changes import Change
from kv.domain.errors import (
    AccessRefused,
    BadCredentials,
    Compacted,
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
from kv.domain.model import Condition, Entry, JsonValue, Listing, Page
from kv.domain.ports import ChangeFeed, Store, Subscription
from kv.domain.service import KeyValueService, PutResult
from kv.domain.writes import Decision, Write, WriteKind, Written

__all__ = [
    "Access",
    "AccessRefused",
    "BadCredentials",
    "Change",
    "ChangeFeed",
    "Compacted",
    "Condition",
    "Decision",
    "Entry",
    "Guard",
    "InvalidRequest",
    "JsonValue",
    "KVError",
    "KeyExists",
    "KeyNotFound",
    "KeyValueService",
    "Listing",
    "OutcomeUnknown",
    "Page",
    "PermissionDenied",
    "PreconditionFailed",
    "Principal",
    "Principals",
    "ProtectedMode",
    "PutResult",
    "StorageUnavailable",
    "Store",
    "Subscription",
    "TooManyWatches",
    "Unauthenticated",
    "ValueTooLarge",
    "WatcherTooSlow",
    "Write",
    "WriteKind",
    "Written",
    "decide",
]
