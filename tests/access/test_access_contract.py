"""The access-control contract, over every transport: each rule with no token, a wrong token,
a token without the right, and the right one; what needs no token; refusals logged and counted.

Through each transport's KVClient (which sends `KV_TOKEN` its protocol's way), so the same
rules are proven alike over HTTP, gRPC and RESP; `test_access_wire.py` checks each
protocol's exact answers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from testclient.client import AccessDenied, KVClient, NotFound, Rejected
from tests.access.secured import (
    ADMIN_TOKEN,
    APP_TOKEN,
    WRONG_TOKEN,
    client_with,
    serve_secured,
)
from tests.inprocess import TRANSPORT_NAMES, Served


@pytest.fixture(params=TRANSPORT_NAMES)
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve_secured(request.param, tmp_path) as served:
        yield served


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


async def first_event(kv: KVClient, prefix: str) -> Any:
    async for event in kv.watch(prefix):
        return event
    return None


@pytest.mark.parametrize("token", [None, WRONG_TOKEN, APP_TOKEN[:-1], APP_TOKEN + "x"])
async def test_without_a_valid_token_nothing_is_served(served: Served, token: str | None) -> None:
    async with client_with(served, token) as kv:
        with pytest.raises(AccessDenied):
            await kv.get("app/x")
        with pytest.raises(AccessDenied):
            await kv.put("app/x", 1)
        with pytest.raises(AccessDenied):
            await kv.list("app/")


async def test_a_write_rule_covers_writes_and_reads_under_its_prefix(served: Served) -> None:
    key = unique("app/")
    async with client_with(served, APP_TOKEN) as kv:
        assert (await kv.put(key, {"v": 1})).created
        assert (await kv.get(key)).value == {"v": 1}
        assert [entry.key for entry in (await kv.list("app/")).entries] == [key]
        await kv.delete(key)
        with pytest.raises(NotFound):  # allowed, and not there: the answer says so
            await kv.get(key)


async def test_a_read_rule_covers_reads_only(served: Served) -> None:
    key = unique("shared/")
    async with client_with(served, ADMIN_TOKEN) as admin:
        await admin.put(key, "s")
    async with client_with(served, APP_TOKEN) as kv:
        assert (await kv.get(key)).value == "s"
        assert [entry.key for entry in (await kv.list("shared/")).entries] == [key]
        with pytest.raises(AccessDenied):
            await kv.put(key, "changed")
        with pytest.raises(AccessDenied):
            await kv.delete(key)
        with pytest.raises(AccessDenied):
            await kv.create(unique("shared/"), 1)
    async with client_with(served, ADMIN_TOKEN) as admin:
        assert (await admin.get(key)).value == "s"  # nothing was changed


async def test_keys_and_prefixes_outside_every_rule_are_refused(served: Served) -> None:
    async with client_with(served, APP_TOKEN) as kv:
        for key in ("other", "ap", "shared", "Shared/x"):
            with pytest.raises(AccessDenied):
                await kv.get(key)
        # A listing needs a read rule that starts its prefix: "" and "app" are wider than app/.
        for prefix in ("", "app", "sh"):
            with pytest.raises(AccessDenied):
                await kv.list(prefix)


async def test_a_watch_needs_a_read_rule_over_its_prefix(served: Served) -> None:
    if served.client.transport == "resp":
        pytest.skip("RESP has no watch")
    key = unique("app/")
    async with client_with(served, ADMIN_TOKEN) as admin:
        written = await admin.put(key, 1)
    async with client_with(served, APP_TOKEN) as kv:
        for prefix in ("", "shared"):
            with pytest.raises(AccessDenied):
                await first_event(kv, prefix)
        event = await first_event_from(kv, "app/", written.entry.revision)
    assert (event.type, event.key) == ("put", key)


async def first_event_from(kv: KVClient, prefix: str, revision: int) -> Any:
    async for event in kv.watch(prefix, from_revision=revision):
        return event
    return None


async def test_every_refusal_is_one_auth_line_and_a_metric(
    served: Served, log_lines: list[dict[str, Any]]
) -> None:
    async with client_with(served, APP_TOKEN) as kv:
        with pytest.raises(AccessDenied):
            await kv.put("shared/denied", 1)
    async with client_with(served, WRONG_TOKEN) as kv:
        with pytest.raises((AccessDenied, Rejected)):
            await kv.get("app/x")
    lines = [line for line in log_lines if line["logger"] == "kv.auth"]
    assert [(line["reason"], line["principal"]) for line in lines] == [
        ("PermissionDenied", "app"),
        ("BadCredentials", "anonymous"),
    ]
    assert lines[0]["key"] == "shared/denied"
    assert lines[0]["operation"] == "write"
    assert all(line["peer"] and "127.0.0.1" in str(line["peer"]) for line in lines)
    for line in lines:
        assert APP_TOKEN not in str(line)
        assert WRONG_TOKEN not in str(line)
    metrics = served.app.observability.metrics.render().decode()
    transport = served.client.transport
    for reason in ("PermissionDenied", "BadCredentials"):
        series = f'kv_auth_refusals_total{{reason="{reason}",transport="{transport}"}} 1.0'
        assert series in metrics


async def test_a_transaction_needs_every_key_it_touches_in_either_branch(served: Served) -> None:
    key = unique("app/")
    async with client_with(served, ADMIN_TOKEN) as admin:
        await admin.put("shared/t", 1)
    async with client_with(served, APP_TOKEN) as kv:
        allowed = await kv.txn(
            {
                "compare": [{"key": "shared/t", "exists": True}],
                "success": [
                    {"op": "put", "key": key, "value": 1},
                    {"op": "get", "key": "shared/t"},
                ],
            }
        )
        assert allowed.succeeded
        denied = [
            {
                "success": [
                    {"op": "put", "key": key, "value": 2},
                    {"op": "put", "key": "shared/t", "value": 2},
                ]
            },
            # A branch that would not run still needs its keys.
            {
                "compare": [{"key": key, "exists": False}],
                "failure": [{"op": "delete", "key": "shared/t"}],
            },
            {"compare": [{"key": "other/x", "exists": False}]},
            {"success": [{"op": "get", "key": "other/x"}]},
        ]
        for request in denied:
            with pytest.raises(AccessDenied):
                await kv.txn(request)
    async with client_with(served, ADMIN_TOKEN) as admin:
        assert (await admin.get(key)).value == 1  # nothing of a refused transaction was done
        assert (await admin.get("shared/t")).value == 1
