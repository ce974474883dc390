"""Access control: who the caller is, and what it may read and write.

A `Principal` is a client known by the auth file: a name and key-prefix rules.
`decide` is the one rule every transport's request goes through: an operation
on a key needs a rule whose prefix starts the key; a listing, watch, snapshot
or scan of prefix P needs a read rule whose prefix starts P (the same test,
on P); write implies read. A transaction needs every key it touches
(`Guard.require_all`).

`Guard` holds the principals (`Principals`, replaced whole on reload) and
the protected-mode setting. A transport, at its one choke point, hands the
credentials it read and the peer's address to `Guard.admit`, which answers
the `Principal` or raises `Unauthenticated` / `ProtectedMode`; it then
serves the request inside `Guard.acting_as(principal)`, and the service
checks each operation with `Guard.require`, raising `PermissionDenied`.
The caller is kept in a context variable, as the request id is, so the
service's signatures do not change and a path that never bound a caller is
refused (when access control is on), not let through.

Tokens: the table is keyed by the SHA-256 of each token, and a presented
token is hashed once and looked up there, then compared to the stored hash
with `hmac.compare_digest`. No token is kept, logged, or put in an error.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

from kv.domain.errors import BadCredentials, PermissionDenied, ProtectedMode, Unauthenticated
from kv.domain.transactions import Read, Transaction

PROTECTED_MODE_MESSAGE = (
    "kv is in protected mode: with no KV_AUTH_FILE it answers only clients on loopback; "
    "set KV_AUTH_FILE to require tokens, or KV_PROTECTED_MODE=false to serve every client "
    "without them"
)

TOKEN_REQUIRED = "authentication required: this server needs a token"


class Access(enum.Enum):
    """What an operation does to its keys."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Principal:
    """A client of the auth file: its name and the key prefixes it may read and write.

    `read` holds every prefix it may read, its write prefixes included (write implies read).
    """

    name: str
    read: tuple[str, ...]
    write: tuple[str, ...]

    @classmethod
    def of(cls, name: str, *, read: Iterable[str] = (), write: Iterable[str] = ()) -> Principal:
        """The principal with these read and write prefixes (each write prefix read too)."""
        writes = tuple(dict.fromkeys(write))
        return cls(name, tuple(dict.fromkeys((*read, *writes))), writes)


