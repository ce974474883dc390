"""HTTP's own answers to access control: 401 with the `WWW-Authenticate` challenge, 403, what
needs no token, and tokens in odd places (query string, cookie, two headers, a huge header)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.access.secured import ADMIN_TOKEN, APP_TOKEN, WRONG_TOKEN, serve_secured
from tests.inprocess import Served

CHALLENGE = 'Bearer realm="kv"'

# HTTP


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[tuple[Served, aiohttp.ClientSession]]:
    async with serve_secured("http", tmp_path) as served, aiohttp.ClientSession() as session:
        yield served, session


def url(served: Served, path: str) -> str:
    return f"http://127.0.0.1:{served.settings.ports['http']}{path}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(
    http: tuple[Served, aiohttp.ClientSession],
    method: str,
    path: str,
    headers: object = None,
    **options: object,
) -> tuple[int, dict[str, str], str]:
    served, session = http
    async with session.request(method, url(served, path), headers=headers, **options) as answer:  # type: ignore[arg-type]
        return answer.status, dict(answer.headers), await answer.text()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer(WRONG_TOKEN),
        {"Authorization": f"Basic {APP_TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": APP_TOKEN},
    ],
)
async def test_http_no_or_unknown_token_is_401_with_the_challenge(
    http: tuple[Served, aiohttp.ClientSession], headers: dict[str, str]
) -> None:
    status, answer_headers, body = await call(http, "GET", "/v1/kv/app/x", headers)
    assert status == 401
    assert answer_headers["WWW-Authenticate"] == CHALLENGE
    assert '"code":"unauthenticated"' in body
    assert APP_TOKEN not in body


async def test_http_a_token_without_the_right_is_403(
    http: tuple[Served, aiohttp.ClientSession],
) -> None:
    status, _, body = await call(
        http, "PUT", "/v1/kv/shared/x", bearer(APP_TOKEN), json={"value": 1}
    )
    assert (status, '"code":"permission_denied"' in body) == (403, True)
    status, _, body = await call(http, "GET", "/v1/kv?prefix=", bearer(APP_TOKEN))
    assert status == 403
    status, _, _ = await call(http, "GET", "/v1/watch?prefix=shared", bearer(APP_TOKEN))
    assert status == 403
    status, _, _ = await call(http, "PUT", "/v1/kv/app/x", bearer(APP_TOKEN), json={"value": 1})
    assert status == 201


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/ui/", "/ui/app.js", "/ui/api.js"])
async def test_http_health_readiness_and_the_console_files_need_no_token(
    http: tuple[Served, aiohttp.ClientSession], path: str
) -> None:
    status, _, _ = await call(http, "GET", path)
    assert status == 200


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json", "/v1/nowhere", "/v1/kv"])
async def test_http_metrics_and_everything_else_need_a_valid_token(
    http: tuple[Served, aiohttp.ClientSession], path: str
) -> None:
    assert (await call(http, "GET", path))[0] == 401
    status, _, _ = await call(http, "GET", path, bearer(ADMIN_TOKEN))
    assert status != 401


async def test_http_metrics_takes_any_valid_token(
    http: tuple[Served, aiohttp.ClientSession],
) -> None:
    status, _, body = await call(http, "GET", "/metrics", bearer(APP_TOKEN))
    assert status == 200
    assert "kv_auth_refusals" in body


@pytest.mark.parametrize(
    ("path", "options"),
    [
        (f"/v1/kv/app/x?token={APP_TOKEN}", {}),
        (f"/v1/kv/app/x?access_token={APP_TOKEN}", {}),
        ("/v1/kv/app/x", {"cookies": {"token": APP_TOKEN, "Authorization": APP_TOKEN}}),
        ("/v1/kv/app/x", {"headers": {"X-Token": APP_TOKEN, "Proxy-Authorization": APP_TOKEN}}),
    ],
)
async def test_http_a_token_anywhere_but_the_authorization_header_is_no_token(
    http: tuple[Served, aiohttp.ClientSession], path: str, options: dict[str, object]
) -> None:
    status, _, body = await call(http, "GET", path, **options)
    assert status == 401
    assert APP_TOKEN not in body


@pytest.mark.parametrize(
    "second", [APP_TOKEN, WRONG_TOKEN], ids=["the-same-token-twice", "a-wrong-one-too"]
)
async def test_http_two_authorization_headers_are_refused(
    http: tuple[Served, aiohttp.ClientSession], second: str
) -> None:
    headers = [("Authorization", f"Bearer {APP_TOKEN}"), ("Authorization", f"Bearer {second}")]
    status, _, body = await call(http, "GET", "/v1/kv/app/x", headers)
    assert status == 401
    assert APP_TOKEN not in body


@pytest.mark.parametrize("size", [8 * 1024, 64 * 1024])
async def test_http_a_huge_authorization_header_is_refused_without_echo(
    http: tuple[Served, aiohttp.ClientSession], size: int
) -> None:
    token = APP_TOKEN + "A" * size
    status, _, body = await call(http, "GET", "/v1/kv/app/x", bearer(token))
    assert status in (400, 401, 431)
    assert "AAAAAAAA" not in body


async def test_http_a_snapshot_needs_a_read_rule_over_every_key(
    http: tuple[Served, aiohttp.ClientSession],
) -> None:
    status, answer_headers, _ = await call(http, "GET", "/v1/snapshot")
    assert (status, answer_headers["WWW-Authenticate"]) == (401, CHALLENGE)
    status, _, body = await call(http, "GET", "/v1/snapshot", bearer(APP_TOKEN))
    assert (status, '"code":"permission_denied"' in body) == (403, True)
    status, _, body = await call(http, "GET", "/v1/snapshot", bearer(ADMIN_TOKEN))
    assert status == 200
    assert body.startswith('{"snapshot":1,')


async def test_http_idempotency_keys_are_each_principals_own(
    http: tuple[Served, aiohttp.ClientSession],
) -> None:
    """One principal's key neither replays nor blocks another's request with the same key."""
    once = {"Idempotency-Key": "same-key-for-both"}
    status, headers, _ = await call(
        http, "PUT", "/v1/kv/app/one", {**bearer(APP_TOKEN), **once}, json={"value": 1}
    )
    assert (status, "Idempotent-Replayed" in headers) == (201, False)
    status, headers, _ = await call(
        http, "PUT", "/v1/kv/app/two", {**bearer(ADMIN_TOKEN), **once}, json={"value": 2}
    )
    assert (status, "Idempotent-Replayed" in headers) == (201, False)
    status, headers, _ = await call(
        http, "PUT", "/v1/kv/app/one", {**bearer(APP_TOKEN), **once}, json={"value": 1}
    )
    assert (status, headers.get("Idempotent-Replayed")) == (201, "true")
