"""The HTTP transport's access control: its one choke point, `admit`.

The request middleware (middleware.py) calls it for every request before
the handler runs. It reads the credentials (`Authorization: Bearer TOKEN`, and only that: a
token in the query string or a cookie is not one) and the peer's address,
asks the guard who the caller is (`Guard.admit`), and serves the request as
that caller; the service then checks each operation. Refusals are domain
errors, answered through the error table (errors.py: 401 with
`WWW-Authenticate`, 403) and logged as `kv.auth` lines.

`/healthz`, `/readyz` and the console's page and scripts need no token.
In protected mode (no auth file) a request whose `Host` names anything but
localhost, a loopback address or the address it reached is refused as
well: a page on another site that a visitor's browser resolves to
127.0.0.1 (DNS rebinding) sends its own host name there.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import hdrs, web

from kv.domain import BadCredentials, Guard, Principal, ProtectedMode
from kv.domain.access import PROTECTED_MODE_MESSAGE, is_loopback
from kv.transports.http.console import CONSOLE_PATH

GUARD = web.AppKey("guard", Guard)
OPEN_PATHS = frozenset({"/healthz", "/readyz", CONSOLE_PATH.rstrip("/")})
BEARER = "bearer"


def is_open(path: str) -> bool:
    """Whether a request for `path` needs no token."""
    return path in OPEN_PATHS or path.startswith(CONSOLE_PATH)


def bearer_token(request: web.Request) -> str | None:
    """The token of the request's one `Authorization: Bearer` header; None without the header.

    Two Authorization headers, another scheme or an empty token are
    BadCredentials: the request carries something, and it is not a token.
    """
    values = request.headers.getall(hdrs.AUTHORIZATION, [])
    if not values:
        return None
    if len(values) > 1:
        raise BadCredentials("more than one Authorization header")
    scheme, _, token = values[0].strip().partition(" ")
    token = token.strip()
    if scheme.lower() != BEARER or not token:
        raise BadCredentials("the Authorization header must be: Bearer TOKEN")
    return token


def _host_name(host: str) -> str:
    """The name or address of a Host header, without its port (and IPv6 brackets)."""
    host = host.strip()
    if host.startswith("["):
        name = host[1:].partition("]")[0]
    else:
        name = host.rpartition(":")[0] if host.count(":") == 1 else host
    return name.lower().rstrip(".")


@lru_cache(maxsize=256)
def _names_loopback(host: str) -> bool:
    """Whether a Host header names localhost or a loopback address, whatever the connection.

    Cached: protected mode asks it of every request, and clients send few Host values.
    """
    name = _host_name(host)
    return name == "localhost" or is_loopback(name)


def host_is_this_server(request: web.Request) -> bool:
    """Whether `Host` names localhost, a loopback address or the address the request reached."""
    host = request.headers.get(hdrs.HOST)
    if host is None or _names_loopback(host):
        return True
    name = _host_name(host)
    local = request.transport.get_extra_info("sockname") if request.transport else None
    if not isinstance(local, tuple):
        return False
    try:
        return ipaddress.ip_address(name) == ipaddress.ip_address(local[0].split("%", 1)[0])
    except ValueError:
        return False


def admit(request: web.Request, guard: Guard) -> Principal | None:
    """The request's caller (None: anyone, access control off), or the refusal it raises.

    The request is then served as that caller (`guard.acting_as`).
    """
    if is_open(request.path):
        guard.admit_peer(request.remote)
        principal = None
    else:
        principal = guard.admit(bearer_token(request) if guard.enabled else None, request.remote)
    if guard.protected and not host_is_this_server(request):
        raise ProtectedMode(f"Host {request.host!r} is not this server; {PROTECTED_MODE_MESSAGE}")
    return principal
