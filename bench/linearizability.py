"""How fast the linearizability checker decides: `python -m bench.linearizability`.

Makes a random linearizable history (concurrent clients on a few keys, each
operation taking effect at a random instant between its invocation and its
completion, a few outcomes unknown) and times `testclient.linearizability.check`
on it; then breaks one read of it (a stale value) and times the rejection,
minimal window included. The target: 20,000 operations on 4 keys
decided in under 10 s on the project's 2-core machine. Prints one line per run.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import replace

from testclient.linearizability import Kind, Observed, Operation, Outcome, check

TARGET_SECONDS = 10.0


def simulated_history(
    operations: int, keys: int, clients: int, *, seed: int = 1, unknown: float = 0.002
) -> list[Operation]:
    """A linearizable history: each client calls one operation after another, and each
    operation is applied to a reference dict at a random instant inside its interval."""
    rng = random.Random(seed)
    names = [f"k{n}" for n in range(keys)]
    calls: list[tuple[float, float, float, int, Kind, str, int | None, int]] = []
    clock = [0.0] * clients
    for n in range(operations):
        client = n % clients
        invoked = clock[client] + rng.uniform(0.0, 0.002)
        completed = invoked + rng.uniform(0.0005, 0.01)
        clock[client] = completed
        applied = rng.uniform(invoked, completed)
        kind = rng.choice([Kind.GET, Kind.GET, Kind.PUT, Kind.PUT, Kind.CREATE, Kind.DELETE])
        calls.append((applied, invoked, completed, client, kind, rng.choice(names), None, n))
    store: dict[str, tuple[str, int]] = {}
    revision = 0
    history: list[Operation] = []
    for _applied, invoked, completed, client, kind, key, _, n in sorted(calls):
        current = store.get(key)
        conditional = kind in (Kind.PUT, Kind.DELETE) and current is not None and n % 3 == 0
        expected = (current[1] if n % 2 else current[1] + 1) if conditional and current else None
        value = f"c{client}-{n}"
        outcome, observed = Outcome.OK, None
        if expected is not None and (current is None or current[1] != expected):
            outcome = Outcome.PRECONDITION_FAILED
        elif kind is Kind.GET:
            if current is None:
                outcome = Outcome.NOT_FOUND
            else:
                observed = Observed(current[0], current[1])
        elif kind is Kind.CREATE and current is not None:
            outcome = Outcome.EXISTS
        elif kind is Kind.DELETE:
            if current is None:
                outcome = Outcome.NOT_FOUND
            else:
                observed = Observed(current[0], current[1])
                revision += 1
                del store[key]
        else:
            revision += 1
            store[key] = (value, revision)
            created = current is None
            observed = Observed(value, revision, created if kind is Kind.PUT else None)
        op = Operation(client, key, kind, invoked, completed, outcome, value, expected, observed)
        if rng.random() < unknown:
            op = op.unknown()
        history.append(op)
    return sorted(history, key=lambda op: op.invoked)


def with_stale_read(history: list[Operation]) -> list[Operation]:
    """`history` with one read, late in it, answering the value its key had two writes before."""
    reads = [i for i, op in enumerate(history) if op.kind is Kind.GET and op.observed]
    for i in reversed(reads):
        op = history[i]
        assert op.observed is not None
        older = [
            w
            for w in history[:i]
            if w.key == op.key
            and w.kind is Kind.PUT
            and w.observed is not None
            and w.observed.revision < op.observed.revision
            and w.completed < op.invoked
        ]
        if len(older) >= 2:
            stale = older[-2]
            assert stale.observed is not None
            broken = list(history)
            broken[i] = replace(
                op, observed=Observed(stale.observed.value, stale.observed.revision)
            )
            return broken
    raise ValueError("no read to make stale")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    history = simulated_history(args.operations, args.keys, args.clients)
    broken = with_stale_read(history)
    for run in range(1, args.runs + 1):
        started = time.perf_counter()
        verdict = check(history)
        accepted = time.perf_counter() - started
        started = time.perf_counter()
        rejected_verdict = check(broken)
        rejected = time.perf_counter() - started
        assert verdict.linearizable
        assert not rejected_verdict.linearizable
        window = min(len(v.operations) for v in rejected_verdict.violations)
        print(
            f"run {run}: {args.operations} operations, {args.keys} keys, {args.clients} clients "
            f"({verdict.unknown} unknown): accepted in {accepted:.2f} s, stale read rejected "
            f"in {rejected:.2f} s (window of {window} operations); target < {TARGET_SECONDS:.0f} s"
        )


if __name__ == "__main__":
    main()
