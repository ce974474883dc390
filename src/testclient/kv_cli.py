"""`kv`: put, get, delete, list, watch, txn, backup and restore, over any transport in `CLIENTS`.

Prints the resulting entry as JSON (with `"ttl"`, the seconds left, when it
expires); `kv list` prints one entry per line (JSON Lines), following every
page to the end; `kv watch` prints one line per change as it happens
(`{"event": "put"|"delete", "key", "value", "revision"}`, plus `"expired"`
or `"ttl"`) until interrupted or the server ends the stream; `kv txn FILE`
(`-`: standard input) sends the body of `POST /v1/txn` and prints its answer
(`{"succeeded", "revision", "results"}`). `kv backup FILE` saves a snapshot
of the whole store (always over HTTP: KV_URL) and prints `{"file",
"revision", "entries"}`; `kv restore FILE` writes one into the store and
prints `{"file", "written", "present", "expired"}` (see backup.py,
restore.py). Exit 0 ok; 1 not found, conflict, precondition failed, a
transaction whose compares failed, a restore refused (the store is not
empty) or not found whole in the store after; 2 usage error, a broken
snapshot, or the service could not be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from testclient.backup import backup
from testclient.client import (
    AlreadyExists,
    KVClient,
    KVClientError,
    KVEntry,
    KVEvent,
    NotFound,
    PreconditionFailed,
    Written,
)
from testclient.config import (
    ClientSettings,
    ConfigError,
    add_transport_options,
    connect,
    with_options,
)
from testclient.http_client import HttpKVClient
from testclient.restore import DEFAULT_CONCURRENCY, RestoreMismatch, StoreNotEmpty, restore

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2
LIST_PAGE_SIZE = 1000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kv",
        description="Talk to a kv-server.",
        epilog="TLS: https:// and rediss:// URLs; KV_TLS_CA_FILE (the server's CA; gRPC then "
        "speaks TLS), KV_TLS_CLIENT_CERT_FILE and KV_TLS_CLIENT_KEY_FILE for mutual TLS.",
    )
    add_transport_options(parser, replicas_help="of a comma list the first")
    parser.add_argument("--if-revision", type=int, help="only if the entry is at this revision")
    commands = parser.add_subparsers(dest="command", required=True)
    put = commands.add_parser("put", help="create or replace: kv put KEY JSON [--ttl S]")
    put.add_argument("key")
    put.add_argument("value", help="the value as JSON text, e.g. '\"hello\"' or '{\"a\": 1}'")
    create = commands.add_parser("create", help="create only: kv create KEY JSON [--ttl S]")
    create.add_argument("key")
    create.add_argument("value")
    for writer in (put, create):
        writer.add_argument(
            "--ttl", type=int, metavar="S", help="expire after S seconds (1 to 31536000)"
        )
    commands.add_parser("get", help="read: kv get KEY").add_argument("key")
    commands.add_parser("delete", help="delete: kv delete KEY").add_argument("key")
    listing = commands.add_parser("list", help="the keys under a prefix: kv list [PREFIX]")
    listing.add_argument("prefix", nargs="?", default="", help="default: every key")
    listing.add_argument("--keys-only", action="store_true", help="keys and revisions only")
    listing.add_argument(
        "--page-size", type=int, default=LIST_PAGE_SIZE, help="entries per request (1 to 1000)"
    )
    watch = commands.add_parser("watch", help="follow changes: kv watch [PREFIX]")
    watch.add_argument("prefix", nargs="?", default="", help="default: every key")
    watch.add_argument(
        "--from-revision", type=int, metavar="R", help="start with the change at revision R"
    )
    txn = commands.add_parser("txn", help="a transaction: kv txn FILE (- : standard input)")
    txn.add_argument("file", help='the body of POST /v1/txn as JSON: {"compare": [...], ...}')
    saved = commands.add_parser("backup", help="save a snapshot of every key: kv backup FILE")
    saved.add_argument("file", type=Path, help="where to save it (JSON lines)")
    loaded = commands.add_parser("restore", help="write a snapshot into the store: kv restore FILE")
    loaded.add_argument("file", type=Path, help="a snapshot saved by kv backup")
    loaded.add_argument("--force", action="store_true", help="even if the store holds keys")
    loaded.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"writes in flight at once (default {DEFAULT_CONCURRENCY})",
    )
    return parser


def _read_transaction(path: str) -> Any:
    """The transaction document in `path` (`-`: standard input); exits 2 if it is not JSON."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        return json.loads(text)
    except (OSError, ValueError) as exc:
        print(f"kv: cannot read the transaction from {path}: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _event_document(event: KVEvent) -> dict[str, Any]:
    """A change as the HTTP API's event data shows it, with its type."""
    document: dict[str, Any] = {"event": event.type, "key": event.key}
    if event.type == "put":
        document["value"] = event.value
    document["revision"] = event.revision
    if event.expired:
        document["expired"] = True
    if event.ttl is not None:
        document["ttl"] = event.ttl
    return document


def _document(entry: KVEntry, *, keys_only: bool = False) -> dict[str, Any]:
    """An entry as the HTTP API shows it."""
    if keys_only:
        return {"key": entry.key, "revision": entry.revision}
    document = {"key": entry.key, "value": entry.value, "revision": entry.revision}
    if entry.ttl is not None:
        document["ttl"] = entry.ttl
    return document


async def _listed(client: KVClient, args: argparse.Namespace) -> AsyncIterator[dict[str, Any]]:
    """Every entry under the prefix, page after page, as documents."""
    cursor = None
    while True:
        page = await client.list(
            args.prefix, limit=args.page_size, cursor=cursor, keys_only=args.keys_only
        )
        for entry in page.entries:
            yield _document(entry, keys_only=args.keys_only)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def _backup_or_restore(args: argparse.Namespace, settings: ClientSettings) -> None:
    document: dict[str, Any] = {"file": str(args.file)}
    if args.command == "backup":
        async with connect(settings, "http") as http:
            assert isinstance(http, HttpKVClient)  # the snapshot is HTTP's alone
            header = await backup(http, args.file)
        document |= {"revision": header.revision, "entries": header.entries}
    else:
        async with connect(settings) as client:
            restored = await restore(
                client, args.file, force=args.force, concurrency=args.concurrency
            )
        document |= {
            "written": restored.written,
            "present": restored.present,
            "expired": restored.expired,
        }
    print(json.dumps(document, ensure_ascii=False))


async def _run(args: argparse.Namespace, settings: ClientSettings, value: Any) -> int:
    """Carry out the command and print what it answers, one JSON document a line; the exit."""
    if args.command in ("backup", "restore"):
        await _backup_or_restore(args, settings)
        return EXIT_OK
    async with connect(settings) as client:
        if args.command == "txn":
            done = await client.txn(value)
            answer = {"succeeded": done.succeeded, "revision": done.revision}
            print(json.dumps({**answer, "results": list(done.results)}, ensure_ascii=False))
            return EXIT_OK if done.succeeded else EXIT_NO
        if args.command == "list":
            async for listed in _listed(client, args):
                print(json.dumps(listed, ensure_ascii=False))
            return EXIT_OK
        if args.command == "watch":
            async for event in client.watch(args.prefix, from_revision=args.from_revision):
                print(json.dumps(_event_document(event), ensure_ascii=False), flush=True)
            return EXIT_OK
        result: KVEntry | Written
        if args.command == "put":
            result = await client.put(
                args.key, value, expected_revision=args.if_revision, ttl=args.ttl
            )
        elif args.command == "create":
            result = await client.create(args.key, value, ttl=args.ttl)
        elif args.command == "get":
            result = await client.get(args.key)
        else:
            result = await client.delete(args.key, expected_revision=args.if_revision)
    entry = result.entry if isinstance(result, Written) else result
    document = _document(entry)
    if isinstance(result, Written):
        document["created"] = result.created
    print(json.dumps(document, ensure_ascii=False))
    return EXIT_OK


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)  # first: --help needs no valid environment
    try:
        settings = with_options(ClientSettings.from_env(), args)
    except ConfigError as exc:
        print(f"kv: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    value = None
    if args.command in ("put", "create"):
        try:
            value = json.loads(args.value)
        except ValueError as exc:
            print(f"kv: VALUE is not JSON ({exc}); quote strings: '\"hello\"'", file=sys.stderr)
            sys.exit(EXIT_USAGE)
    if args.command == "restore" and args.concurrency < 1:
        print("kv: --concurrency must be at least 1", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    if args.command == "txn":
        value = _read_transaction(args.file)
    status = EXIT_OK
    try:
        status = asyncio.run(_run(args, settings, value))
    except KeyboardInterrupt:  # the way to stop `kv watch`
        pass
    except OSError as exc:  # the backup or restore file
        print(f"kv: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except (
        NotFound,
        AlreadyExists,
        PreconditionFailed,
        StoreNotEmpty,
        RestoreMismatch,
    ) as exc:
        print(f"kv: {exc}", file=sys.stderr)
        sys.exit(EXIT_NO)
    except KVClientError as exc:
        print(f"kv: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    sys.exit(status)
