"""The `Idempotency-Key` request header and the `Idempotent-Replayed` answer header.

A write may carry `Idempotency-Key: K`; its fingerprint covers the method,
the raw path (the key, or /v1/txn), the body and the headers that change
what the write does (conditions, `Prefer`), so that only the same request
replays. The service keeps the key among the caller's own (one principal's
keys never answer another's requests).
"""

from __future__ import annotations

from aiohttp import web
from multidict import istr

from kv.domain.idempotency import IdempotentRequest, fingerprint

IDEMPOTENCY_KEY = istr("Idempotency-Key")
REPLAYED = "Idempotent-Replayed"
_SHAPING_HEADERS = ("If-Match", "If-None-Match", "Prefer")


async def idempotent_request(request: web.Request) -> IdempotentRequest | None:
    """The request's idempotency key and fingerprint (None: no key); a bad key: InvalidRequest.

    Call it once the body is read: the body read is kept by aiohttp, so it is not read twice.
    """
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return None
    shaping = "\n".join(request.headers.get(name, "") for name in _SHAPING_HEADERS)
    body = await request.read() + b"\n" + shaping.encode("latin-1", "replace")
    return IdempotentRequest(key, fingerprint(request.method, request.raw_path, body))


def mark_replayed(response: web.StreamResponse, idempotency: IdempotentRequest | None) -> None:
    """Say on `response` that it is the recorded answer, when it is."""
    if idempotency is not None and idempotency.replayed:
        response.headers[REPLAYED] = "true"
