"""The RESP transport: the Redis protocol (RESP2/RESP3), so Redis clients work unchanged.

See docs/resp.md for the command set and how values map.
"""

from kv.transports.resp.server import RespTransport

__all__ = ["RespTransport"]
