"""Writing to a shared store: lock rows for tables many people write, keys kept by anti-joins, and one
transaction per unit of work, run again whole on a write conflict (DuckLake conflicts at COMMIT)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from vton_eval.store.base import DatabaseBusy, T, Writer
from vton_eval.store.db import insert_staged

# Tables written by many people at once: their writes take the table's lock row.
LOCKED_TABLES = ("runs", "reviews", "preferences", "baselines", "pair_similarity", "settlements", "overlap_targets",
                "person_parses")


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower()


class LakeWriter(Writer):
    """Writes to DuckLake tables, which have no keys: anti-joins, and lock rows for shared tables."""

    def lock(self, name: str) -> None:
        """Take the lock row `name`: any two transactions that both take one conflict, so one of them
        runs again and sees what the other committed."""
        self.con.execute("UPDATE _locks SET n = n + 1 WHERE name = ?", [name])

    def _lock_for(self, table: str) -> None:
        if table in LOCKED_TABLES:
            self.lock(table)

    def insert_new(self, table: str, columns: Sequence[str], values: Sequence[tuple[Any, ...]],
                   key: Sequence[str]) -> int:
        return insert_staged(self, self.con, table, columns, values, key, temp_schema="temp.main.")

    def insert_select(self, table: str, columns: Sequence[str], select_sql: str, params: Any,
                      key: Sequence[str]) -> None:
        self._lock_for(table)
        names = [f'"{name}"' for name in columns]
        keys = [f'"{name}"' for name in key]
        match = " AND ".join(f"t.{k} IS NOT DISTINCT FROM s.{k}" for k in keys)
        # One row per key from the batch itself too (a journal replayed beside its own batch).
        self.execute(f"""
            INSERT INTO {table} ({', '.join(names)})
            SELECT {', '.join(f's.{n}' for n in names)} FROM ({select_sql}) AS s({', '.join(names)})
            WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {match})
            QUALIFY row_number() OVER (PARTITION BY {', '.join(f's.{k}' for k in keys)}) = 1
        """, params)

    def replace(self, table: str, columns: Sequence[str], values: tuple[Any, ...], key: Sequence[str]) -> None:
        self._lock_for(table)
        row = dict(zip(columns, values, strict=True))
        where = " AND ".join(f'"{k}" = ?' for k in key)
        self.con.execute(f"DELETE FROM {table} WHERE {where}", [row[k] for k in key])
        quoted = ", ".join(f'"{name}"' for name in columns)
        self.con.execute(f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' for _ in columns)})",
                         list(values))


def in_transaction(con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T],
                    timeout_s: float, what: str) -> T:
    """Run `work` in one transaction; on a write conflict, roll back and run all of it again."""
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    attempt = 0
    while True:
        attempt += 1
        con.execute("BEGIN")
        try:
            result = work(con)
            con.execute("COMMIT")
            return result
        except BaseException as exc:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:  # a failed COMMIT already ended it
                pass
            if not is_conflict(exc):
                raise
            if time.monotonic() >= deadline and attempt >= 3:
                raise DatabaseBusy(f"{what} stayed busy with other writers ({attempt} tries); "
                                   "try again in a moment") from None
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.5)
