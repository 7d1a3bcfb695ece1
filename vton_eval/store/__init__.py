"""The store: where results live, and the only door to them (see `store.base` for the interface).

`open_store(location)` gives the store a `--db` value names; today a DuckDB file (`Database`).
Writes: `store.write(work)` with the functions of `store.writes` (runs' results), `store.runs`,
`store.judgements`, `store.baselines`, `store.similarity`; `store.merge` and `store.export` move
whole runs in and out. Reads: `store.reads.reading(store)`.
"""

import os

from vton_eval.store.base import Store, Writer
from vton_eval.store.db import (
    Database,
    DatabaseBusy,
    DatabaseDamaged,
    DatabaseUnusable,
    NoDatabase,
    resolve_db_path,
)


def open_store(location: str | os.PathLike[str] | None = None, busy_timeout_s: float = 15.0) -> Store:
    """The store at `location` (a path; None: $VTON_EVAL_DB or ./results.duckdb)."""
    return Database(location, busy_timeout_s=busy_timeout_s)


__all__ = ["Database", "DatabaseBusy", "DatabaseDamaged", "DatabaseUnusable", "NoDatabase", "Store", "Writer",
           "open_store", "resolve_db_path"]