def token_digest(token: str) -> str:
    """The hex SHA-256 of a token's UTF-8: what the auth file holds instead of the token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def decide(principal: Principal, access: Access, key_or_prefix: str) -> bool:
    """Whether `principal` may `access` a key, or every key under a prefix.

    Allowed when one of its rules for `access` is a prefix of `key_or_prefix`
    (a key operation: of the key; a listing, watch, snapshot or scan: of the
    prefix listed). The empty rule covers every key.
    """
    rules = principal.write if access is Access.WRITE else principal.read
    return key_or_prefix.startswith(rules)  # any of them; none: False


def transaction_needs(transaction: Transaction) -> Iterator[tuple[Access, str]]:
    """What a transaction does to each key it touches, either branch: a compare or a get
    reads its key, a put or a delete writes it (`Guard.require_all` checks them all)."""
    for compare in transaction.compare:
        yield Access.READ, compare.key
    for op in (*transaction.success, *transaction.failure):
        yield (Access.READ if isinstance(op, Read) else Access.WRITE), op.key


class Principals:
    """The principals of an auth file, found by the SHA-256 of their token."""

    def __init__(self, by_digest: Mapping[str, Principal]) -> None:
        """`by_digest`: each principal by the hex SHA-256 of its token."""
        # By the digest's bytes; each principal beside its stored digest, for the
        # constant-time comparison.
        self._by_digest = {
            bytes.fromhex(digest): (bytes.fromhex(digest), principal)
            for digest, principal in by_digest.items()
        }

    def __len__(self) -> int:
        return len(self._by_digest)

    def find(self, token: str) -> Principal | None:
        """The principal whose token this is, or None.

        One hash of the presented token and one dictionary look-up, whatever
        the number of principals; the stored digest is then compared with the
        presented one in constant time. The look-up itself compares digests,
        which a caller cannot steer character by character without inverting
        SHA-256, so its timing tells nothing about any token.
        """
        presented = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        known = self._by_digest.get(presented)
        if known is None:
            return None
        stored, principal = known
        return principal if hmac.compare_digest(stored, presented) else None


@lru_cache(maxsize=4096)
def is_loopback(address: str | None) -> bool:
    """Whether a peer's IP address (as text; IPv4-mapped IPv6 too) is a loopback address.

    Cached: protected mode asks it of every request, and clients are few addresses.
    """
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


_caller: ContextVar[Principal | None] = ContextVar("kv_caller", default=None)


class ActingAs:
    """`with ActingAs(principal):` the operations of the block are the principal's.

    A class rather than a generator-based context manager: it is entered for
    every request of every transport.
    """

    __slots__ = ("_bound", "_principal")

    def __init__(self, principal: Principal | None) -> None:
        self._principal = principal

    def __enter__(self) -> None:
        self._bound = _caller.set(self._principal)

    def __exit__(self, *exc_info: object) -> None:
        _caller.reset(self._bound)


class Guard:
    """Access control for one service: the principals, protected mode, and the caller's rights.

    With no principals (no auth file), every admitted caller may do everything;
    with `protected`, only loopback peers are admitted.
    """

    def __init__(self, principals: Principals | None = None, *, protected: bool = False) -> None:
        self._principals = principals
        self.protected = protected and principals is None

    @property
    def enabled(self) -> bool:
        """Whether requests must carry a token (an auth file is in use)."""
        return self._principals is not None

    def replace(self, principals: Principals) -> None:
        """Serve with these principals from now on (a reload of the auth file)."""
        if self._principals is None:
            raise ValueError("access control is off: there is no auth file to reload")
        self._principals = principals

    def admit(self, token: str | None, peer: str | None) -> Principal | None:
        """Who a request is from, given the token it carries and the peer's IP address.

        None when access control is off (anyone admitted may do everything).
        ProtectedMode: no auth file, protected mode on and a peer not on loopback.
        Unauthenticated: access control on and no token; BadCredentials: a token no
        principal has.
        """
        principals = self._principals
        if principals is None:
            self.admit_peer(peer)
            return None
        if token is None:
            raise Unauthenticated(TOKEN_REQUIRED)
        principal = principals.find(token)
        if principal is None:
            raise BadCredentials("invalid token")
        return principal

    def admit_peer(self, peer: str | None) -> None:
        """ProtectedMode when protected mode is on and `peer` (an IP address) is not loopback.

        What a request that needs no token (health, readiness, the console's
        files) goes through instead of `admit`.
        """
        if self.protected and not is_loopback(peer):
            raise ProtectedMode(PROTECTED_MODE_MESSAGE)

    def acting_as(self, principal: Principal | None) -> ActingAs:
        """Run the block's operations as `principal` (what `admit` answered)."""
        return ActingAs(principal)

    @staticmethod
    def caller_name() -> str:
        """The name of the principal the block runs as ("": anonymous, access control off)."""
        principal = _caller.get()
        return "" if principal is None else principal.name

    def require(self, access: Access, key_or_prefix: str) -> None:
        """PermissionDenied unless the caller may `access` this key (or prefix: see `decide`)."""
        if self._principals is None:
            return
        principal = _caller.get()
        if principal is None:
            raise Unauthenticated(TOKEN_REQUIRED)
        if not decide(principal, access, key_or_prefix):
            raise PermissionDenied(principal.name, access.value, key_or_prefix)

    def require_all(self, needs: Iterable[tuple[Access, str]]) -> None:
        """PermissionDenied unless the caller may do each of `needs` (a transaction's keys)."""
        for access, key in needs:
            self.require(access, key)
