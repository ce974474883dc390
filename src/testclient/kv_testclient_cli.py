"""`kv-testclient`: serve the test-client API, or run scenarios once: `kv-testclient run`.

`run` prints a result per scenario (each failed check with what was expected
and what was observed; `--json` for machines) and exits 0 when all passed,
1 when a scenario failed, 2 when the KV service could not be reached, a name
is unknown or a setting is bad.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from functools import partial

from testclient.config import (
    ClientSettings,
    ConfigError,
    add_transport_options,
    connect,
    replicas,
    with_options,
)
from testclient.logs import configure_logging
from testclient.runner import ScenarioResult, report, run_scenarios
from testclient.scenarios import SCENARIOS, Connect
from testclient.service import serve

# 2 also stands for a usage or configuration error: nothing was proven either way.
EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kv-testclient",
        description="Prove a kv-server right: serve the test-client API, or run scenarios once.",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the test-client API on TESTCLIENT_PORT (default)")
    run = commands.add_parser("run", help="run scenarios once and print their results")
    run.add_argument("names", nargs="*", metavar="NAME", help="scenarios to run (default: all)")
    run.add_argument("--json", action="store_true", help="print one JSON document")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a scenario parameter, e.g. --set seconds=10 (linearizability)",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="list passed checks too")
    add_transport_options(run, replicas_help="or a comma list of replicas")
    return parser


def describe_result(result: ScenarioResult, *, verbose: bool = False) -> str:
    """A result as text: one line, then each failed check with expected and observed."""
    where = f"{result.test} over {result.transport}"
    if result.error is not None:
        return f"ERROR {where}: {result.error}"
    failed = result.failed_checks
    if failed:
        head = f"FAIL  {where}: {len(failed)} of {len(result.checks)} checks failed"
    else:
        head = f"PASS  {where}: {len(result.checks)} checks"
    lines = [f"{head} ({result.duration_ms:.0f} ms)"]
    for check in result.checks if verbose else failed:
        lines.append(f"  {'ok  ' if check.passed else 'FAIL'} {check.name}")
        lines.append(f"         {check.detail}")
    return "\n".join(lines)


def _exit_status(results: list[ScenarioResult]) -> int:
    if any(result.error is not None for result in results):
        return EXIT_ERROR
    if all(result.success for result in results):
        return EXIT_PASSED
    return EXIT_FAILED


def _run(args: argparse.Namespace, settings: ClientSettings) -> int:
    unknown = [name for name in args.names if name not in SCENARIOS]
    if unknown:
        print(
            f"kv-testclient: unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    parameters = dict(item.partition("=")[::2] for item in args.set)
    settings = with_options(settings, args)
    names = args.names or list(SCENARIOS)
    results = asyncio.run(
        run_scenarios(
            names,
            lambda: connect(settings),
            parameters,
            replicas=_connect_each(replicas(settings), settings.transport),
        )
    )
    if args.json:
        print(json.dumps(report(results), ensure_ascii=False, indent=2))
    else:
        for result in results:
            print(describe_result(result, verbose=args.verbose))
        passed = sum(result.success for result in results)
        print(f"{passed} of {len(results)} scenarios passed")
    return _exit_status(results)


def _connect_each(each: tuple[ClientSettings, ...], transport: str) -> list[Connect]:
    return [partial(connect, replica, transport) for replica in each]


async def _serve(settings: ClientSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(settings, stop)


def main(argv: list[str] | None = None) -> None:
    try:
        args = _parser().parse_args(argv)  # first: --help needs no valid environment
        settings = ClientSettings.from_env()
        if args.command == "run":
            configure_logging("WARNING")
            sys.exit(_run(args, settings))
        configure_logging("INFO")
        asyncio.run(_serve(settings))
    except ConfigError as exc:
        print(f"kv-testclient: {exc}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
