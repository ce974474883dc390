"""`kv-server token NAME [--read P]... [--write P]...`: a new token and its auth-file entry.

Prints the token (to give to the client; it is stored nowhere) and the
`[[principal]]` table holding its SHA-256, to paste into the auth file
(`KV_AUTH_FILE`), then `kill -HUP` the server to load it.
"""

from __future__ import annotations

import argparse
import json
import secrets

from kv.domain.access import token_digest

# 32 random bytes: 256 bits, 43 URL-safe characters.
TOKEN_BYTES = 32


def _toml_list(prefixes: list[str]) -> str:
    # A JSON string is a TOML basic string (the same escapes).
    return "[" + ", ".join(json.dumps(prefix) for prefix in prefixes) + "]"


def principal_entry(name: str, digest: str, read: list[str], write: list[str]) -> str:
    """The `[[principal]]` table for the auth file."""
    return (
        "[[principal]]\n"
        f"name = {json.dumps(name)}\n"
        f'token_sha256 = "{digest}"\n'
        f"read = {_toml_list(read)}\n"
        f"write = {_toml_list(write)}\n"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="kv-server token",
        description="Make a new random token and print it with the [[principal]] entry "
        "(holding only its SHA-256) to paste into the auth file (KV_AUTH_FILE).",
    )
    parser.add_argument("name", help="the principal's name (logged with each refusal)")
    parser.add_argument(
        "--read",
        action="append",
        default=[],
        metavar="PREFIX",
        help='a key prefix it may read ("" is every key); repeat for several',
    )
    parser.add_argument(
        "--write",
        action="append",
        default=[],
        metavar="PREFIX",
        help="a key prefix it may write (and read); repeat for several",
    )
    arguments = parser.parse_args(argv)
    if not arguments.name:
        parser.error("NAME must not be empty")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    print(f"# The token: give it to the client (KV_TOKEN); it is not stored anywhere.\n{token}\n")
    print("# Paste into the auth file (KV_AUTH_FILE), then send kv-server SIGHUP:")
    print(principal_entry(arguments.name, token_digest(token), arguments.read, arguments.write))
    return 0
