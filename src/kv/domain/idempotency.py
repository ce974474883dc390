"""Idempotency keys: a write's answer kept with the write, so that a retry learns it.

A write may carry an idempotency key (1 to 255 printable ASCII characters)
and a fingerprint of what it asks (method, key, body). The store reads the
key's `IdempotencyRecord` with the entries a transaction touches, and
`Transaction.decide` applies THE rule, `Claim.replay`:

- no record (or an expired one): the write is carried out, and the record of
  its answer (`Claim.record`) is written in the same commit as its changes,
  also when it changes nothing, so the answer survives a crash and is seen
  through every replica;
- a record with the same fingerprint: its answer again, nothing applied;
- a record with another fingerprint: IdempotencyKeyReused, nothing applied.

Only a write that succeeds is recorded: a refused one (KeyExists,
KeyNotFound, PreconditionFailed, ...) changed nothing and is carried out
again when retried. Records are scoped by principal (`scoped_key`), expire
`ttl` seconds after they are written, and are never read, listed, watched or
snapshotted as entries.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from kv.domain.errors import IdempotencyKeyReused, InvalidRequest
from kv.domain.model import Entry
from kv.domain.transactions import Op, Outcome, Read
from kv.domain.writes import Decision, Write, WriteKind, Written

MAX_KEY_LENGTH = 255
DEFAULT_TTL_SECONDS = 86400


def validate_idempotency_key(key: str) -> str:
    """`key` when it is 1 to 255 printable ASCII characters (space to `~`); else InvalidRequest."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise InvalidRequest(
            f"an idempotency key is 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )
    return key


def scoped_key(principal: str, key: str) -> str:
    """The record's name: the key within its principal's ("": anonymous) own keys.

    A validated key holds no newline, so the last newline separates the two.
    """
    return f"{principal}\n{key}"


def fingerprint(method: str, key: str, body: bytes) -> str:
    """A digest of what a request asks: its method, its key (or path) and its body."""
    digest = hashlib.sha256()
    for part in (method.encode(), key.encode("utf-8", "surrogatepass"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The answer of the first request with a key: kept until `expires_at` (Unix seconds).

    `outcome`: what that request's transaction answered. `encode`/`decode`
    give the bytes a store keeps (JSON); a store whose revision is known only
    after its commit (etcd) moves the outcome to it with `written_at`.
    """

    key: str
    fingerprint: str
    outcome: Outcome
    expires_at: float

    def expired(self, now: float) -> bool:
        return self.expires_at <= now

    def written_at(self, revision: int) -> IdempotencyRecord:
        """The record with its outcome's changes at `revision`, the commit's own."""
        if not self.outcome.changed:
            return self
        moved = self.outcome.at(revision)
        return IdempotencyRecord(self.key, self.fingerprint, moved, self.expires_at)

    def encode(self) -> bytes:
        document = {
            "fingerprint": self.fingerprint,
            "expires_at": self.expires_at,
            "outcome": _outcome_document(self.outcome),
        }
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, key: str, data: bytes) -> IdempotencyRecord:
        document = json.loads(data)
        outcome = _read_outcome(document["outcome"])
        return cls(key, document["fingerprint"], outcome, float(document["expires_at"]))


@dataclass(frozen=True, slots=True)
class Claim:
    """A write's idempotency key (scoped) and fingerprint, and how long its answer is kept."""

    key: str
    fingerprint: str
    ttl: int = DEFAULT_TTL_SECONDS

    def replay(self, recorded: IdempotencyRecord) -> Outcome:
        """The recorded answer, when it answered this same request; else IdempotencyKeyReused."""
        if recorded.fingerprint != self.fingerprint:
            raise IdempotencyKeyReused(
                "idempotency key reused: it was first sent with another request; use a new key"
            )
        outcome = recorded.outcome
        return Outcome(
            outcome.succeeded, outcome.ops, outcome.results, outcome.revision, False, replayed=True
        )

    def record(self, outcome: Outcome, now: float) -> IdempotencyRecord:
        """The record of `outcome`, the answer to the first request with this key."""
        return IdempotencyRecord(self.key, self.fingerprint, outcome, now + self.ttl)


# --- the outcome as JSON -----------------------------------------------------


def _entry_document(entry: Entry | None) -> list[Any] | None:
    if entry is None:
        return None
    return [entry.key, entry.value, entry.revision, entry.expires_at]


def _read_entry(document: list[Any] | None) -> Entry | None:
    if document is None:
        return None
    key, value, revision, expires_at = document
    return Entry(key, value, revision, expires_at)


def _op_document(op: Op) -> dict[str, Any]:
    if isinstance(op, Read):
        return {"read": op.key}
    return {
        "kind": op.kind.value,
        "key": op.key,
        "value": op.value_json.decode("utf-8"),
        "ttl": op.ttl,
        "missing_ok": op.missing_ok,
    }


def _read_op(document: dict[str, Any]) -> Op:
    if "read" in document:
        return Read(document["read"])
    value_json = document["value"].encode("utf-8")
    value = json.loads(value_json) if value_json else None
    return Write(
        WriteKind(document["kind"]),
        document["key"],
        value,
        value_json,
        ttl=document["ttl"],
        missing_ok=document["missing_ok"],
    )


def _outcome_document(outcome: Outcome) -> dict[str, Any]:
    results = [
        [r.decision.value, _entry_document(r.previous), _entry_document(r.entry), r.revision]
        for r in outcome.results
    ]
    return {
        "succeeded": outcome.succeeded,
        "ops": [_op_document(op) for op in outcome.ops],
        "results": results,
        "revision": outcome.revision,
        "changed": outcome.changed,
    }


def _read_outcome(document: dict[str, Any]) -> Outcome:
    results = tuple(
        Written(Decision(decision), _read_entry(previous), _read_entry(entry), revision)
        for decision, previous, entry, revision in document["results"]
    )
    ops = tuple(_read_op(op) for op in document["ops"])
    return Outcome(document["succeeded"], ops, results, document["revision"], document["changed"])


class IdempotentRequest:
    """What a transport hands the service for a write with an idempotency key.

    `key`: as the client sent it (validated here); `fingerprint`: of the
    request (`fingerprint`); `principal`: who sent it ("": anonymous), whose
    keys it belongs to (the service sets it from the caller it runs as). The
    service sets `replayed` when the answer it returns is the recorded one,
    so the transport can say so.
    """

    def __init__(self, key: str, fingerprint: str, principal: str = "") -> None:
        self.key = validate_idempotency_key(key)
        self.fingerprint = fingerprint
        self.principal = principal
        self.replayed = False

    def claim(self, ttl: int) -> Claim:
        return Claim(scoped_key(self.principal, self.key), self.fingerprint, ttl)
