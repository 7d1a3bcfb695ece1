"""Copies of a shared store's small, much-read tables in this process, taken again when the store moves on.

Every scan of a DuckLake table costs about a dozen catalog queries to PostgreSQL (the table's files, their
statistics, its inlined rows), whatever the table's size. The pages read the runs, their summaries and the
blessings a dozen times a render, so on a shared store those scans cost more than all the result rows a
page reads. A reader's connection finds them first in the process's own DuckDB instance (`memory.hot`,
ahead of the lake on its search path), copied in one transaction; a reader uses the copies only when the
store's latest snapshot is the one they were taken at (one catalog query tells), so no page sees a list
older than the store. Writers never see the copies: they write the lake's tables.

When the store has moved on, the copies also look at the catalog's tables of inlined rows: `store compact`
in another process moves those rows to files and drops their tables, which this process's DuckLake still
names in its cache, and every later scan of the table fails. A table gone since the last look tells the
caller to attach the store afresh before reading (`read_copies` returns False).
"""

from __future__ import annotations

import threading

import duckdb

from vton_eval.store.base import QUIET

HOT_TABLES = ("runs", "run_summary", "run_error_kinds", "baselines")
SCHEMA = "memory.hot"

_lock = threading.Lock()
_taken_at: dict[str, int] = {}  # store key -> the snapshot its copies hold
_inlined: dict[str, frozenset[str]] = {}  # store key -> the catalog's inlined-row tables at the last look


def _snapshot(con: duckdb.DuckDBPyConnection, alias: str) -> int:
    return int(con.execute("SELECT id FROM ducklake_current_snapshot(?)", [alias]).fetchone()[0])


def _inlined_tables(con: duckdb.DuckDBPyConnection, alias: str) -> frozenset[str]:
    rows = con.execute(f"SELECT table_name FROM __ducklake_metadata_{alias}.ducklake_inlined_data_tables").fetchall()
    return frozenset(r[0] for r in rows)


def read_copies(cur: duckdb.DuckDBPyConnection, key: str, alias: str) -> bool:
    """Point `cur`'s unqualified table names at up-to-date copies of the hot tables, then at the lake.
    False (and nothing done): tables of inlined rows this process may still name were dropped meanwhile
    (a compaction elsewhere); attach the store afresh and call again."""
    latest = _snapshot(cur, alias)
    if _taken_at.get(key) != latest:
        with _lock:
            if _taken_at.get(key) != latest:
                now = _inlined_tables(cur, alias)
                if not _inlined.get(key, now) <= now:
                    return False
                _take(cur, key, alias)
                _inlined[key] = now
    cur.execute(f"SET search_path = '{SCHEMA},{alias}.main'")
    return True


def _take(cur: duckdb.DuckDBPyConnection, key: str, alias: str) -> None:
    # The snapshot is read before the copies: if a write lands in between, the copies are newer than the
    # number says, and the next reader takes them again (never the other way round).
    latest = _snapshot(cur, alias)
    copier = cur.cursor()
    try:
        copier.execute(QUIET)
        copier.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        copier.execute("BEGIN")
        try:
            for table in HOT_TABLES:
                copier.execute(f"CREATE OR REPLACE TABLE {SCHEMA}.{table} AS SELECT * FROM {alias}.main.{table}")
            copier.execute("COMMIT")
        except BaseException:
            copier.execute("ROLLBACK")
            raise
    finally:
        copier.close()
    _taken_at[key] = latest


def forget(key: str) -> None:
    """Drop the record of a store's copies (its catalog was detached or recreated)."""
    with _lock:
        _taken_at.pop(key, None)
        _inlined.pop(key, None)
