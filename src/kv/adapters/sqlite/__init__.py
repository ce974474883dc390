"""The sqlite storage engine: `SqliteStore` (store.py) over one SQLite file (database.py)."""

from kv.adapters.sqlite.database import DATABASE_FILE
from kv.adapters.sqlite.store import SqliteStore

__all__ = ["DATABASE_FILE", "SqliteStore"]
