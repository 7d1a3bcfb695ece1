"""The DuckDB store: schema, safe connections, batched writes and read queries."""

from vton_eval.store.db import (
    Database,
    DatabaseBusy,
    DatabaseDamaged,
    DatabaseUnusable,
    NoDatabase,
    resolve_db_path,
)

__all__ = ["Database", "DatabaseBusy", "DatabaseDamaged", "DatabaseUnusable", "NoDatabase", "resolve_db_path"]
