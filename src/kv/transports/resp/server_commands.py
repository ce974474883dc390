"""The commands about the connection and the server that Redis clients send.

Enough for `redis-cli` (one-shot and interactive: `COMMAND DOCS`, `COMMAND`),
`redis-benchmark` (`CONFIG GET save`, `CONFIG GET appendonly`) and redis-py
(`HELLO 3`, `CLIENT SETINFO`) to work unchanged. There is one database (0),
no users and no configuration to read.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from importlib.metadata import PackageNotFoundError, version

from kv.transports.resp.errors import CommandError
from kv.transports.resp.replies import OK, PONG, Reply, Status
from kv.transports.resp.session import Arguments, CommandSpec, Session

PROTOCOLS = (2, 3)
# kv is configured through its environment, not CONFIG. These few answers
# are what Redis reports with persistence off: redis-benchmark reads `save`
# and `appendonly` before it starts and warns when it cannot. How durable
# kv is depends on KV_STORE, not on them.
CONFIG_PARAMETERS = {"save": "", "appendonly": "no", "databases": "1"}
# What `INFO` and `HELLO` report as the Redis version: clients gate features
# on it, and this server speaks the protocol of Redis 7 (RESP3, HELLO, GETDEL).
REDIS_VERSION = "7.0.0"


def _kv_version() -> str:
    try:
        return version("kv")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0"


async def ping(session: Session, args: Arguments) -> Reply:
    if len(args) > 1:
        raise CommandError("wrong number of arguments for 'ping' command")
    return args[0] if args else PONG


async def echo(session: Session, args: Arguments) -> Reply:
    return args[0]


async def hello(session: Session, args: Arguments) -> Reply:
    """HELLO [protover [AUTH user pass] [SETNAME name]]: switch protocol, answer who we are."""
    protocol = session.protocol
    if args:
        try:
            protocol = int(args[0])
        except ValueError:
            raise CommandError("Protocol version is not an integer or out of range") from None
        if protocol not in PROTOCOLS:
            raise CommandError("unsupported protocol version", code="NOPROTO")
    options = args[1:]
    while options:
        option = options[0].upper()
        if option == b"SETNAME" and len(options) >= 2:
            session.name = options[1].decode("utf-8", "replace")
            options = options[2:]
        elif option == b"AUTH":
            raise CommandError("AUTH is not supported: this server has no users")
        else:
            raise CommandError(f"syntax error in HELLO option '{option.decode(errors='replace')}'")
    session.protocol = protocol
    return {
        "server": "kv",
        "version": REDIS_VERSION,
        "proto": protocol,
        "id": session.client_id,
        "mode": "standalone",
        "role": "master",
        "modules": [],
    }


async def client(session: Session, args: Arguments) -> Reply:
    """CLIENT SETNAME | GETNAME | SETINFO | ID; others (e.g. MAINT_NOTIFICATIONS) are refused."""
    subcommand = args[0].upper()
    if subcommand == b"SETNAME" and len(args) == 2:
        session.name = args[1].decode("utf-8", "replace") or None
        return OK
    if subcommand == b"GETNAME" and len(args) == 1:
        return session.name
    if subcommand == b"SETINFO" and len(args) == 3:
        session.info[args[1].decode("utf-8", "replace").lower()] = args[2].decode(
            "utf-8", "replace"
        )
        return OK
    if subcommand == b"ID" and len(args) == 1:
        return session.client_id
    raise CommandError(
        f"unknown subcommand or wrong number of arguments for 'CLIENT|{_text(args[0])}'"
    )


async def select(session: Session, args: Arguments) -> Reply:
    if args[0] != b"0":
        raise CommandError("DB index is out of range")
    return OK


async def quit_(session: Session, args: Arguments) -> Reply:
    session.quitting = True
    return OK


def _command_info(name: bytes, command: CommandSpec) -> Reply:
    """The ten fields of Redis 7's COMMAND reply; ACL categories, tips, key specs and
    subcommands are empty (no ACLs, no cluster, subcommands checked by the handler)."""
    return [
        name.lower(),
        command.arity,
        [Status(flag) for flag in command.flags],
        command.first_key,
        command.last_key,
        command.key_step,
        [],
        [],
        [],
        [],
    ]


async def command(session: Session, args: Arguments) -> Reply:
    """COMMAND [COUNT | LIST | INFO name... | DOCS [name...]]."""
    table = session.commands
    if not args:
        return [_command_info(name, entry) for name, entry in table.items()]
    subcommand = args[0].upper()
    if subcommand == b"COUNT" and len(args) == 1:
        return len(table)
    if subcommand == b"LIST" and len(args) == 1:
        return [name.lower() for name in table]
    if subcommand == b"INFO":
        names = [word.upper() for word in args[1:]] or list(table)
        return [_command_info(name, table[name]) if name in table else None for name in names]
    if subcommand == b"DOCS":
        # No documentation to give: redis-cli then uses the help it carries.
        return {}
    raise CommandError(f"unknown subcommand '{_text(args[0])}'. Try COMMAND HELP.")


async def config(session: Session, args: Arguments) -> Reply:
    """CONFIG GET pattern...: the parameters of `CONFIG_PARAMETERS` that match."""
    if args[0].upper() == b"GET" and len(args) >= 2:
        patterns = [_text(word).lower() for word in args[1:]]
        return {
            name: value
            for name, value in CONFIG_PARAMETERS.items()
            if any(fnmatchcase(name, pattern) for pattern in patterns)
        }
    raise CommandError(
        f"unknown subcommand '{_text(args[0])}': kv is configured through its environment"
    )


async def info(session: Session, args: Arguments) -> Reply:
    lines = [
        "# Server",
        f"redis_version:{REDIS_VERSION}",
        f"kv_version:{_kv_version()}",
        "redis_mode:standalone",
    ]
    return "\r\n".join(lines) + "\r\n"


def _text(word: bytes) -> str:
    return word.decode("utf-8", "replace")


SERVER_COMMANDS: dict[bytes, CommandSpec] = {
    b"PING": CommandSpec(ping, -1, ("fast",)),
    b"ECHO": CommandSpec(echo, 2, ("fast",)),
    b"HELLO": CommandSpec(hello, -1, ("fast", "no-auth")),
    b"CLIENT": CommandSpec(client, -2, ("admin",)),
    b"SELECT": CommandSpec(select, 2, ("fast",)),
    b"QUIT": CommandSpec(quit_, -1, ("fast", "no-auth")),
    b"COMMAND": CommandSpec(command, -1, ("loading", "stale")),
    b"CONFIG": CommandSpec(config, -2, ("admin",)),
    b"INFO": CommandSpec(info, -1, ("loading", "stale")),
}
