"""The access decision, the principals' table, the auth file and `kv-server token`."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kv.adapters.memory import InMemoryStore
from kv.auth_file import AuthFileError, AuthFileReload, parse_auth_file
from kv.domain import (
    Access,
    BadCredentials,
    Guard,
    KeyValueService,
    PermissionDenied,
    Principal,
    Principals,
    ProtectedMode,
    Unauthenticated,
    decide,
)
from kv.domain import access as access_module
from kv.domain.access import is_loopback, token_digest

APP = Principal.of("app", read=["shared/"], write=["app/"])


@pytest.mark.parametrize(
    ("access", "key", "allowed"),
    [
        (Access.READ, "app/x", True),  # write implies read
        (Access.WRITE, "app/x", True),
        (Access.READ, "shared/x", True),
        (Access.WRITE, "shared/x", False),
        (Access.READ, "other", False),
        (Access.READ, "app", False),  # the rule must start the key, not the other way round
        (Access.READ, "", False),  # a listing of everything needs the "" rule
        (Access.READ, "app/", True),  # a listing of app/
    ],
)
def test_a_rule_must_start_the_key_or_prefix(access: Access, key: str, allowed: bool) -> None:
    assert decide(APP, access, key) is allowed


def test_the_empty_rule_covers_every_key() -> None:
    admin = Principal.of("admin", write=[""])
    assert decide(admin, Access.WRITE, "anything")
    assert decide(admin, Access.READ, "")


def table(*entries: tuple[str, Principal]) -> Principals:
    return Principals({token_digest(token): principal for token, principal in entries})


def test_a_token_is_found_by_its_hash() -> None:
    principals = table(("t0ken", APP))
    assert principals.find("t0ken") is APP
    assert principals.find("t0ke") is None
    assert principals.find("t0ken ") is None


def test_lookup_is_one_hash_and_a_constant_time_comparison() -> None:
    """Structural, not timed: `find` hashes the presented token once, looks the digest up in a
    dict, and compares with hmac.compare_digest; it never walks the principals."""
    source = inspect.getsource(Principals.find)
    tree = ast.parse(source.strip())
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert "hmac.compare_digest" in calls
    assert "self._by_digest.get" in calls
    assert not any(isinstance(node, (ast.For, ast.comprehension)) for node in ast.walk(tree))
    assert "hmac" in vars(access_module)


def test_admit_with_access_control_on() -> None:
    guard = Guard(table(("t0ken", APP)))
    assert guard.admit("t0ken", "10.0.0.1") is APP
    with pytest.raises(Unauthenticated) as none:
        guard.admit(None, "127.0.0.1")
    assert not isinstance(none.value, BadCredentials)
    with pytest.raises(BadCredentials) as wrong:
        guard.admit("secret-guess", "127.0.0.1")
    assert "secret-guess" not in str(wrong.value)


@pytest.mark.parametrize(
    ("peer", "served"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.231.1.1", False),
        ("::ffff:10.0.0.1", False),
        ("", False),
        (None, False),
        ("not an address", False),
    ],
)
def test_protected_mode_serves_loopback_only(peer: str | None, served: bool) -> None:
    guard = Guard(protected=True)
    if served:
        assert guard.admit(None, peer) is None
    else:
        with pytest.raises(ProtectedMode, match=r"KV_AUTH_FILE.*KV_PROTECTED_MODE=false"):
            guard.admit(None, peer)
    assert is_loopback(peer) is served


def test_without_protected_mode_anyone_is_served() -> None:
    assert Guard(protected=False).admit(None, "10.231.1.1") is None


async def test_the_service_asks_the_guard_for_every_operation() -> None:
    guard = Guard(table(("t0ken", APP)))
    service = KeyValueService(InMemoryStore(), guard=guard)
    await service.start()
    try:
        with pytest.raises(Unauthenticated):  # no caller bound: refused, not let through
            await service.get("app/x")
        with guard.acting_as(APP):
            await service.put("app/x", 1)
            assert (await service.get("app/x")).value == 1
            assert [e.key for e in (await service.list("app/")).entries] == ["app/x"]
            for denied in (
                service.put("shared/x", 1),
                service.create("other", 1),
                service.delete("shared/x"),
                service.get("other"),
                service.list(""),
                service.watch("sh"),
            ):
                with pytest.raises(PermissionDenied) as refused:
                    await denied
                assert refused.value.principal == "app"
            guard.require_all([(Access.READ, "shared/a"), (Access.WRITE, "app/b")])
            with pytest.raises(PermissionDenied) as txn:
                guard.require_all([(Access.WRITE, "app/b"), (Access.WRITE, "shared/a")])
            assert (txn.value.operation, txn.value.key) == ("write", "shared/a")
    finally:
        await service.stop()


ENTRY = f"""
[[principal]]
name = "app"
token_sha256 = "{token_digest("t0ken")}"
read = ["shared/"]
write = ["app/"]
"""


def test_the_auth_file_declares_principals() -> None:
    principals = parse_auth_file(ENTRY)
    assert principals.find("t0ken") == APP
    assert len(parse_auth_file("")) == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[[principal]\n", "not valid TOML"),
        ('[[principal]]\nname = "a"\n', "token_sha256"),
        (ENTRY.replace(token_digest("t0ken"), "xyz"), "token_sha256"),
        (ENTRY + 'token = "t0ken"\n', "unknown field 'token'"),
        (ENTRY.replace('["shared/"]', '"shared/"'), "read must be a list"),
        (ENTRY + ENTRY, "declared twice"),
        (ENTRY + ENTRY.replace('"app"', '"other"'), "another principal's token"),
        ("[users]\nx = 1\n", "unknown table"),
        ('[[principal]]\nname = ""\n', "name"),
    ],
)
def test_a_malformed_auth_file_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(AuthFileError, match=problem) as refused:
        parse_auth_file(text)
    assert "t0ken" not in str(refused.value)


def test_a_reload_keeps_the_old_principals_when_the_file_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "auth.toml"
    path.write_text(ENTRY)
    guard = Guard(parse_auth_file(ENTRY))
    reload = AuthFileReload(path, guard)
    path.write_text("[[principal]")
    reload.reload()
    assert guard.admit("t0ken", None) == APP
    path.write_text(ENTRY.replace(token_digest("t0ken"), token_digest("n3w")))
    reload.reload()
    assert guard.admit("n3w", None) == APP
    with pytest.raises(BadCredentials):
        guard.admit("t0ken", None)


def test_kv_server_token_prints_a_token_and_its_entry() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kv.server",
            "token",
            "deployer",
            "--read",
            "app/",
            "--write",
            "app/config/",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = [line for line in done.stdout.splitlines() if line and not line.startswith("#")]
    token = lines[0]
    entry = tomllib.loads("\n".join(lines[1:]))["principal"][0]
    assert entry == {
        "name": "deployer",
        "token_sha256": token_digest(token),
        "read": ["app/"],
        "write": ["app/config/"],
    }
    assert len(token) >= 40
    principals = parse_auth_file("\n".join(lines[1:]))
    assert principals.find(token) == Principal.of("deployer", read=["app/"], write=["app/config/"])


def test_settings_read_the_auth_file_and_protected_mode() -> None:
    from kv.bootstrap import read_settings
    from kv.config import ConfigError

    assert read_settings({}).auth_file is None
    assert read_settings({}).protected_mode is True
    settings = read_settings({"KV_AUTH_FILE": "/etc/kv/auth.toml", "KV_PROTECTED_MODE": "false"})
    assert settings.auth_file == Path("/etc/kv/auth.toml")
    assert settings.protected_mode is False
    with pytest.raises(ConfigError) as bad:
        read_settings({"KV_PROTECTED_MODE": "maybe"})
    assert bad.value.variable == "KV_PROTECTED_MODE"


def test_an_auth_file_turns_protected_mode_off(tmp_path: Path) -> None:
    from kv.bootstrap import build_guard
    from kv.config import Settings

    path = tmp_path / "auth.toml"
    path.write_text(ENTRY)
    guard, reloadables = build_guard(Settings(auth_file=path, protected_mode=True))
    assert guard.enabled
    assert not guard.protected
    assert [reloadable.name for reloadable in reloadables] == ["KV_AUTH_FILE"]
    open_guard, none = build_guard(Settings(protected_mode=False))
    assert (open_guard.enabled, open_guard.protected, none) == (False, False, ())
