"""What an etcd failure means for the caller: the one table from gRPC errors to domain errors.

A read that fails changed nothing, so any failure is safe to retry and, in the
end, `StorageUnavailable`. A write is different: once it has left for etcd,
only an answer tells whether raft applied it. So a failed write is
`StorageUnavailable` (not applied, never will be) only when the failure
proves it never reached raft: gRPC could not connect to any member (the call
was never sent), or etcd refused it in one of the checks it makes before
proposing it. Every other failure of a write (a deadline, a connection lost
mid-call, a leader change, "request timed out") is `OutcomeUnknown`.
"""

from __future__ import annotations

import grpc

from kv.domain import KVError, OutcomeUnknown, StorageUnavailable, ValueTooLarge

# grpc's own messages when no member could be connected to: the call never left the client
# (round_robin's picker, and pick_first's, in grpc-core).
_NOT_SENT_PREFIXES = ("connections to all backends failing", "failed to connect to all addresses")

NO_LEADER = "etcdserver: no leader"
# A read at a revision etcd no longer keeps, or has not made yet (rpctypes ErrGRPCCompacted, ...).
COMPACTED = "etcdserver: mvcc: required revision has been compacted"
FUTURE_REVISION = "etcdserver: mvcc: required revision is a future revision"

# etcd's refusals made before a request is proposed to raft (etcd's rpctypes/error.go and
# v3rpc/interceptor.go, 3.4): the write was not applied and will not be.
_REFUSED: dict[str, type[KVError]] = {
    # a member without a leader, asked with the `hasleader` metadata kv always sends
    NO_LEADER: StorageUnavailable,
    "etcdserver: too many requests": StorageUnavailable,
    "etcdserver: mvcc: database space exceeded": StorageUnavailable,
    "etcdserver: not capable": StorageUnavailable,
    # over the member's --max-request-bytes (1.5 MiB by default; docs/etcd.md)
    "etcdserver: request is too large": ValueTooLarge,
}


def _details(exc: grpc.aio.AioRpcError) -> str:
    return exc.details() or exc.code().name


def read_failure(exc: grpc.aio.AioRpcError) -> StorageUnavailable:
    """A read that failed: nothing changed, the store could not answer."""
    return StorageUnavailable(f"etcd could not be read: {_details(exc)}")


def _refused(exc: grpc.aio.AioRpcError) -> KVError | None:
    """The error for a write etcd proves it did not apply, or None when it may have."""
    details = _details(exc)
    if details.startswith(_NOT_SENT_PREFIXES):
        return StorageUnavailable(f"no etcd member reachable: {details}")
    error = _REFUSED.get(details)
    return None if error is None else error(f"etcd refused the write: {details}")


def write_failure(exc: grpc.aio.AioRpcError) -> KVError:
    """A write that failed: not applied when etcd proves it, else the outcome is unknown."""
    known = _refused(exc)
    if known is not None:
        return known
    return OutcomeUnknown(f"etcd did not confirm the write: {_details(exc)}")
