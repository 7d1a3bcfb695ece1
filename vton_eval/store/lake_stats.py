"""Statistics for every table of a shared store, so that reading an empty table costs what reading any other does.

DuckLake (the extension of DuckDB 1.5.5, the newest we can pin) keeps a table's statistics from its first
insert on. For a table that never had a row it finds none and caches nothing, so it asks the catalog again for
each column a query names, in every query: reading the empty `pair_similarity` cost about 50 catalog statements
and 30-45 ms of CPU, against 3 statements and 1-2 ms once the table had statistics (measured; the negative cache
is ducklake#1313, after our version). A team's store keeps such tables empty for a long time (no similarity
computed, no blind picks, no verdicts yet), and the Review and Compare pages name them in several queries each.

So each table without statistics gets a row inserted and deleted in one transaction: DuckLake writes its
statistics (an empty table's), and no snapshot ever shows the row.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import duckdb

log = logging.getLogger(__name__)

# A value of each column type our schema declares NOT NULL (a row must be insertable to be deleted).
_ZERO = {"VARCHAR": "''", "BOOLEAN": "false", "TIMESTAMP": "TIMESTAMP '1970-01-01'",
         "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ '1970-01-01 00:00:00+00'", "DATE": "DATE '1970-01-01'",
         "BLOB": "''::BLOB"}
MARK = "vton-eval: statistics only, deleted in its own transaction "
_NUMBERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "FLOAT", "DOUBLE", "DECIMAL")


def _zero(data_type: str) -> str | None:
    if data_type.endswith("[]"):
        return f"[]::{data_type}"
    if data_type.startswith(_NUMBERS):
        return "0"
    return _ZERO.get(data_type)


def bare_tables(cur: duckdb.DuckDBPyConnection, alias: str) -> list[str]:
    """The store's tables that have no statistics yet (they never had a row)."""
    meta = f"__ducklake_metadata_{alias}"
    rows = cur.execute(f"""
        SELECT t.table_name FROM {meta}.ducklake_table t
        WHERE t.end_snapshot IS NULL
          AND NOT EXISTS (SELECT 1 FROM {meta}.ducklake_table_stats s WHERE s.table_id = t.table_id)
        ORDER BY 1""").fetchall()
    return [r[0] for r in rows]


def _stub(cur: duckdb.DuckDBPyConnection, alias: str, table: str) -> tuple[str, str] | None:
    """The INSERT of a row that only this transaction can have written, and the DELETE of just that row: its
    NOT NULL columns set, and a text column set to a value of its own (another writer's first rows, committed
    meanwhile, are never touched). None: no text column, or a type we have no value for."""
    columns = cur.execute("""SELECT column_name, data_type, is_nullable FROM duckdb_columns()
                             WHERE database_name = ? AND schema_name = 'main' AND table_name = ?
                             ORDER BY column_index""", [alias, table]).fetchall()
    marked = next((name for name, data_type, _ in columns if data_type == "VARCHAR"), None)
    if marked is None:
        return None
    values = {name: _zero(data_type) for name, data_type, nullable in columns if not nullable and name != marked}
    if None in values.values():
        return None
    values[marked] = f"'{MARK}{uuid.uuid4().hex}'"
    names = ", ".join(f'"{name}"' for name in values)
    target = f'{alias}.main."{table}"'
    return (f"INSERT INTO {target} ({names}) VALUES ({', '.join(values.values())})",  # type: ignore[arg-type]
            f'DELETE FROM {target} WHERE "{marked}" = {values[marked]}')


def prime_statistics(cur: duckdb.DuckDBPyConnection, alias: str, tables: Sequence[str] | None = None) -> list[str]:
    """Give every table without statistics (or these `tables`, listed by `bare_tables` before) its statistics;
    return the tables primed.

    Best effort: a conflict with another writer, or any failure, leaves the tables as they were (reads stay
    correct, only slower) and the next writer process tries again."""
    try:
        tables = bare_tables(cur, alias) if tables is None else tables
        stubs = {t: _stub(cur, alias, t) for t in tables}
    except duckdb.Error as exc:
        log.debug("could not list the tables without statistics: %s", exc)
        return []
    primed = [t for t, stub in stubs.items() if stub is not None]
    if not primed:
        return []
    cur.execute("BEGIN")
    try:
        for table in primed:
            insert, delete = stubs[table]  # type: ignore[misc]
            cur.execute(insert)
            cur.execute(delete)
        cur.execute("COMMIT")
    except duckdb.Error as exc:
        try:
            cur.execute("ROLLBACK")
        except duckdb.Error:  # a failed COMMIT already ended it
            pass
        log.debug("could not prime the statistics of %s: %s", ", ".join(primed), exc)
        return []
    return primed
