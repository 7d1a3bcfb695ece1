"""Looking after a shared store: creating it, and compacting its files.

DuckLake writes a Parquet file per insert above the inlining limit (500 rows, set at creation; smaller
inserts stay in the catalog's tables), and rewrites nothing by itself. `compact` moves inlined rows to
files, folds delete files in, merges small files, expires snapshots older than `keep_hours` and
deletes the files no remaining snapshot needs. It can run while others write: each step is its own
transaction, retried on a conflict. Readers of a snapshot older than `keep_hours` lose their files,
so keep it above the longest query.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb

from vton_eval.store.lake import Lake
from vton_eval.store.lake_writes import is_conflict

_STEPS = (
    ("inlined rows written to files", "CALL ducklake_flush_inlined_data({lake})"),
    ("delete files folded in", "CALL ducklake_rewrite_data_files({lake}, delete_threshold => 0.0)"),
    ("small files merged", "CALL ducklake_merge_adjacent_files({lake})"),
    ("old snapshots expired", "CALL ducklake_expire_snapshots({lake}, older_than => now() - INTERVAL '{hours} hours')"),
    ("unneeded files deleted", "CALL ducklake_cleanup_old_files({lake}, cleanup_all => true)"),
)


@dataclass
class Compaction:
    files_before: int
    files_after: int
    snapshots_before: int
    snapshots_after: int
    seconds: float


def _counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    alias = con.execute("SELECT current_database()").fetchone()[0]
    meta = f"__ducklake_metadata_{alias}"
    files = con.execute(f"SELECT count(*) FROM {meta}.ducklake_data_file WHERE end_snapshot IS NULL").fetchone()[0]
    snapshots = con.execute(f"SELECT count(*) FROM {meta}.ducklake_snapshot").fetchone()[0]
    return int(files), int(snapshots)


def compact(store: Lake, keep_hours: float = 1.0) -> Compaction:
    """Compact the store's files (see the module's docstring); return the counts before and after."""
    started = time.monotonic()
    with store.connect() as con:
        files, snapshots = _counts(con)
        alias = con.execute("SELECT current_database()").fetchone()[0]
        for _what, sql in _STEPS:
            statement = sql.format(lake=f"'{alias}'", hours=float(keep_hours))
            for attempt in range(20):
                try:
                    con.execute(statement)
                    break
                except duckdb.Error as exc:
                    if not is_conflict(exc) or attempt == 19:
                        raise
                    time.sleep(0.05 * (attempt + 1))
        files_after, snapshots_after = _counts(con)
    return Compaction(files, files_after, snapshots, snapshots_after, time.monotonic() - started)
