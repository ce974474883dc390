"""Histories and violations as text a person can follow, one operation a line.

    client 2  +1.204..+1.209 s  put k0 "c2-17" if rev 41  -> ok rev 44
    client 0  +1.205..+1.207 s  get k0                  -> "c1-9" rev 40

Times are seconds since the first invocation of the history; `..?` marks an
operation whose outcome its client never learned.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from testclient.linearizability.checker import Verdict, Violation
from testclient.linearizability.history import Kind, Operation, Outcome

VALUE_LIMIT = 40
SHOWN_OPERATIONS = 40
SHOWN_VIOLATIONS = 3


def _text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_LIMIT else text[:VALUE_LIMIT] + "..."


def describe_operation(op: Operation, origin: float, *, key: bool = True) -> str:
    """One operation: who, when, what it asked (its key too unless `key` is false), what it got."""
    ended = "?" if math.isinf(op.completed) else f"{op.completed - origin:+.4f}"
    call = f"{op.kind.value} {op.key}" if key else op.kind.value
    if op.kind in (Kind.PUT, Kind.CREATE):
        call += f" {_text(op.value)}"
    if op.expected_revision is not None:
        call += f" if rev {op.expected_revision}"
    if op.outcome is Outcome.OK:
        assert op.observed is not None
        got = f"{_text(op.observed.value)} rev {op.observed.revision}"
        if op.kind is Kind.PUT:
            got = f"{'created' if op.observed.created else 'replaced'} {got}"
        elif op.kind is Kind.DELETE:
            got = f"deleted {got}"
    else:
        got = op.outcome.value
    return f"client {op.client}  {op.invoked - origin:+.4f}..{ended} s  {call}  -> {got}"


def describe_violation(violation: Violation, origin: float) -> str:
    """The reason, then the operations of the window in invocation order."""
    lines = [violation.reason + ":"]
    one_key = len({op.key for op in violation.operations}) == 1
    shown = sorted(enumerate(violation.operations), key=lambda item: item[1].invoked)
    for index, op in shown[:SHOWN_OPERATIONS]:
        note = "  (straddles the window: counted as possibly applied)"
        line = describe_operation(op, origin, key=not one_key)
        lines.append("  " + line + (note if index in violation.ignored else ""))
    hidden = len(violation.operations) - SHOWN_OPERATIONS
    if hidden > 0:
        lines.append(f"  ... and {hidden} more operations")
    return "\n".join(lines)


def describe_verdict(verdict: Verdict, history: Sequence[Operation], note: str = "") -> str:
    """What was checked (and `note`) and, when some part is not linearizable, the first
    violations."""
    origin = min((op.invoked for op in history), default=0.0)
    head = (
        f"{verdict.operations} operations ({verdict.unknown} with unknown outcome) "
        f"of {verdict.clients} clients on {verdict.keys} keys{note}"
    )
    if verdict.linearizable:
        return head + ": linearizable"
    parts = [f"{head}: NOT linearizable ({len(verdict.violations)} violations)"]
    parts += [describe_violation(v, origin) for v in verdict.violations[:SHOWN_VIOLATIONS]]
    if len(verdict.violations) > SHOWN_VIOLATIONS:
        parts.append(f"... and {len(verdict.violations) - SHOWN_VIOLATIONS} more violations")
    return "\n".join(parts)
