"""transactions: several keys change together or not at all (`KVClient.txn`, `POST /v1/txn`).

First the rules, one transaction at a time: the compares pick the branch,
each op of the branch that ran has its result, every write of a transaction
takes the same new revision, a get sees the writes before it, a delete of
nothing answers `deleted: false`, a transaction that changes nothing moves
no revision, and a key written twice in one branch is refused.

Then Jepsen's bank workload: a few accounts holding a known total; several
clients, each on a connection of its own, move random amounts between two
random accounts (a transaction that reads both, then one that writes both
guarded by the revisions it read, so a transfer either moves the money or
changes nothing), while auditors read every account in one transaction.
With several replicas (a comma list in KV_URL), client n talks to replica n
modulo their number. Every
audit must see the whole total (no transfer seen half done), and so must the
end. A service that applies a transaction's writes one by one shows an
auditor half a transfer; one that ignores compares loses updates, and money
with them.

Parameters (`?seconds=2`, `--set seconds=2`): `seconds` (default 2),
`clients` (default 4), `accounts` (default 4), `transfers` (at most this
many in all, default 2000).
"""

from __future__ import annotations

from testclient.checks import attempt, describe
from testclient.client import KVTxnResult, Rejected
from testclient.scenarios.bank import BankParameters, bank, get_op, put_op
from testclient.scenarios.context import ScenarioContext


async def transactions(run: ScenarioContext) -> None:
    await _rules(run)
    await bank(run, BankParameters.of(run.parameters))


async def _rules(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    a, b, none = run.key("rules/a"), run.key("rules/b"), run.key("rules/none")
    made = await attempt(
        client.txn(
            {
                "compare": [{"key": a, "revision": 0}, {"key": b, "exists": False}],
                "success": [put_op(a, 1), put_op(b, {"n": 2}), get_op(a)],
                "failure": [get_op(a)],
            }
        )
    )
    if not checks.record(
        "compares that hold run the success branch",
        isinstance(made, KVTxnResult) and made.succeeded and len(made.results) == 3,
        f"observed {describe(made)}",
    ):
        return
    assert isinstance(made, KVTxnResult)
    revision = made.revision
    checks.expect_equal(
        "every write of a transaction takes its one new revision",
        [{"key": a, "revision": revision, "created": True},
         {"key": b, "revision": revision, "created": True}],
        list(made.results[:2]),
    )  # fmt: skip
    checks.expect_equal(
        "a get sees the write before it in its branch",
        {"key": a, "value": 1, "revision": revision},
        made.results[2],
    )
    reads = [await attempt(client.get(key)) for key in (a, b)]
    checks.expect_equal(
        "both writes are visible at that revision",
        [revision, revision],
        [getattr(entry, "revision", entry) for entry in reads],
    )
    refused = await attempt(
        client.txn(
            {
                "compare": [{"key": a, "value": 2}],
                "success": [put_op(a, "wrong branch")],
                "failure": [get_op(b), {"op": "delete", "key": none}, put_op(a, 1)],
            }
        )
    )
    checks.expect_equal(
        "a compare that fails runs the failure branch, which changes nothing here",
        (False, [{"key": b, "value": {"n": 2}, "revision": revision},
                 {"key": none, "deleted": False},
                 {"key": a, "revision": revision, "created": False}]),
        (getattr(refused, "succeeded", refused), list(getattr(refused, "results", ()))),
    )  # fmt: skip
    after = await attempt(client.get(a))
    checks.expect_equal(
        "a transaction that changes nothing moves no revision",
        revision,
        getattr(after, "revision", after),
    )
    twice = await attempt(client.txn({"success": [put_op(a, 1), put_op(a, 2)]}))
    checks.expect_error("a key written twice in one branch is refused", Rejected, twice)
