"""The bank workload of the `transactions` scenario (Jepsen's bank).

A few accounts holding a known total; several clients, each on a connection
of its own, move random amounts between two random accounts while auditors
read every account in one transaction. Every audit, and the end, must see
the whole total. The `transactions` module docstring says what it catches
and which parameters it takes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from testclient.checks import attempt, describe
from testclient.client import KVClient, KVTxnResult
from testclient.scenarios.context import ScenarioContext

BALANCE = 100


@dataclass(frozen=True)
class BankParameters:
    """How long and how wide the bank workload runs (module docstring)."""

    seconds: float = 2.0
    clients: int = 4
    accounts: int = 4
    transfers: int = 2000

    @classmethod
    def of(cls, parameters: Mapping[str, str]) -> BankParameters:
        return cls(
            float(parameters.get("seconds", cls.seconds)),
            max(1, int(parameters.get("clients", cls.clients))),
            max(2, int(parameters.get("accounts", cls.accounts))),
            max(1, int(parameters.get("transfers", cls.transfers))),
        )


@dataclass
class Ledger:
    """What the workload saw: transfers made, audits and their totals, transfers split."""

    transfers: int = 0
    refused: int = 0
    audits: list[int] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def get_op(key: str) -> dict[str, str]:
    """A get op, as the HTTP API spells it."""
    return {"op": "get", "key": key}


def put_op(key: str, value: object) -> dict[str, object]:
    """A put op, as the HTTP API spells it."""
    return {"op": "put", "key": key, "value": value}


async def bank(run: ScenarioContext, parameters: BankParameters) -> None:
    """Open the accounts, move money between them while auditors read them all, check totals."""
    checks = run.checks
    accounts = [run.key(f"bank/{n}") for n in range(parameters.accounts)]
    total = BALANCE * len(accounts)
    opened = await attempt(
        run.client.txn(
            {
                "compare": [{"key": key, "exists": False} for key in accounts],
                "success": [put_op(key, BALANCE) for key in accounts],
            }
        )
    )
    if not checks.record(
        "the accounts open in one transaction",
        isinstance(opened, KVTxnResult) and opened.succeeded,
        f"observed {describe(opened)}",
    ):
        return
    ledger = Ledger()
    deadline = time.monotonic() + parameters.seconds
    budget = [parameters.transfers]
    async with AsyncExitStack() as stack:
        # Spread over the replicas (with several in KV_URL): their transactions must be
        # serialized with each other's.
        clients = [
            await stack.enter_async_context(run.replica_client(n))
            for n in range(parameters.clients + 1)
        ]
        workers = [
            _transfers(clients[n], accounts, random.Random(n), deadline, budget, ledger)
            for n in range(parameters.clients)
        ]
        await asyncio.gather(*workers, _audits(clients[-1], accounts, deadline, ledger))
    final = await attempt(run.client.txn({"success": [get_op(key) for key in accounts]}))
    if isinstance(final, KVTxnResult):
        ledger.audits.append(_total(final))
    checks.record(
        "transfers went through while others raced them",
        ledger.transfers > 0 and not ledger.errors,
        f"{ledger.transfers} transfers, {ledger.refused} lost their race; "
        f"errors: {ledger.errors[:3]}",
    )
    checks.record(
        "each transfer's two writes took one revision",
        not ledger.split,
        "; ".join(ledger.split[:3]) or "every transfer wrote both accounts at one revision",
    )
    wrong = [seen for seen in ledger.audits if seen != total]
    checks.record(
        "every audit (one transaction over every account) sees the whole total",
        len(ledger.audits) > 1 and not wrong,
        f"{len(ledger.audits)} audits of {total}; wrong totals: {wrong[:10]}",
    )


def _total(audit: KVTxnResult) -> int:
    """The sum of the balances an audit read (-1 when an account was missing or not a number)."""
    balances = [audit.entry(n) for n in range(len(audit.results))]
    if any(entry is None or type(entry.value) is not int for entry in balances):
        return -1
    return sum(entry.value for entry in balances if entry is not None)


async def _transfers(
    client: KVClient,
    accounts: list[str],
    rng: random.Random,
    deadline: float,
    budget: list[int],
    ledger: Ledger,
) -> None:
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        source, target = rng.sample(accounts, 2)
        read = await attempt(client.txn({"success": [get_op(source), get_op(target)]}))
        if not isinstance(read, KVTxnResult):
            ledger.errors.append(f"read: {describe(read)}")
            return
        have, want = read.entry(0), read.entry(1)
        if have is None or want is None:
            ledger.errors.append(f"an account vanished: {describe(read)}")
            return
        amount = rng.randint(1, 10)
        moved = await attempt(
            client.txn(
                {
                    "compare": [
                        {"key": source, "revision": have.revision},
                        {"key": target, "revision": want.revision},
                    ],
                    "success": [
                        put_op(source, have.value - amount),
                        put_op(target, want.value + amount),
                    ],
                }
            )
        )
        if not isinstance(moved, KVTxnResult):
            ledger.errors.append(f"transfer: {describe(moved)}")
            return
        if not moved.succeeded:
            ledger.refused += 1
            continue
        ledger.transfers += 1
        revisions = {result.get("revision") for result in moved.results}
        if revisions != {moved.revision}:
            ledger.split.append(f"revisions {sorted(map(str, revisions))} at {moved.revision}")


async def _audits(client: KVClient, accounts: list[str], deadline: float, ledger: Ledger) -> None:
    audit = {"success": [get_op(key) for key in accounts]}
    while time.monotonic() < deadline:
        seen = await attempt(client.txn(audit))
        if not isinstance(seen, KVTxnResult):
            ledger.errors.append(f"audit: {describe(seen)}")
            return
        ledger.audits.append(_total(seen))
        await asyncio.sleep(0)
