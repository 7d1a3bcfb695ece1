"""The filters a person sets on a page, turned into SQL conditions with bound parameters; and how the
read queries reach the database (`frame`, `reading`, and `one_connection` for a whole page render)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from vton_eval.store.db import Database, NoDatabase

Read = Callable[..., pd.DataFrame]  # `read(sql, params)` from `reading`: several queries, one connection


@dataclass(frozen=True)
class RunFilter:
    datasets: tuple[str, ...] = ()
    workflows: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None

    def run_sql(self, alias: str = "r") -> tuple[str, list[Any]]:
        """A WHERE fragment on the runs table (always valid, 'TRUE' when nothing is set)."""
        parts, params = ["TRUE"], []
        if self.datasets:
            parts.append(f"{alias}.dataset IN ({_marks(self.datasets)})")
            params += list(self.datasets)
        if self.labels:
            parts.append(f"coalesce({alias}.label, '') IN ({_marks(self.labels)})")
            params += list(self.labels)
        if self.since:
            parts.append(f"{alias}.created_at >= ?")
            params.append(dt.datetime.combine(self.since, dt.time.min))
        if self.until:
            parts.append(f"{alias}.created_at < ?")
            params.append(dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time.min))
        return " AND ".join(parts), params

    def result_sql(self, alias: str = "res") -> tuple[str, list[Any]]:
        if not self.workflows:
            return "TRUE", []
        return f"{alias}.workflow IN ({_marks(self.workflows)})", list(self.workflows)


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def frame(db: Database, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> pd.DataFrame:
    """Run a read-only query into a DataFrame; no database yet means an empty frame.

    `params` are positional (?) or named ($name, given as a mapping)."""
    with reading(db) as read:
        return read(sql, params)


@contextmanager
def reading(db: Database) -> Iterator[Read]:
    """Several read queries on one short connection (opening one costs ~15-30 ms).

    Yields `read(sql, params)`; with no database yet, every read gives an empty frame. Inside
    `one_connection(db)` the block's shared connection serves instead."""
    shared = _SHARED.get()
    if shared is not None and shared.db.path == db.path:
        yield shared.read
        return
    try:
        with db.connect(read_only=True) as con:
            yield lambda sql, params=(): _run(con, sql, params)
    except NoDatabase:
        yield lambda sql, params=(): pd.DataFrame()


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> pd.DataFrame:
    return _clean(con.execute(sql, params if isinstance(params, Mapping) else list(params)).df())


class _Shared:
    """The connection of a `one_connection` block, opened at its first query."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._opened: AbstractContextManager[duckdb.DuckDBPyConnection] | None = None
        self._con: duckdb.DuckDBPyConnection | None = None

    def read(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> pd.DataFrame:
        if self._con is None:
            opened = self.db.connect(read_only=True)
            self._con = opened.__enter__()
            self._opened = opened
        return _run(self._con, sql, params)

    def close(self) -> None:
        if self._opened is not None:
            self._opened.__exit__(None, None, None)
            self._opened = self._con = None


_SHARED: ContextVar[_Shared | None] = ContextVar("vton_eval_shared_read", default=None)


@contextmanager
def one_connection(db: Database) -> Iterator[None]:
    """Every read of `db` in this block (this thread) shares one read-only connection, opened at the first
    query that is not answered from a cache and closed at the end of the block.

    A page renders in a few hundred ms, and opening a connection costs 15-30 ms: one per page instead of
    one per query. Nothing in the block may write to `db` (DuckDB refuses a read-write connection beside
    a read-only one in the same process), and the block must not wait on a person or the network."""
    if not db.exists():  # `reading` answers empty frames; nothing to share
        yield
        return
    shared = _Shared(db)
    token = _SHARED.set(shared)
    try:
        yield
    finally:
        _SHARED.reset(token)
        shared.close()


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    # pandas 3 stores missing text as NaN (a float); callers test text with `if value`, so use None.
    for column in df.columns:
        if pd.api.types.is_string_dtype(df[column]) or df[column].dtype == object:
            df[column] = df[column].astype(object).where(df[column].notna(), None)
    return df


def filter_options(db: Database) -> dict[str, list[str]]:
    """The values each filter can take, from the suite runs recorded (their summaries, not their rows)."""
    with reading(db) as read:
        runs = read("SELECT DISTINCT dataset, coalesce(label, '') AS label FROM runs WHERE kind = 'suite'")
        wfs = read("SELECT DISTINCT workflow FROM run_summary WHERE run_id IN (SELECT run_id FROM runs "
                   "WHERE kind = 'suite') ORDER BY 1")
    return {
        "datasets": sorted(runs["dataset"].unique().tolist()) if not runs.empty else [],
        "labels": sorted(runs["label"].unique().tolist()) if not runs.empty else [],
        "workflows": wfs["workflow"].tolist() if not wfs.empty else [],
    }
