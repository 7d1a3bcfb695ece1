"""The filters a person sets on a page, turned into SQL conditions with bound parameters, and the
values each filter can take."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vton_eval.store.base import Store
from vton_eval.store.reads import reading


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


def filter_options(db: Store) -> dict[str, list[str]]:
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
