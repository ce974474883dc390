"""Wing & Gong's search for a linearization, with Lowe's memoization (as in Porcupine).

The history is a list of call and return events in time order, kept as a
doubly linked list. The search walks it from the front: at a call, it tries
to linearize that operation next (step the model; on success, take the call
and its return out of the list, push what to undo, restart from the front).
Reaching a return means the operation it ends was not linearized before it
returned: undo the last choice and try the next call after it. The history
is linearizable when the list empties, and is not when there is nothing left
to undo.

The memo is the set of (operations linearized so far as a bitmask, model
states) already reached: arriving there again by another order can lead
nowhere new, so that branch is cut. This keeps a linearizable history with
little concurrency close to linear time, and bounds the work on any history
by the number of distinct (bitmask, states) pairs.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence

from testclient.linearizability.history import Operation, Outcome
from testclient.linearizability.model import States, Step, step

PreparedSteps = MutableMapping[tuple[int, float, Outcome], Step]
"""Steps already made, by (client, invocation, outcome): one call of one client."""


def linearizable(
    ops: Sequence[Operation], initial: States, prepared: PreparedSteps | None = None
) -> bool:
    """Whether some order of `ops` consistent with real time explains every result.

    Operations whose outcome is unknown end at infinity, so they may take
    effect at any point after their invocation; the model lets them be no-ops.
    `prepared` keeps the steps made for one history across several searches.
    """
    count = len(ops)
    if count == 0:
        return True
    prepared = {} if prepared is None else prepared
    steps = []
    for op in ops:
        made = prepared.get((op.client, op.invoked, op.outcome))
        if made is None:
            made = prepared[(op.client, op.invoked, op.outcome)] = Step.of(op)
        steps.append(made)
    # Events: (time, 0 for a call / 1 for a return, op). A call at the same
    # instant as a return sorts first: the two count as concurrent.
    events = sorted(
        [(op.invoked, 0, i) for i, op in enumerate(ops)]
        + [(op.completed, 1, i) for i, op in enumerate(ops)]
    )
    # Node 0 is the head sentinel; event n is node n + 1.
    size = len(events) + 1
    nxt = [*range(1, size), 0]
    prv = [size - 1, *range(0, size - 1)]
    is_call = [False] * size
    op_of = [0] * size
    partner = [0] * size
    call_node = [0] * count
    for node, (_, kind, i) in enumerate(events, start=1):
        op_of[node] = i
        if kind == 0:
            is_call[node] = True
            call_node[i] = node
        else:
            partner[call_node[i]] = node
    nxt[size - 1] = 0

    def lift(node: int) -> None:
        for n in (node, partner[node]):
            nxt[prv[n]] = nxt[n]
            prv[nxt[n]] = prv[n]

    def unlift(node: int) -> None:
        for n in (partner[node], node):
            nxt[prv[n]] = n
            prv[nxt[n]] = n

    seen: set[tuple[int, States]] = set()
    undo: list[tuple[int, States, int]] = []
    states, linearized = initial, 0
    node = nxt[0]
    while nxt[0] != 0:
        if is_call[node]:
            i = op_of[node]
            after = step(states, steps[i])
            if after:
                marked = linearized | (1 << i)
                if (marked, after) not in seen:
                    seen.add((marked, after))
                    undo.append((node, states, linearized))
                    states, linearized = after, marked
                    lift(node)
                    node = nxt[0]
                    continue
            node = nxt[node]
        else:
            if not undo:
                return False
            node, states, linearized = undo.pop()
            unlift(node)
            node = nxt[node]
    return True
