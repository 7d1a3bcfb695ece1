"""The filters a person sets on a page, turned into SQL conditions with bound parameters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vton_eval.store.db import Database, NoDatabase


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
def reading(db: Database) -> Iterator[Callable[..., pd.DataFrame]]:
    """Several read queries on one short connection (opening one costs ~10-20 ms).

    Yields `read(sql, params)`; with no database yet, every read gives an empty frame."""
    try:
        with db.connect(read_only=True) as con:
            yield lambda sql, params=(): _clean(
                con.execute(sql, params if isinstance(params, Mapping) else list(params)).df())
    except NoDatabase:
        yield lambda sql, params=(): pd.DataFrame()


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    # pandas 3 stores missing text as NaN (a float); callers test text with `if value`, so use None.
    for column in df.columns:
        if pd.api.types.is_string_dtype(df[column]) or df[column].dtype == object:
            df[column] = df[column].astype(object).where(df[column].notna(), None)
    return df


def filter_options(db: Database) -> dict[str, list[str]]:
    """The values each filter can take, from what is recorded."""
    runs = frame(db, "SELECT DISTINCT dataset, coalesce(label, '') AS label FROM runs")
    wfs = frame(db, "SELECT DISTINCT workflow FROM cases ORDER BY 1")
    return {
        "datasets": sorted(runs["dataset"].unique().tolist()) if not runs.empty else [],
        "labels": sorted(runs["label"].unique().tolist()) if not runs.empty else [],
        "workflows": wfs["workflow"].tolist() if not wfs.empty else [],
    }
