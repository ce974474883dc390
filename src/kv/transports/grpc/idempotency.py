"""The `idempotency-key` request metadata and the `idempotent-replayed` trailing metadata.

Put, Create, Delete and Txn may carry `idempotency-key: K`; the fingerprint
covers the method and the request message (serialized deterministically),
so that only the same request replays. The service keeps the key among the
caller's own.
"""

from __future__ import annotations

from google.protobuf.message import Message

from kv.domain.idempotency import IdempotentRequest, fingerprint
from kv.transports.grpc.grpc_internals import Context

IDEMPOTENCY_KEY = "idempotency-key"
REPLAYED = "idempotent-replayed"


def idempotent_request(method: str, request: Message, context: Context) -> IdempotentRequest | None:
    """The call's idempotency key and fingerprint (None: no key); a bad key: InvalidRequest."""
    key = next(
        (value for name, value in context.invocation_metadata() or () if name == IDEMPOTENCY_KEY),
        None,
    )
    if key is None:
        return None
    if isinstance(key, bytes):
        key = key.decode("latin-1")
    body = request.SerializeToString(deterministic=True)
    return IdempotentRequest(key, fingerprint(method, "", body))


def mark_replayed(context: Context, idempotency: IdempotentRequest | None) -> None:
    """Say in the trailing metadata that the answer is the recorded one, when it is."""
    if idempotency is not None and idempotency.replayed:
        context.set_trailing_metadata(((REPLAYED, "true"),))
