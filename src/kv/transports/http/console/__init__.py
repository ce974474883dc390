"""The web console at `/ui/`: a single page and its script and style, served as package data.

Only the files named in `ASSETS` are served (no directory walking, so no path to escape
through); they are read once when the app is built, not at import. Everything the page loads
comes from this server, which the Content-Security-Policy states: a browser refuses any other
script, style, connection or frame, and inline script and style too.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from aiohttp import web

CONSOLE_PATH = "/ui/"

# name -> content type; index.html is also what `/ui/` answers.
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "view.js": "text/javascript; charset=utf-8",
    "fields.js": "text/javascript; charset=utf-8",
    "editor.js": "text/javascript; charset=utf-8",
    "feed.js": "text/javascript; charset=utf-8",
    "credentials.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated on every load (cheap, by ETag), so an upgraded server never runs an old script.
    "Cache-Control": "no-cache",
}


_NOT_MODIFIED = {"description": "Not modified: the If-None-Match entity tag is current."}

# The console's entries of the OpenAPI document (kv.transports.http.openapi takes them in);
# HEAD routes take their GET's entry there.
CONSOLE_OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/ui"): {
        "summary": "The web console's address without the slash",
        "responses": {"308": {"description": "Redirect to /ui/."}},
    },
    ("GET", CONSOLE_PATH): {
        "summary": "The web console (docs/console.md)",
        "responses": {
            "200": {
                "description": "The console's page.",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            "304": _NOT_MODIFIED,
        },
    },
    ("GET", CONSOLE_PATH + "{name}"): {
        "summary": "A file of the web console (script, style, icon)",
        "parameters": [
            {
                "name": "name",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": sorted(set(ASSETS) - {"index.html"})},
            }
        ],
        "responses": {
            "200": {
                "description": "The file.",
                "content": {
                    content_type.split(";")[0]: {"schema": {"type": "string"}}
                    for name, content_type in ASSETS.items()
                    if name != "index.html"
                },
            },
            "304": _NOT_MODIFIED,
            "404": {
                "description": "No such file of the console.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    },
}


class ConsoleFiles:
    """The console's files in memory, each with its content type and entity tag."""

    def __init__(self) -> None:
        package = resources.files(__name__)
        self._files = {
            name: (package.joinpath(name).read_bytes(), content_type)
            for name, content_type in ASSETS.items()
        }
        self._etags = {
            name: '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            for name, (body, _) in self._files.items()
        }

    async def serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name") or "index.html"
        if name not in self._files:
            raise web.HTTPNotFound(text=f"no console file {name!r}")
        body, content_type = self._files[name]
        etag = self._etags[name]
        headers = {**SECURITY_HEADERS, "ETag": etag}
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        response = web.Response(body=body, headers=headers)
        response.headers["Content-Type"] = content_type
        return response


async def _redirect_to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect(CONSOLE_PATH)


def add_console(app: web.Application) -> None:
    """Serve the console at `/ui/` (and redirect `/ui` there)."""
    files = ConsoleFiles()
    app.router.add_get("/ui", _redirect_to_console)
    app.router.add_get(CONSOLE_PATH, files.serve)
    app.router.add_get(CONSOLE_PATH + "{name:[a-z0-9.]+}", files.serve)
