"""The pages' cached reads: vton_eval's read queries, keyed by the database path (a plain string), each cached for
a few seconds (pages rerun on every click, the data changes slowly), and the datasets, keyed by their folder and
their manifest's change time. A page that reads the store or a dataset reads it here."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from dashboard.common import cached, store_at
from vton_eval import settlements
from vton_eval.agreement import Agreement, agreement
from vton_eval.analytics import check_agreement, compare, failures, filters, overview, review
from vton_eval.analytics.compare import CaseFilter, CompareSetup, CompareView
from vton_eval.analytics.filters import RunFilter
from vton_eval.analytics.overview import Overview
from vton_eval.arena import Board, board, leaderboard
from vton_eval.datasets import Dataset, load_dataset
from vton_eval.store import Store
from vton_eval.store.runs import SUITE, TRY, list_runs


def _db(path: str) -> Store:
    return store_at(path)


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


# -- Compare ---------------------------------------------------------------------------------------------------


@cached()
def compare_setup(path: str, baseline: str | None) -> CompareSetup:
    return compare.compare_setup(_db(path), baseline)


@cached()
def compare_view(path: str, run_ids: tuple[str, ...], flt: CaseFilter, sort: str, page: int, page_size: int,
                 picks: int) -> tuple[CompareView, float]:
    """What the side-by-side view shows, and when it was read. `picks` counts this session's blind
    picks: a new one makes the win rates fresh at once."""
    return compare.compare_view(_db(path), run_ids, flt, sort, page, page_size), time.time()


# -- Review ----------------------------------------------------------------------------------------------------


@cached(ttl=30.0)
def review_options(path: str, run_id: str) -> dict[str, list[str]]:
    return review.review_options(_db(path), run_id)


@cached(ttl=15.0)
def check_agreement_table(path: str, run_id: str) -> pd.DataFrame:
    """Each automatic check's agreement with the run's verdicts (Review and Overview show it)."""
    return check_agreement.agreement(_db(path), [run_id])


# -- the arena: Leaderboard and the blind view ------------------------------------------------------------------


@cached()
def arena_datasets(path: str) -> pd.DataFrame:
    return board.arena_datasets(_db(path))


@cached()
def arena_runs(path: str, dataset: str) -> pd.DataFrame:
    return board.arena_runs(_db(path), dataset)


@cached()
def arena_workflows(path: str, dataset: str) -> list[str]:
    return board.pick_workflows(_db(path), dataset)


@cached(ttl=10.0)
def arena_board(path: str, dataset: str, workflow: str | None, picks_made: int = 0) -> Board:
    """The board (a bootstrap: ~0.1-0.5 s). `picks_made` counts this session's picks: a new one refits at once."""
    return leaderboard(_db(path), dataset, workflow)


@cached()
def arena_agreement(path: str, dataset: str, settled: int = 0) -> Agreement:
    return agreement(_db(path), dataset)


@cached()
def arena_queue(path: str, dataset: str, settled: int = 0) -> pd.DataFrame:
    return settlements.disagreements(_db(path), dataset)


# -- Datasets: files, keyed by the folder and its manifest's change time ----------------------------------------


@cached(ttl=30.0)
def dataset(path: str, stamp: float) -> Dataset:
    """A dataset with its images checked (what a run would send)."""
    return load_dataset(path)


@cached(ttl=30.0)
def dataset_to_browse(path: str, stamp: float) -> Dataset:
    """A dataset without decoding an image (validation does that); images named by URL come from the cache."""
    return load_dataset(path, check_images=False)
