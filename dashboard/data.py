"""Cached wrappers around vton_eval's read queries, keyed by the database path (a plain string)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboard.common import cached
from vton_eval.analytics import failures, filters, overview
from vton_eval.analytics.filters import RunFilter
from vton_eval.analytics.overview import Overview
from vton_eval.store import Store, open_store
from vton_eval.store.runs import SUITE, TRY, list_runs


def _db(path: str) -> Store:
    return open_store(path, busy_timeout_s=3.0)


@cached()
def filter_options(path: str) -> dict[str, list[str]]:
    return filters.filter_options(_db(path))


@cached()
def pick_runs(path: str, flt: RunFilter) -> pd.DataFrame:
    return overview.pick_runs(_db(path), flt)


@cached()
def overview_data(path: str, run_id: str, flt: RunFilter) -> Overview:
    return overview.overview(_db(path), run_id, flt)


@cached()
def failure_groups(path: str, run_ids: tuple[str, ...], flt: RunFilter) -> pd.DataFrame:
    return failures.failure_groups(_db(path), list(run_ids), flt)


@cached()
def failure_cases(path: str, run_ids: tuple[str, ...], kind: str, cause: str, flt: RunFilter) -> pd.DataFrame:
    return failures.failure_cases(_db(path), list(run_ids), kind, cause, flt)


@cached(ttl=1.0)
def runs(path: str) -> list[dict[str, Any]]:
    """Suite runs for the Runs page's table (tries have their own list)."""
    return list_runs(_db(path), limit=500, kind=SUITE)


@cached(ttl=1.0)
def tries(path: str) -> list[dict[str, Any]]:
    return list_runs(_db(path), limit=50, kind=TRY)
