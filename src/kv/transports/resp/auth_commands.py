"""AUTH and HELLO's AUTH option: how a RESP connection says who it is.

`AUTH TOKEN`, `AUTH NAME TOKEN` and `HELLO 3 AUTH NAME TOKEN`: NAME must be
the token's principal, or `default`, which clients send when given only a
password (`redis-cli -a`, `redis-benchmark -a`, redis-py's `password=`).
Until a connection has authenticated, the choke point (`commands.execute`)
answers every command but those flagged `no-auth` (AUTH, HELLO, QUIT) with
`-NOAUTH`; a wrong token is `-WRONGPASS`. A failed AUTH leaves the
connection as it was, as Redis does. Without an auth file, AUTH and HELLO
AUTH answer as Redis with no password set does.

Protected mode is decided when a client connects (`refuse_peer`): a peer
not on loopback gets `-DENIED` and the connection closes.
"""

from __future__ import annotations

from kv.domain import BadCredentials, ProtectedMode
from kv.transports.resp.errors import CommandError
from kv.transports.resp.replies import OK, Reply, RespError
from kv.transports.resp.session import Arguments, CommandSpec, Session

DEFAULT_USER = "default"
# Redis's answer to AUTH when it has no password set; redis-cli -a prints it and goes on.
NO_PASSWORD = (
    "AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)


def authenticate(session: Session, name: bytes | None, token: bytes) -> None:
    """Make the connection act as the principal of `token` (BadCredentials if it is none,
    or if `name` is neither that principal's name nor `default`)."""
    guard = session.service.guard
    if not guard.enabled:
        # As Redis whose default user has no password: it takes any password for `default`,
        # and refuses the one-word AUTH. So a client given a token works either way.
        if name is None:
            raise CommandError(NO_PASSWORD)
        if name.decode("utf-8", "replace") != DEFAULT_USER:
            raise BadCredentials("no such user")
        return
    try:
        text = token.decode("utf-8")
    except UnicodeDecodeError:
        raise BadCredentials("invalid token") from None
    principal = guard.admit(text, session.address)
    assert principal is not None
    if name is not None and name.decode("utf-8", "replace") not in (DEFAULT_USER, principal.name):
        raise BadCredentials("the name is not the token's principal")
    session.principal = principal
    session.authenticated = True


async def auth(session: Session, args: Arguments) -> Reply:
    """AUTH [NAME] TOKEN."""
    if len(args) > 2:
        raise CommandError("syntax error")
    authenticate(session, args[0] if len(args) == 2 else None, args[-1])
    return OK


def refuse_peer(session: Session) -> RespError | None:
    """The `-DENIED` reply for a client protected mode does not serve (logged and counted
    as every refusal is), else None. The connection closes after it."""
    try:
        session.service.guard.admit_peer(session.address)
    except ProtectedMode as exc:
        with session.observability.request_scope(
            "resp", "connect", None, remote=session.remote
        ) as scope:
            scope.refused(exc)
            scope.answered("DENIED")
        return RespError("DENIED", str(exc))
    return None


AUTH_COMMANDS: dict[bytes, CommandSpec] = {
    b"AUTH": CommandSpec(auth, -2, ("fast", "no-auth")),
}
