"""The HTTP/JSON transport (aiohttp)."""

from kv.transports.http.routes import create_app
from kv.transports.http.server import HttpTransport

__all__ = ["HttpTransport", "create_app"]
