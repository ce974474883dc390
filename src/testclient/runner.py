"""Running scenarios: one fresh client per run, timing, clean-up, and the RESULT document."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from testclient.checks import Check, Checks
from testclient.client import KVClientError, Unavailable
from testclient.scenarios import SCENARIOS, Connect, ScenarioContext

log = structlog.stdlib.get_logger("testclient.runner")


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """What one run of a scenario found. `error` is set when the KV service could not be
    reached: the scenario did not run to the end, so it neither passed nor truly failed."""

    test: str
    transport: str
    duration_ms: float
    checks: tuple[Check, ...]
    error: str | None = None

    @property
    def success(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.passed)

    def to_json(self) -> dict[str, Any]:
        """The RESULT document of the test-client API."""
        document: dict[str, Any] = {
            "test": self.test,
            "success": self.success,
            "transport": self.transport,
            "duration_ms": self.duration_ms,
            "checks": [check.to_json() for check in self.checks],
        }
        if self.error is not None:
            document["error"] = self.error
        return document


async def run_scenario(
    name: str,
    connect: Connect,
    parameters: Mapping[str, str] | None = None,
    *,
    replicas: Sequence[Connect] = (),
) -> ScenarioResult:
    """Run the scenario `name` (a key of SCENARIOS) once, on clients from `connect`,
    with its `parameters` (see ScenarioContext.parameters).

    `replicas` opens a client per replica of the service (the first is usually
    `connect` itself); none given: the service is the one `connect` reaches.
    """
    scenario = SCENARIOS[name]
    checks = Checks()
    error = None
    started = time.perf_counter()
    client = connect()
    transport = client.transport
    try:
        async with client:
            run = ScenarioContext(
                name, uuid.uuid4().hex[:12], client, checks, connect, parameters, replicas=replicas
            )
            try:
                await scenario(run)
            except Unavailable:
                raise
            except KVClientError as exc:
                # A step the scenario needs in order to go on failed: that is a
                # finding about the service like any other check.
                checks.record("every step ran", False, f"stopped by {type(exc).__name__}: {exc}")
            finally:
                await run.clean_up()
    except Unavailable as exc:
        error = f"KV service unavailable: {exc}"
    result = ScenarioResult(
        name,
        transport,
        round((time.perf_counter() - started) * 1000, 3),
        checks.all,
        error,
    )
    log.info(
        "scenario finished",
        test=name,
        success=result.success,
        transport=transport,
        duration_ms=result.duration_ms,
        failed_checks=[check.name for check in result.failed_checks],
        error=error,
    )
    return result


async def run_scenarios(
    names: list[str],
    connect: Connect,
    parameters: Mapping[str, str] | None = None,
    *,
    replicas: Sequence[Connect] = (),
) -> list[ScenarioResult]:
    """Run `names` one after another; stop after the first that could not reach the service."""
    results = []
    for name in names:
        result = await run_scenario(name, connect, parameters, replicas=replicas)
        results.append(result)
        if result.error is not None:
            break
    return results


def report(results: list[ScenarioResult]) -> dict[str, Any]:
    """The document of a run of several scenarios: `{"success", "results"}`, and `"error"`
    when the KV service could not be reached."""
    document: dict[str, Any] = {
        "success": bool(results) and all(result.success for result in results),
        "results": [result.to_json() for result in results],
    }
    errors = [result.error for result in results if result.error is not None]
    if errors:
        document["error"] = errors[0]
    return document
