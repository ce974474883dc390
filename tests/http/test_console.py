"""The console's files as the HTTP transport serves them: only its own, with a strict CSP."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from kv.transports.http.console import ASSETS, CONSOLE_OPERATIONS, add_console


async def test_the_page_is_served_at_ui_with_a_strict_policy(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/ui/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<title>kv console</title>" in await response.text()


async def test_ui_without_the_slash_redirects(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/ui", allow_redirects=False)
    assert response.status == 308
    assert response.headers["Location"] == "/ui/"


@pytest.mark.parametrize("name", sorted(ASSETS))
async def test_each_file_has_its_type_and_is_revalidated_by_etag(
    client: TestClient,  # type: ignore[type-arg]
    name: str,
) -> None:
    response = await client.get(f"/ui/{name}")
    assert response.status == 200
    assert response.headers["Content-Type"] == ASSETS[name]
    assert response.headers["Cache-Control"] == "no-cache"
    again = await client.get(f"/ui/{name}", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
    assert await again.read() == b""


@pytest.mark.parametrize("path", ["/ui/missing.js", "/ui/..", "/ui/%2e%2e/routes.py", "/ui/x/y"])
async def test_anything_else_is_a_json_404(client: TestClient, path: str) -> None:  # type: ignore[type-arg]
    response = await client.get(path)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


def test_every_file_the_page_loads_is_served() -> None:
    """What index.html and the scripts reference is in ASSETS (and so in the package data)."""
    package = resources.files("kv.transports.http.console")
    referenced = set()
    for name in ASSETS:
        text = package.joinpath(name).read_text()
        referenced |= set(re.findall(r'(?:src|href)="([^"#:]+)"', text))
        referenced |= {m.removeprefix("./") for m in re.findall(r'from "(\./[^"]+)"', text)}
    assert referenced
    assert referenced <= set(ASSETS), referenced - set(ASSETS)


def test_the_openapi_entries_name_exactly_the_console_routes() -> None:
    app = web.Application()
    add_console(app)
    routed = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    assert routed == set(CONSOLE_OPERATIONS)
