"""Request ids, logging, metrics and access lines: the same for every transport."""

from kv.observability.logs import configure_logging, get_logger
from kv.observability.metrics import Metrics
from kv.observability.scope import (
    Observability,
    RequestScope,
    accept_request_id,
    current_request_id,
)

__all__ = [
    "Metrics",
    "Observability",
    "RequestScope",
    "accept_request_id",
    "configure_logging",
    "current_request_id",
    "get_logger",
]
