"""The scenarios, by name: each proves one promise of the KV service through `KVClient` only.

Adding a scenario: one module with an `async def NAME(run: ScenarioContext)`
that records its checks on `run.checks`, and one line in `SCENARIOS`. It is
then served as `POST /test_NAME` and run by `kv-testclient run NAME`.
"""

from __future__ import annotations

from testclient.scenarios.conditional import conditional
from testclient.scenarios.context import Connect, Scenario, ScenarioContext
from testclient.scenarios.create_conflict import create_conflict
from testclient.scenarios.deletion import deletion
from testclient.scenarios.expiry import expiry
from testclient.scenarios.key_encoding import key_encoding
from testclient.scenarios.linearizability import linearizability
from testclient.scenarios.listing import listing
from testclient.scenarios.missing_key import missing_key
from testclient.scenarios.overwrite import overwrite
from testclient.scenarios.replicas import replicas
from testclient.scenarios.transactions import transactions
from testclient.scenarios.value_types import value_types
from testclient.scenarios.watch import watch

SCENARIOS: dict[str, Scenario] = {
    "deletion": deletion,
    "overwrite": overwrite,
    "create_conflict": create_conflict,
    "conditional": conditional,
    "missing_key": missing_key,
    "value_types": value_types,
    "key_encoding": key_encoding,
    "listing": listing,
    "expiry": expiry,
    "linearizability": linearizability,
    "replicas": replicas,
    "watch": watch,
    "transactions": transactions,
}

__all__ = ["SCENARIOS", "Connect", "Scenario", "ScenarioContext"]
