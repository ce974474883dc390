"""`kv`: put, get and delete from the shell, over HTTP or gRPC.

Prints the resulting entry as JSON. Exit 0 ok; 1 not found, conflict or
precondition failed; 2 usage error or the service could not be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace
from typing import Any

from testclient.client import (
    AlreadyExists,
    KVClientError,
    KVEntry,
    NotFound,
    PreconditionFailed,
    Written,
)
from testclient.config import CLIENTS, ClientSettings, ConfigError, connect

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


def _parser(settings: ClientSettings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kv", description="Talk to a kv-server.")
    parser.add_argument("--transport", choices=tuple(CLIENTS), default=settings.transport)
    parser.add_argument(
        "--url", default=settings.kv_url, help="HTTP base URL (KV_URL; of a comma list, the first)"
    )
    parser.add_argument(
        "--target", default=settings.grpc_target, help="gRPC host:port (KV_GRPC_TARGET)"
    )
    parser.add_argument("--if-revision", type=int, help="only if the entry is at this revision")
    commands = parser.add_subparsers(dest="command", required=True)
    put = commands.add_parser("put", help="create or replace: kv put KEY JSON")
    put.add_argument("key")
    put.add_argument("value", help="the value as JSON text, e.g. '\"hello\"' or '{\"a\": 1}'")
    create = commands.add_parser("create", help="create only: kv create KEY JSON")
    create.add_argument("key")
    create.add_argument("value")
    commands.add_parser("get", help="read: kv get KEY").add_argument("key")
    commands.add_parser("delete", help="delete: kv delete KEY").add_argument("key")
    return parser


async def _run(args: argparse.Namespace, settings: ClientSettings, value: Any) -> Any:
    async with connect(settings, args.transport) as client:
        result: KVEntry | Written
        if args.command == "put":
            result = await client.put(args.key, value, expected_revision=args.if_revision)
        elif args.command == "create":
            result = await client.create(args.key, value)
        elif args.command == "get":
            result = await client.get(args.key)
        else:
            result = await client.delete(args.key, expected_revision=args.if_revision)
    entry = result.entry if isinstance(result, Written) else result
    document: dict[str, Any] = {"key": entry.key, "value": entry.value, "revision": entry.revision}
    if isinstance(result, Written):
        document["created"] = result.created
    return document


def main(argv: list[str] | None = None) -> None:
    try:
        settings = ClientSettings.from_env()
    except ConfigError as exc:
        print(f"kv: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    args = _parser(settings).parse_args(argv)
    settings = replace(settings, kv_url=args.url, grpc_target=args.target)
    value = None
    if args.command in ("put", "create"):
        try:
            value = json.loads(args.value)
        except ValueError as exc:
            print(f"kv: VALUE is not JSON ({exc}); quote strings: '\"hello\"'", file=sys.stderr)
            sys.exit(EXIT_USAGE)
    try:
        document = asyncio.run(_run(args, settings, value))
    except (NotFound, AlreadyExists, PreconditionFailed) as exc:
        print(f"kv: {exc}", file=sys.stderr)
        sys.exit(EXIT_NO)
    except KVClientError as exc:
        print(f"kv: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    print(json.dumps(document, ensure_ascii=False))
    sys.exit(EXIT_OK)
