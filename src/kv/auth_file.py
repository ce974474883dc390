"""The auth file (`KV_AUTH_FILE`): the principals, read from TOML, and their reload on SIGHUP.

    [[principal]]
    name = "deployer"
    token_sha256 = "<hex SHA-256 of the token>"     # the file never holds a token
    read = ["app/", "shared/"]                      # key prefixes; "" is every key
    write = ["app/config/"]                         # write implies read

A file that cannot be read or does not follow this shape raises
`AuthFileError` with one line saying where: at start-up kv-server stops
(exit 2, naming KV_AUTH_FILE); on reload the old principals stay in force.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from kv.domain import Guard, Principal, Principals
from kv.observability import get_logger

VARIABLE = "KV_AUTH_FILE"
FIELDS = frozenset({"name", "token_sha256", "read", "write"})

log = get_logger("kv.auth")


class AuthFileError(Exception):
    """The auth file cannot be read or is not a list of principals."""


def _prefixes(entry: dict[str, Any], field: str, where: str) -> list[str]:
    value = entry.get(field, [])
    if not isinstance(value, list) or not all(isinstance(rule, str) for rule in value):
        raise AuthFileError(f"{where}: {field} must be a list of key prefixes (strings)")
    return value


def _principal(entry: object, number: int) -> tuple[str, Principal]:
    where = f"principal {number}"
    if not isinstance(entry, dict):
        raise AuthFileError(f"{where}: not a table")
    unknown = sorted(set(entry) - FIELDS)
    if unknown:
        raise AuthFileError(f"{where}: unknown field {unknown[0]!r}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise AuthFileError(f"{where}: name must be a non-empty string")
    where = f"principal {name!r}"
    digest = entry.get("token_sha256")
    if not isinstance(digest, str) or len(digest) != 64:
        raise AuthFileError(f"{where}: token_sha256 must be 64 hex digits")
    try:
        bytes.fromhex(digest)
    except ValueError:
        raise AuthFileError(f"{where}: token_sha256 must be 64 hex digits") from None
    principal = Principal.of(
        name, read=_prefixes(entry, "read", where), write=_prefixes(entry, "write", where)
    )
    return digest.lower(), principal


def parse_auth_file(text: str) -> Principals:
    """The principals a file's text declares; AuthFileError when it is not as documented."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AuthFileError(f"not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"principal"})
    if unknown:
        raise AuthFileError(f"unknown table or key {unknown[0]!r} (expected [[principal]])")
    entries = document.get("principal", [])
    if not isinstance(entries, list):
        raise AuthFileError("principal must be an array of tables: [[principal]]")
    by_digest: dict[str, Principal] = {}
    names: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        digest, principal = _principal(entry, number)
        if principal.name in names:
            raise AuthFileError(f"principal {principal.name!r} is declared twice")
        if digest in by_digest:
            raise AuthFileError(f"principal {principal.name!r} has another principal's token")
        names.add(principal.name)
        by_digest[digest] = principal
    return Principals(by_digest)


def read_auth_file(path: Path) -> Principals:
    """The principals of the file at `path`; AuthFileError when unreadable or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthFileError(f"cannot read {path}: {exc}") from None
    return parse_auth_file(text)


class AuthFileReload:
    """Re-reads the auth file into the guard (a lifecycle reloadable, run on SIGHUP)."""

    name = VARIABLE

    def __init__(self, path: Path, guard: Guard) -> None:
        self._path = path
        self._guard = guard

    def reload(self) -> None:
        """Serve with the file's principals from now on; on an error, keep the old ones."""
        try:
            principals = read_auth_file(self._path)
        except AuthFileError as exc:
            log.error("auth file not reloaded; the previous principals stay", error=str(exc))
            return
        self._guard.replace(principals)
        log.info("auth file reloaded", principals=len(principals))
