"""EtcdClient: one gRPC channel over every etcd member, a deadline on each call, safe retries.

Failover is gRPC's own: the channel's target names every member
(`ipv4:a:p,b:p,c:p`) and its `pick_first` policy sends every call to the
first member it can connect to, moving to the next when that one goes away
(with a short reconnect backoff). One member for all calls, not
`round_robin` over all: etcd batches the quorum check of concurrent
linearizable reads per member, and spreading them over three members
doubled etcd's CPU per read in `make bench-etcd` (docs/etcd.md). Names in
KV_ETCD_ENDPOINTS are resolved once, when the store opens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import grpc

from kv.adapters.etcd.errors import (
    COMPACTED,
    FUTURE_REVISION,
    NO_LEADER,
    read_failure,
    write_failure,
)
from kv.adapters.etcd.members import member_addresses
from kv.adapters.etcd.security import INVALID_TOKEN, WATCH_REFUSED, EtcdSecurity
from kv.domain import KVError, StorageUnavailable
from kv.etcdpb import rpc_pb2, rpc_pb2_grpc

T = TypeVar("T")
WatchCall = grpc.aio.StreamStreamCall[rpc_pb2.WatchRequest, rpc_pb2.WatchResponse]

_CHANNEL_OPTIONS = [
    ("grpc.lb_policy_name", "pick_first"),
    # A lost member is replaced, and one that comes back reconnected, within a second, not after
    # grpc's default backoff of 1-120 s.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # A member that vanished without closing its connections is noticed within seconds;
    # etcd accepts a ping every 5 s or more (--grpc-keepalive-min-time).
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    # Answers carry whole values (1 MiB by default, twice in a prev_kv answer).
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]
# Sent with every call: a member that has lost its leader refuses at once ("no leader"),
# before proposing anything, instead of holding the call until raft times out.
_METADATA = (("hasleader", "true"),)
# How long the retries of one operation may take, in deadlines of one call.
RETRY_BUDGET = 3
RETRY_PAUSE = 0.05


class EtcdClient:
    """The calls the etcd store makes: a linearizable range, and a transaction.

    Each call has a deadline of `timeout` seconds. A read is retried on any
    failure while `RETRY_BUDGET` deadlines last; a write only while etcd proves
    it was not applied (kv.adapters.etcd.errors), else OutcomeUnknown at once.
    """

    def __init__(
        self, endpoints: Sequence[str], *, timeout: float, security: EtcdSecurity | None = None
    ) -> None:
        """`security`: TLS and etcd's user authentication (kv.adapters.etcd.security)."""
        self._endpoints = tuple(endpoints)
        self._timeout = timeout
        security = security or EtcdSecurity()
        self._credentials = security.credentials()
        self._auth = security.auth()
        self._scheme, self._addresses = "ipv4", list[str]()
        self._channel: grpc.aio.Channel | None = None
        self._kv: rpc_pb2_grpc.KVStub | None = None
        self._lease: rpc_pb2_grpc.LeaseStub | None = None
        self._watch: rpc_pb2_grpc.WatchStub | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self._scheme, self._addresses = await member_addresses(self._endpoints)
        self._connect()

    def _connect(self) -> None:
        target = f"{self._scheme}:{','.join(self._addresses)}"
        self._channel = (
            grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
            if self._credentials is None
            else grpc.aio.secure_channel(target, self._credentials, options=_CHANNEL_OPTIONS)
        )
        self._kv = rpc_pb2_grpc.KVStub(self._channel)  # type: ignore[no-untyped-call]
        self._lease = rpc_pb2_grpc.LeaseStub(self._channel)  # type: ignore[no-untyped-call]
        self._watch = rpc_pb2_grpc.WatchStub(self._channel)  # type: ignore[no-untyped-call]

    def _move_on(self, failed: grpc.aio.Channel | None) -> None:
        """The member in use has no leader: put the next one first, on a new channel.

        pick_first keeps a connection that works, and a member cut off from the
        others answers every call with "no leader"; only a new channel moves on.
        Once per channel: concurrent calls that saw the same member refuse move once.
        """
        if failed is None or failed is not self._channel or len(self._addresses) < 2:
            return
        self._addresses = self._addresses[1:] + self._addresses[:1]
        self._connect()
        closing = asyncio.get_running_loop().create_task(failed.close(grace=self._timeout))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        self._kv, self._lease, self._watch = None, None, None
        if channel is not None:
            await channel.close(grace=None)
        await asyncio.gather(*self._closing)

    async def range(self, request: rpc_pb2.RangeRequest) -> rpc_pb2.RangeResponse:
        """A linearizable read (etcd's default: it confirms with a quorum that it is current)."""
        return await self._retry(
            lambda timeout: self._stub().Range(request, **self._call(timeout)), False
        )

    async def compacted(self, key: bytes, revision: int) -> bool:
        """Whether etcd has compacted `revision` away: a read at it fails (a future one is kept).

        A linearizable read of `key` (counted, not returned) at that revision:
        etcd refuses it with "required revision has been compacted" exactly when
        a watch from it would be cancelled as compacted.
        """
        request = rpc_pb2.RangeRequest(key=key, count_only=True, revision=revision)

        async def attempt(deadline: float) -> bool:
            try:
                await self._stub().Range(request, **self._call(deadline))
            except grpc.aio.AioRpcError as exc:
                if exc.details() in (COMPACTED, FUTURE_REVISION):
                    return exc.details() == COMPACTED
                raise
            return False

        return await self._retry(attempt, False)

    async def range_within_limit(
        self, request: rpc_pb2.RangeRequest
    ) -> rpc_pb2.RangeResponse | None:
        """A read as `range`, or None when the answer is over the channel's message limit.

        For reads whose answer's size is not known in advance (a page of
        whole values): the caller asks again for less.
        """

        async def attempt(deadline: float) -> rpc_pb2.RangeResponse | None:
            try:
                response: rpc_pb2.RangeResponse = await self._stub().Range(
                    request, **self._call(deadline)
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                    return None
                raise
            return response

        return await self._retry(attempt, False)

    async def txn(self, request: rpc_pb2.TxnRequest) -> rpc_pb2.TxnResponse:
        """A transaction that may write: OutcomeUnknown unless its failure proves it not applied."""
        return await self._retry(
            lambda timeout: self._stub().Txn(request, **self._call(timeout)), True
        )

    async def read_txn(self, request: rpc_pb2.TxnRequest) -> rpc_pb2.TxnResponse:
        """A transaction of reads only: linearizable, and retried as a read is."""
        return await self._retry(
            lambda timeout: self._stub().Txn(request, **self._call(timeout)), False
        )

    async def grant(self, ttl: int) -> int:
        """A new lease of `ttl` seconds (etcd may round it up to its minimum); its id.

        A grant changes no key, so any failure is StorageUnavailable for the write that
        wanted it: that write was not sent.
        """
        grant = rpc_pb2.LeaseGrantRequest(TTL=ttl)
        try:
            response: rpc_pb2.LeaseGrantResponse = await self._retry(
                lambda timeout: self._leases().LeaseGrant(grant, **self._call(timeout)), True
            )
        except KVError as exc:
            raise StorageUnavailable(f"etcd granted no lease: {exc}") from exc
        return response.ID

    async def revoke(self, lease_id: int) -> None:
        """Revoke a lease: etcd deletes its keys at a revision of their own.

        A lease already gone (expired, revoked) is no error. Any other failure is
        StorageUnavailable for the write that wanted the revoke: that write was not sent.
        """
        lease, revoke = self._leases(), rpc_pb2.LeaseRevokeRequest(ID=lease_id)

        async def attempt(deadline: float) -> None:
            try:
                await lease.LeaseRevoke(revoke, **self._call(deadline))
            except grpc.aio.AioRpcError as exc:
                if exc.code() is not grpc.StatusCode.NOT_FOUND:
                    raise

        try:
            await self._retry(attempt, True)
        except KVError as exc:
            raise StorageUnavailable(f"etcd revoked no lease: {exc}") from exc

    async def watch_stream(self) -> tuple[WatchCall, grpc.aio.Channel]:
        """A new Watch stream on the channel in use (no deadline: it lives as long as its watcher).

        With the `hasleader` metadata, so a member that loses its leader ends the
        stream ("no leader") rather than leaving it silent; `watch_failed` then
        moves on to the next member, as a unary call that saw it would.
        """
        if self._channel is not None:
            await self._signed_in(self._channel)
        if self._watch is None or self._channel is None:
            raise StorageUnavailable("the etcd store is closed")
        call: WatchCall = self._watch.Watch(metadata=self._metadata())
        return call, self._channel

    def watch_failed(self, exc: grpc.aio.AioRpcError, channel: grpc.aio.Channel) -> None:
        """A Watch stream on `channel` ended with `exc`: a member without a leader is left."""
        if exc.details() == NO_LEADER:
            self._move_on(channel)

    @property
    def token(self) -> str:
        """The etcd token calls carry ("" without a user, or before signing in)."""
        return "" if self._auth is None else self._auth.token

    def watch_cancelled(self, reason: str) -> None:
        """etcd cancelled a watch for `reason`: a refused token is renewed before the next one."""
        if reason == WATCH_REFUSED and self._auth is not None:
            self._auth.refused(self._auth.token)

    def _leases(self) -> rpc_pb2_grpc.LeaseStub:
        if self._lease is None:
            raise StorageUnavailable("the etcd store is closed")
        return self._lease

    def _stub(self) -> rpc_pb2_grpc.KVStub:
        if self._kv is None:
            raise StorageUnavailable("the etcd store is closed")
        return self._kv

    def _call(self, timeout: float) -> dict[str, object]:
        return {"timeout": timeout, "metadata": self._metadata()}

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return _METADATA if self._auth is None else _METADATA + self._auth.metadata()

    async def _signed_in(self, channel: grpc.aio.Channel) -> str:
        """The token calls carry, signing in first when needed ("" without a user)."""
        return "" if self._auth is None else await self._auth.signed_in(channel, self._timeout)

    async def _retry(self, call: Callable[[float], Awaitable[T]], writes: bool) -> T:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._timeout * RETRY_BUDGET
        signed_in_again = False
        while True:
            channel = self._channel
            token = "" if channel is None or self._auth is None else await self._signed_in(channel)
            try:
                return await call(max(min(self._timeout, give_up - loop.time()), RETRY_PAUSE))
            except grpc.aio.AioRpcError as exc:
                # etcd checks the token before anything else: sign in again and send the
                # call once more.
                if exc.details() == INVALID_TOKEN and self._auth and not signed_in_again:
                    signed_in_again = True
                    self._auth.refused(token)
                    continue
                if exc.details() == NO_LEADER:
                    self._move_on(channel)
                error: KVError = write_failure(exc) if writes else read_failure(exc)
                # Only what is proven not applied is retried (OutcomeUnknown is not).
                if type(error) is not StorageUnavailable or loop.time() + RETRY_PAUSE >= give_up:
                    raise error from exc
            await asyncio.sleep(RETRY_PAUSE)
