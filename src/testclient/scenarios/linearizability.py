"""linearizability: concurrent clients' reads and writes are explained by one order in real time.

Several clients, each on a connection of its own, run random get / put /
conditional put / create / delete calls on a few keys of this run for a
bounded time, recording when each call was invoked and completed (one
monotonic clock) and what it returned, revisions included. The history is
then checked by `testclient.linearizability`: every key's operations must be
explained by one order consistent with real time, and revisions must rise in
real-time order across keys. A call that ended OutcomeUnknown or Unavailable
(timed out, or the service could not answer) counts as possibly applied.
With several replicas (a comma list in KV_URL), client n talks to replica n
modulo their number.

Parameters (query string of `POST /test_linearizability`, or `kv-testclient
run linearizability --set NAME=VALUE`): `seconds` (default 3), `clients`
(default 6), `keys` (default 3), `operations` (at most this many calls in
all, default 20000).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace

from testclient.client import (
    AlreadyExists,
    KVClient,
    KVClientError,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    Unavailable,
)
from testclient.linearizability import (
    Kind,
    Observed,
    Operation,
    Outcome,
    Verdict,
    Violation,
    check,
    describe_verdict,
)
from testclient.scenarios.context import ScenarioContext

# Errors after which the client cannot know whether the call took effect.
# Unavailable too: a timeout or a dropped connection after the request was sent
# reports it, and the write may have been applied.
OUTCOME_UNKNOWN: tuple[type[KVClientError], ...] = (OutcomeUnknown, Unavailable)
OUTCOMES: dict[type[KVClientError], Outcome] = {
    NotFound: Outcome.NOT_FOUND,
    AlreadyExists: Outcome.EXISTS,
    PreconditionFailed: Outcome.PRECONDITION_FAILED,
}
# get, put, conditional put, create, delete, conditional delete: reads and
# writes about even, so that reads see most writes and writes race.
KINDS = ("get", "get", "get", "put", "put_if", "put_if", "create", "delete", "delete_if")


@dataclass(frozen=True, slots=True)
class Parameters:
    """How long and how wide the run is."""

    seconds: float = 3.0
    clients: int = 6
    keys: int = 3
    operations: int = 20_000

    @classmethod
    def read(cls, given: Mapping[str, str]) -> Parameters:
        """From the scenario parameters; ValueError names a bad one."""
        default = cls()
        try:
            made = cls(
                seconds=float(given.get("seconds", default.seconds)),
                clients=int(given.get("clients", default.clients)),
                keys=int(given.get("keys", default.keys)),
                operations=int(given.get("operations", default.operations)),
            )
        except ValueError as exc:
            raise ValueError(f"parameters must be numbers: {exc}") from None
        if not (0 < made.seconds <= 600 and 1 <= made.clients <= 64 and 1 <= made.keys <= 64):
            raise ValueError("seconds must be in (0, 600], clients and keys in 1..64")
        if not 1 <= made.operations <= 200_000:
            raise ValueError("operations must be in 1..200000")
        return made


class Recorder:
    """One client's calls, in the shared history, with what it last saw of each key."""

    def __init__(self, number: int, client: KVClient, history: list[Operation]) -> None:
        self.number = number
        self.client = client
        self.history = history
        self.revisions: dict[str, int] = {}
        self.calls = 0

    async def call(self, kind: str, key: str, rng: random.Random) -> None:
        self.calls += 1
        value = f"client {self.number} write {self.calls}"
        expected = None
        if kind in ("put_if", "delete_if"):
            # Mostly the revision last seen (a compare-and-set that may race),
            # sometimes one that cannot match.
            expected = self.revisions.get(key, 1) + (0 if rng.random() < 0.8 else 1)
        invoked = time.monotonic()
        try:
            if kind == "get":
                entry = await self.client.get(key)
                observed = Observed(entry.value, entry.revision)
            elif kind in ("put", "put_if"):
                written = await self.client.put(key, value, expected_revision=expected)
                entry = written.entry
                observed = Observed(entry.value, entry.revision, written.created)
            elif kind == "create":
                entry = await self.client.create(key, value)
                observed = Observed(entry.value, entry.revision)
            else:
                entry = await self.client.delete(key, expected_revision=expected)
                observed = Observed(entry.value, entry.revision)
            outcome: Outcome = Outcome.OK
            self.revisions[key] = entry.revision
        except OUTCOME_UNKNOWN:
            outcome, observed = Outcome.UNKNOWN, None
        except tuple(OUTCOMES) as exc:
            outcome, observed = OUTCOMES[type(exc)], None
        completed = time.monotonic() if outcome is not Outcome.UNKNOWN else float("inf")
        operation = Kind.PUT if kind.startswith("put") else Kind(kind.removesuffix("_if"))
        self.history.append(
            Operation(
                self.number,
                key,
                operation,
                invoked,
                completed,
                outcome,
                value if operation in (Kind.PUT, Kind.CREATE) else None,
                expected,
                observed,
            )
        )


