"""A linearizability checker for histories of a key-value store, one key per operation.

It checks single-key histories only: every operation reads or writes one
key (a register). A transaction, which reads and writes several keys at one
revision, is not an operation it knows; the `transactions` scenario checks
transactions with a property of their own instead (Jepsen's bank workload:
every atomic read of every account sees the same total).

A history is what concurrent clients saw: each operation (get, put,
conditional put, create, delete) with its invocation and completion times on
one monotonic clock and its result, revisions included. It is linearizable
when some total order of the operations, consistent with real time (an
operation that completed before another was invoked comes first), explains
every result by a store that applies one operation at a time.

How it decides (`check`):

1. P-compositionality (Herlihy & Wing's locality): a history is
   linearizable exactly when each key's sub-history is, so each key is
   searched on its own (`checker`). This keeps the search small.
2. Per key, Wing & Gong's search with Lowe's memoization, as Porcupine does
   it (`search`): call and return events in a linked list; linearize a
   pending call next if the model allows its result, otherwise backtrack;
   a cache of (linearized set as a bitmask, model state) cuts every branch
   that reaches a pair already explored.
3. The per-key model (`model`) checks each result: the value and revision a
   read returns, the revision and `created` flag of a put, not-found, exists
   and precondition-failed outcomes, the entry a delete returns. Revisions
   are store-wide, so one key's model cannot predict them: it takes each
   write's revision from its result and checks that it exceeds every
   revision the key had, and that reads return the revision of the write
   they see.
4. Across keys (`checker.revision_order`): every write that made a new
   revision got one no other write got, and above every revision any
   operation, on any key, had returned before the write was invoked.
   Revisions thus increase in real-time order store-wide.

Operations that ended `unavailable`, timed out or `outcome_unknown` count as
possibly applied: their completion time is infinity, and the model lets
each take effect at any point after its invocation, or not at all (a set
of model states, the power-set construction). A read whose answer never came
is left out.

On failure, each key's violation is narrowed to a minimal window
(`checker.minimal_window`): the earliest end and then the latest start for
which that stretch of history is not linearizable on its own, starting from
any state. `report` prints it one operation per line.

Speed (bench/linearizability.py, docs/proving.md): 20,000 operations by 8
clients on 4 keys are accepted in 0.2 s on a quiet 2-core machine (up to
1.6 s at load 5), and with one stale read rejected, minimal window
included, in 0.8 s (1.5 s at load 5).
"""

from testclient.linearizability.checker import Verdict, Violation, check
from testclient.linearizability.history import Kind, Observed, Operation, Outcome
from testclient.linearizability.report import describe_verdict, describe_violation

__all__ = [
    "Kind",
    "Observed",
    "Operation",
    "Outcome",
    "Verdict",
    "Violation",
    "check",
    "describe_verdict",
    "describe_violation",
]
