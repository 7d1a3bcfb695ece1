"""Batched writes: rows become an Arrow table and go in with one INSERT (never executemany).

`INSERT OR IGNORE` against the primary keys makes every write idempotent: replaying a journal
after a crash, or a batch retried after a lock conflict, never duplicates a result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import duckdb
import pyarrow as pa

RESULT_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("pair_id", pa.string()),
        ("workflow", pa.string()),
        ("repeat", pa.int32()),
        ("status", pa.string()),
        ("error_kind", pa.string()),
        ("error_message", pa.string()),
        ("latency_ms", pa.float64()),
        ("queue_ms", pa.float64()),
        ("attempts", pa.int32()),
        ("output_path", pa.string()),
        ("output_sha256", pa.string()),
        ("output_width", pa.int32()),
        ("output_height", pa.int32()),
        ("started_at", pa.timestamp("us")),
        ("finished_at", pa.timestamp("us")),
        ("flags", pa.string()),
        ("checks", pa.string()),
    ]
)

CHECK_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("pair_id", pa.string()),
        ("repeat", pa.int32()),
        ("workflow", pa.string()),
        ("check", pa.string()),
        ("value", pa.float64()),
        ("threshold", pa.float64()),
        ("passed", pa.bool_()),
        ("severity", pa.string()),
    ]
)

CASE_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("pair_id", pa.string()),
        ("workflow", pa.string()),
        ("tags", pa.string()),
        ("base_path", pa.string()),
        ("product_path", pa.string()),
        ("mask_path", pa.string()),
        ("reference_path", pa.string()),
        ("base_source", pa.string()),
        ("product_source", pa.string()),
        ("invalid_reason", pa.string()),
    ]
)


def to_table(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    rows = list(rows)
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    return pa.table(columns, schema=schema)


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[Mapping[str, Any]], schema: pa.Schema
) -> int:
    """Insert rows that are not there yet; return how many rows the batch had."""
    batch = to_table(rows, schema)
    if batch.num_rows == 0:
        return 0
    con.register("_batch", batch)
    quoted = ", ".join(f'"{name}"' for name in schema.names)
    # On failure the caller discards the connection; unregistering then would mask the real error.
    con.execute(f'INSERT OR IGNORE INTO {table} ({quoted}) SELECT {quoted} FROM _batch')
    con.unregister("_batch")
    return batch.num_rows


def insert_results(con: duckdb.DuckDBPyConnection, rows: Iterable[Mapping[str, Any]]) -> int:
    return insert_rows(con, "results", rows, RESULT_SCHEMA)


def insert_cases(con: duckdb.DuckDBPyConnection, rows: Iterable[Mapping[str, Any]]) -> int:
    return insert_rows(con, "cases", rows, CASE_SCHEMA)


def insert_checks(con: duckdb.DuckDBPyConnection, rows: Iterable[Mapping[str, Any]]) -> int:
    return insert_rows(con, "checks", rows, CHECK_SCHEMA)