async def _work(
    recorder: Recorder, keys: list[str], deadline: float, budget: list[int], seed: int
) -> None:
    """Call until the deadline or until the clients' shared `budget` of calls is spent."""
    rng = random.Random(seed)
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        await recorder.call(rng.choice(KINDS), rng.choice(keys), rng)


def _overlapping(history: list[Operation]) -> int:
    """How many operations began while another client's operation was still running."""
    ordered = sorted(history, key=lambda op: op.invoked)
    count, running_until, running_client = 0, -1.0, -1
    for op in ordered:
        if op.invoked < running_until and op.client != running_client:
            count += 1
        if op.completed > running_until:
            running_until, running_client = op.completed, op.client
    return count


async def linearizability(run: ScenarioContext) -> None:
    checks = run.checks
    try:
        wanted = Parameters.read(run.parameters)
    except ValueError as exc:
        checks.record("the parameters are valid", False, str(exc))
        return
    keys = [run.key(f"register-{n}") for n in range(wanted.keys)]
    history: list[Operation] = []
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        recorders = [
            Recorder(n, await stack.enter_async_context(run.replica_client(n)), history)
            for n in range(wanted.clients)
        ]
        deadline = time.monotonic() + wanted.seconds
        seed, budget = random.randrange(2**32), [wanted.operations]
        # Every client runs to its end before a failure of one (a refused
        # call, a bug) is raised, so no call is left running as clients close.
        ended = await asyncio.gather(
            *(_work(r, keys, deadline, budget, seed + r.number) for r in recorders),
            return_exceptions=True,
        )
        failure = next((e for e in ended if isinstance(e, BaseException)), None)
        if failure is not None:
            raise failure
    took = time.monotonic() - started
    if history and all(op.pending for op in history):
        raise Unavailable(f"every one of {len(history)} calls ended unavailable")
    what = (
        f"{len(history)} operations by {wanted.clients} clients on {wanted.keys} keys "
        f"in {took:.1f} s over {run.client.transport}"
    )
    overlapping = _overlapping(history)
    checks.record(
        "the clients' operations overlapped in time",
        overlapping > 0,
        f"{what}; {overlapping} began while another client's was running",
    )
    checking = time.monotonic()
    verdict = await asyncio.to_thread(check, history)
    decided = f", decided in {time.monotonic() - checking:.2f} s"
    per_key = [v for v in verdict.violations if v.scope == "key"]
    across = [v for v in verdict.violations if v.scope == "revisions"]
    checks.record(
        "each key's history is linearizable",
        not per_key,
        describe_verdict(_only(verdict, per_key), history, decided),
    )
    checks.record(
        "revisions rise in real-time order across keys",
        not across,
        describe_verdict(_only(verdict, across), history),
    )


def _only(verdict: Verdict, violations: list[Violation]) -> Verdict:
    return replace(verdict, violations=tuple(violations))
