"""The domain core: KV operations, their rules and the storage port. Imports no framework."""

from kv.domain.errors import (
    InvalidRequest,
    KeyExists,
    KeyNotFound,
    KVError,
    OutcomeUnknown,
    PreconditionFailed,
    StorageUnavailable,
    ValueTooLarge,
)
from kv.domain.model import Condition, Entry, JsonValue, Listing, Page
from kv.domain.ports import Store
from kv.domain.service import KeyValueService, PutResult
from kv.domain.writes import Decision, Write, WriteKind, Written

__all__ = [
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
    "OutcomeUnknown",
    "Page",
    "PreconditionFailed",
    "PutResult",
    "StorageUnavailable",
    "Store",
    "ValueTooLarge",
    "Write",
    "WriteKind",
    "Written",
]
