"""EtcdStore: entries in an etcd cluster, shared by any number of kv-server replicas.

etcd is the store: its revision is the store's revision, its transactions
decide each write atomically (kv.adapters.etcd.txn), its reads are
linearizable, so a write acknowledged by one replica is seen by every other at
once, and its leases expire entries written with a ttl. Its watch is the
change feed (kv.adapters.etcd.feed). The replicas keep no state of their
own. See docs/etcd.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from kv.adapters.etcd.client import EtcdClient
from kv.adapters.etcd.feed import EtcdChangeFeed
from kv.adapters.etcd.records import EtcdRecords
from kv.adapters.etcd.security import EtcdSecurity
from kv.adapters.etcd.snapshot import EtcdSnapshot
from kv.adapters.etcd.transactions import found_kvs, guarded_request, read_request
from kv.adapters.etcd.txn import (
    SINGLE_TRIP_VALUE_BYTES,
    outcome,
    refused_kv,
    request,
    swap_request,
)
from kv.adapters.etcd.values import Keyspace, is_delete_marker, prefix_end, stored_value
from kv.adapters.history import HistoryLimits
from kv.config import DEFAULTS
from kv.domain import (
    Decision,
    Entry,
    KVError,
    Outcome,
    OutcomeUnknown,
    SingleWrites,
    StorageUnavailable,
    Subscription,
    Transaction,
    Write,
    WriteKind,
    Written,
)
from kv.domain.model import Listing
from kv.etcdpb import kv_pb2, rpc_pb2

# A write that finds its key changed between its read and its swap tries again; every retry
# means another write won, and this many in a row is reported rather than looped on.
MAX_ATTEMPTS = 20


class EtcdStore(SingleWrites):
    """A `Store` over etcd's v3 API: one round trip per operation where the rules allow it.

    A single write is one etcd Txn of its own rules (kv.adapters.etcd.txn); a batch
    (`transact_many`) is its transactions one by one (`SingleWrites`); a
    transaction of several operations is a read and one guarded etcd Txn
    (kv.adapters.etcd.transactions).

    Two or more for: a PUT over SINGLE_TRIP_VALUE_BYTES (read, then swap), a
    write with a ttl (a lease grant first), a write to a key with an expiry
    (read, then swap), and a write to an expired key not yet removed by etcd
    (its lease revoked first, which removes it at a revision of its own).
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        prefix: str = DEFAULTS.etcd_prefix,
        timeout: float = DEFAULTS.etcd_timeout,
        clock: Callable[[], float] = time.time,
        history: HistoryLimits | None = None,
        security: EtcdSecurity | None = None,
    ) -> None:
        """`history`: how many recent changes the shared watch keeps (kv.adapters.etcd.feed);
        `security`: TLS and the etcd user (kv.adapters.etcd.security)."""
        self._client = EtcdClient(endpoints, timeout=timeout, security=security)
        self._keys = Keyspace(prefix)
        self._records = EtcdRecords(self._client, self._keys.prefix)
        self._clock = clock
        self._feed = EtcdChangeFeed(
            self._client, self._keys, history or HistoryLimits(), timeout=timeout
        )

    async def open(self) -> None:
        """Make the channel; members are connected to on first use (readiness: `check`)."""
        await self._client.open()

    async def close(self) -> None:
        """Every answered write is already durable in etcd: watches end, the channel is closed."""
        await self._feed.close()
        await self._client.close()

    async def subscribe(self, prefix: str, from_revision: int | None) -> Subscription:
        """Follow the changes under `prefix` (`ChangeFeed`; kv.adapters.etcd.feed)."""
        return await self._feed.subscribe(prefix, from_revision)

    async def snapshot(self) -> EtcdSnapshot:
        """Every entry at etcd's current revision (a linearizable read names it), in pages."""
        response = await self._client.range(
            rpc_pb2.RangeRequest(
                key=self._keys.prefix, range_end=prefix_end(self._keys.prefix), count_only=True
            )
        )
        return EtcdSnapshot(self._client, self._keys, response.header.revision, self._clock())

    async def get(self, key: str) -> Entry | None:
        response = await self._client.range(rpc_pb2.RangeRequest(key=self._keys.key(key)))
        return self._live(response.kvs[0]) if response.kvs else None

    async def list(
        self, prefix: str, *, after: str | None, limit: int, keys_only: bool = False
    ) -> Listing:
        """One linearizable range read (more when expired entries had to be left out)."""
        start = self._keys.key(prefix) if after is None else self._keys.key(after) + b"\x00"
        end = prefix_end(self._keys.key(prefix))
        entries: list[Entry] = []
        revision = 0  # the first read's, for the rest: one page is one snapshot
        while True:
            wanted = limit + 1 - len(entries)  # one more than the page: is there more?
            response = await self._client.range(
                rpc_pb2.RangeRequest(key=start, range_end=end, limit=wanted, revision=revision)
            )
            revision = revision or response.header.revision
            live = (
                self._live(kv, keys_only=keys_only)
                for kv in response.kvs
                if not is_delete_marker(kv.key)
            )
            entries += [entry for entry in live if entry is not None]
            if len(entries) > limit or not response.more:
                return Listing(tuple(entries[:limit]), len(entries) > limit, revision)
            start = response.kvs[-1].key + b"\x00"

    async def transact(self, txn: Transaction) -> Outcome:
        """A single write in its own way (`_write`); any other transaction read, then guarded."""
        single = not txn.compare and not txn.failure and len(txn.success) == 1
        if single and txn.claim is None:
            (op,) = txn.success
            if isinstance(op, Write):
                written = await self.write(op)
                changed = written.decision is not Decision.UNCHANGED
                return Outcome(True, txn.success, (written,), written.revision, changed)
        ttls = sorted({write.ttl for write in txn.writes if write.ttl is not None})
        leases: dict[int, int] = {}
        try:
            for ttl in ttls:
                leases[ttl] = await self._client.grant(ttl)
            outcome = await self._transact(txn, leases)
        except OutcomeUnknown:
            raise  # the leases may be on keys now
        except KVError:
            for lease in leases.values():
                await self._client.revoke(lease)
            raise
        used = {write.ttl for write, _ in outcome.changes() if write.ttl is not None}
        for ttl, lease in leases.items():
            if ttl not in used:
                await self._client.revoke(lease)
        return outcome

    async def _transact(self, txn: Transaction, leases: dict[int, int]) -> Outcome:
        """Read, decide, guarded Txn; with a claim, its record is read and written with them."""
        keys = [self._keys.key(key) for key in txn.keys]
        record_key = None if txn.claim is None else self._records.key(txn.claim.key)
        for _ in range(MAX_ATTEMPTS):
            read = await self._client.read_txn(read_request([*keys, *filter(None, [record_key])]))
            found = found_kvs([*keys, *filter(None, [record_key])], read)
            recorded = None
            if txn.claim is not None and record_key is not None:
                recorded = self._records.read(txn.claim.key, found[record_key])
            expired = [
                kv
                for key, kv in found.items()
                if kv is not None and key != record_key and self._live(kv) is None
            ]
            if expired:
                for kv in expired:  # removed at a revision of its own; then read again
                    await self._client.revoke(kv.lease)
                continue
            current = {
                self._keys.name(key): None if kv is None else self._keys.entry(kv)
                for key, kv in found.items()
                if key != record_key
            }
            now = self._clock()
            outcome = txn.decide(current, read.header.revision, now, recorded)
            if outcome.replayed or (not outcome.changed and outcome.record is None):
                return outcome
            request = guarded_request(outcome, self._keys, found, leases, now)
            if outcome.record is not None and txn.claim is not None:
                request.success.append(await self._records.put(outcome.record, txn.claim.ttl, now))
            response = await self._client.txn(request)
            if response.succeeded:
                return outcome.at(response.header.revision) if outcome.changed else outcome
        raise StorageUnavailable(
            f"the transaction's keys changed under each of {MAX_ATTEMPTS} attempts; not applied"
        )

    async def write(self, write: Write) -> Written:
        lease = await self._client.grant(write.ttl) if write.ttl is not None else 0
        try:
            return await self._write(write, self._keys.key(write.key), lease)
        except OutcomeUnknown:
            raise  # the lease may be on the key now
        except KVError:
            if lease:
                await self._client.revoke(lease)
            raise

    async def _write(self, write: Write, key: bytes, lease: int) -> Written:
        for _ in range(MAX_ATTEMPTS):
            now = self._clock()
            value = stored_value(write, now)
            if write.kind is WriteKind.PUT and len(value) > SINGLE_TRIP_VALUE_BYTES:
                read = await self._client.range(rpc_pb2.RangeRequest(key=key))
                found = read.kvs[0] if read.kvs else None
            else:
                response = await self._client.txn(request(write, key, value, lease))
                if response.succeeded:
                    return outcome(write, response, self._keys, now)
                found = refused_kv(response)
            current = None if found is None else self._keys.entry(found)
            if found is not None and self._expired(current):
                await self._client.revoke(found.lease)  # removed at its own revision; again
                continue
            decision = write.decide(current)  # the domain's error, if its rules refuse
            if decision is Decision.UNCHANGED:
                assert current is not None
                return Written.apply(write, current, decision, current.revision, now)
            swapped = await self._client.txn(swap_request(key, decision, value, lease, found))
            if swapped.succeeded:
                return Written.apply(write, current, decision, swapped.header.revision, now)
        raise StorageUnavailable(
            f"key {write.key!r} changed under each of {MAX_ATTEMPTS} attempts; not written"
        )

    def _expired(self, entry: Entry | None) -> bool:
        return entry is not None and entry.expired(self._clock())

    def _live(self, kv: kv_pb2.KeyValue, *, keys_only: bool = False) -> Entry | None:
        """The entry, or None once it has expired (etcd removes it soon after, on its own)."""
        entry = self._keys.entry(kv, keys_only=keys_only)
        return None if self._expired(entry) else entry

    async def check(self) -> None:
        """A linearizable read of one key: etcd answers it only with a quorum and a leader."""
        await self._client.range(
            rpc_pb2.RangeRequest(key=self._keys.prefix, limit=1, count_only=True)
        )
