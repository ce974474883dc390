"""The domain core: KV operations, their rules and the storage port. Imports no framework."""

from kv.domain.errors import (
    InvalidRequest,
    KeyExists,
    KeyNotFound,
    KVError,
    PreconditionFailed,
    StorageUnavailable,
    ValueTooLarge,
)
from kv.domain.model import Change, Condition, Entry, JsonValue
from kv.domain.ports import Store
from kv.domain.service import KeyValueService, PutResult

__all__ = [
    "Change",
    "Condition",
    "Entry",
    "InvalidRequest",
    "JsonValue",
    "KVError",
    "KeyExists",
    "KeyNotFound",
    "KeyValueService",
    "PreconditionFailed",
    "PutResult",
    "StorageUnavailable",
    "Store",
    "ValueTooLarge",
]
