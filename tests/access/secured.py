"""A service served in-process with an auth file, and the principals the access tests use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from kv.domain.access import token_digest
from testclient.client import KVClient
from testclient.config import connect
from tests.inprocess import Served, serve_in_process

# name -> (token, read rules, write rules)
PRINCIPALS = {
    "app": ("app-token-0123456789abcdef", ["shared/"], ["app/"]),
    "admin": ("admin-token-0123456789abcd", [], [""]),
}
APP_TOKEN = PRINCIPALS["app"][0]
ADMIN_TOKEN = PRINCIPALS["admin"][0]
# As long as a real token, and no principal's.
WRONG_TOKEN = "x" * len(APP_TOKEN)


def auth_file_text(principals: dict[str, tuple[str, list[str], list[str]]]) -> str:
    entries = []
    for name, (token, read, write) in principals.items():
        entries.append(
            f'[[principal]]\nname = "{name}"\ntoken_sha256 = "{token_digest(token)}"\n'
            f"read = {read!r}\nwrite = {write!r}\n".replace("'", '"')
        )
    return "\n".join(entries)


def write_auth_file(directory: Path, principals: dict[str, Any] | None = None) -> Path:
    path = directory / "auth.toml"
    path.write_text(auth_file_text(PRINCIPALS if principals is None else principals))
    return path


@asynccontextmanager
async def serve_secured(transport: str, directory: Path, **settings: Any) -> AsyncIterator[Served]:
    """The service over `transport` with the auth file of PRINCIPALS; its client sends no token."""
    async with serve_in_process(
        transport, auth_file=write_auth_file(directory), **settings
    ) as served:
        yield served


def client_with(served: Served, token: str | None) -> KVClient:
    """A new client of `served` sending `token` (call inside the event loop; close it)."""
    return connect(replace(served.client_settings, token=token))
