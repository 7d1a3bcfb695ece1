"""The store: where results live, and the only door to them (see `store.base` for the interface).

`open_store(location)` gives the store a `--db` value names: a DuckDB file (`Database`, the default) or
a shared store URL, `ducklake+postgresql://USER@HOST:PORT/DBNAME?data_path=...` (`store.lake.Lake`).
Writes: `store.write(work)` with the functions of `store.writes` (runs' results), `store.runs`,
`store.judgements`, `store.baselines`, `store.similarity`; `store.merge` and `store.export` move
whole runs in and out. Reads: `store.reads.reading(store)`.
"""

import os

from vton_eval.store.base import DatabaseBusy, DatabaseDamaged, DatabaseUnusable, NoDatabase, Store, Writer
from vton_eval.store.db import Database, resolve_db_path
from vton_eval.store.location import StoreUrlError, is_store_url, resolve_location


def open_store(location: str | os.PathLike[str] | None = None, busy_timeout_s: float = 15.0) -> Store:
    """The store at `location` (a path or a store URL; None: $VTON_EVAL_DB or ./results.duckdb)."""
    chosen = resolve_location(location)
    if is_store_url(chosen):
        from vton_eval.store.lake import Lake  # loads DuckDB's extensions only when a shared store is used

        return Lake(chosen, busy_timeout_s=busy_timeout_s)
    return Database(chosen, busy_timeout_s=busy_timeout_s)


__all__ = ["Database", "DatabaseBusy", "DatabaseDamaged", "DatabaseUnusable", "NoDatabase", "Store", "StoreUrlError",
           "Writer", "is_store_url", "open_store", "resolve_db_path", "resolve_location"]
