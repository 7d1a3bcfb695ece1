"""The leaderboard of one dataset: every suite run that has blind picks, ranked by its Bradley-Terry score.

    board = leaderboard(db, dataset="sample")            # all workflows; workflow="top" for one
    board.rows      # [{run_id, label, system, score, ci_low, ci_high, picks, rank, wins, ties, losses}]
    board.settled   # True when no adjacent pair's order is open any more (see `Neighbours`)

A run is a system here: two runs of one service (two model versions) are ranked apart, as two services
are. `system` names what it called (profile @ endpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vton_eval.analytics import arena as queries
from vton_eval.arena.model import CONFIDENCE, EQUIVALENCE, RESAMPLES, Fit, Picks, fit
from vton_eval.errors import VtonEvalError
from vton_eval.store.base import Store
from vton_eval.store.reads import Reader, reading

OPEN, SEPARATED, ALIKE = "open", "separated", "alike"


class ArenaError(VtonEvalError, ValueError):
    """No ranking can be made as asked (no dataset with picks, an unknown one)."""


@dataclass(frozen=True)
class Neighbours:
    """Two systems next to each other in the ranking: `separated` when the interval of their difference
    excludes 0, `alike` when it lies within ±EQUIVALENCE points, else `open` (more picks could swap them)."""

    upper: str
    lower: str
    gap: float
    low: float
    high: float
    status: str


@dataclass
class Board:
    dataset: str
    workflow: str | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    neighbours: list[Neighbours] = field(default_factory=list)
    picks: int = 0
    reviewers: int = 0
    cases: int = 0
    confidence: float = CONFIDENCE
    reviewers_resampled: bool = False
    fit: Fit | None = None
    index: dict[str, int] = field(default_factory=dict)  # run id -> the fit's system number

    @property
    def settled(self) -> bool:
        return len(self.rows) >= 2 and all(n.status != OPEN for n in self.neighbours)

    @property
    def open_pairs(self) -> list[Neighbours]:
        return [n for n in self.neighbours if n.status == OPEN]

    def json_rows(self) -> list[dict[str, Any]]:
        """What `vton-eval arena --json` prints: run_id, label, system, score, ci_low, ci_high, picks."""
        keys = ("run_id", "label", "system", "score", "ci_low", "ci_high", "picks")
        return [{k: r[k] for k in keys} for r in self.rows]

    def settled_text(self) -> str:
        if len(self.rows) < 2:
            return "no ranking yet: blind picks between at least two runs are needed"
        if self.settled:
            return (f"settled: every two neighbours in the ranking are apart or alike within ±{EQUIVALENCE:.0f} "
                    f"points at {self.confidence:.0%} confidence; more picks would not change the order")
        names = ", ".join(f"{n.upper} / {n.lower}" for n in self.open_pairs)
        return f"not settled: {len(self.open_pairs)} neighbouring pair(s) could still swap ({names})"


def system_name(profile: str | None, endpoint: str | None) -> str:
    return f"{profile or 'sm4ll'} @ {endpoint or '?'}"


def resolve_dataset(read: Reader, dataset: str | None) -> str:
    """The dataset asked for, or the one with the newest pick; ArenaError naming the choices otherwise."""
    known = queries.datasets(read)
    names = known["dataset"].tolist() if not known.empty else []
    if dataset:
        if dataset not in names:
            listed = ", ".join(names) or "none"
            raise ArenaError(f"no dataset {dataset!r} with two or more suite runs (datasets with two or more: "
                             f"{listed})")
        return dataset
    with_picks = known[known["picks"] > 0] if not known.empty else known
    if with_picks.empty:
        raise ArenaError("no blind picks yet: judge outputs in the Compare page's blind view first")
    return str(with_picks.iloc[0]["dataset"])


def board_from(picks: pd.DataFrame, runs: pd.DataFrame, dataset: str, workflow: str | None,
               resamples: int = RESAMPLES, confidence: float = CONFIDENCE, by_reviewer: bool = False) -> Board:
    """A board from the picks and the runs (as `vton_eval.analytics.arena` reads them)."""
    board = Board(dataset, workflow, confidence=confidence)
    if picks.empty:
        return board
    ids = sorted(set(picks["run_a"]) | set(picks["run_b"]))
    index = {r: i for i, r in enumerate(ids)}
    cases = {c: i for i, c in enumerate(sorted(set(zip(picks["pair_id"], picks["repeat"].astype(int), strict=True))))}
    reviewers = {r: i for i, r in enumerate(sorted(set(picks["reviewer"])))}
    data = Picks.of(len(ids), picks["run_a"].map(index), picks["run_b"].map(index), picks["score"].astype(float),
                    [cases[(p, int(r))] for p, r in zip(picks["pair_id"], picks["repeat"], strict=True)],
                    picks["reviewer"].map(reviewers))
    result = fit(data, confidence, resamples, by_reviewer=by_reviewer)
    info = {r["run_id"]: r for r in runs.to_dict("records")}
    wins = np.zeros(len(ids))
    ties = np.zeros(len(ids))
    np.add.at(wins, data.first, data.score == 1.0)
    np.add.at(wins, data.second, data.score == 0.0)
    np.add.at(ties, data.first, data.score == 0.5)
    np.add.at(ties, data.second, data.score == 0.5)
    order = sorted(range(len(ids)), key=lambda i: (-result.scores[i], ids[i]))
    for rank, i in enumerate(order, start=1):
        run = info.get(ids[i], {})
        n = int(result.picks[i])
        board.rows.append({"rank": rank, "run_id": ids[i], "label": run.get("label"),
                           "system": system_name(run.get("profile"), run.get("endpoint")),
                           "score": round(float(result.scores[i]), 1), "ci_low": round(float(result.ci_low[i]), 1),
                           "ci_high": round(float(result.ci_high[i]), 1), "picks": n, "wins": int(wins[i]),
                           "ties": int(ties[i]), "losses": n - int(wins[i]) - int(ties[i])})
    for upper, lower in zip(order, order[1:], strict=False):
        gap, lo, hi = result.difference(upper, lower)
        status = SEPARATED if lo > 0 else ALIKE if lo > -EQUIVALENCE and hi < EQUIVALENCE else OPEN
        board.neighbours.append(Neighbours(ids[upper], ids[lower], round(gap, 1), round(lo, 1), round(hi, 1), status))
    board.picks, board.reviewers, board.cases = len(data), len(reviewers), len(cases)
    board.reviewers_resampled, board.fit, board.index = result.reviewers_resampled, result, index
    return board


def leaderboard(db: Store, dataset: str | None = None, workflow: str | None = None,
                resamples: int = RESAMPLES, by_reviewer: bool = False) -> Board:
    """The ranking of the suite runs of `dataset` (default: the one with the newest pick) from every blind pick
    between two of them, over all workflows or one. `by_reviewer`: resample reviewers too (wider intervals)."""
    with reading(db) as read:
        name = resolve_dataset(read, dataset)
        picks = queries.picks(read, name, workflow)
        runs = queries.runs(read, name)
    return board_from(picks, runs, name, workflow, resamples, by_reviewer=by_reviewer)


def arena_datasets(db: Store) -> pd.DataFrame:
    """Datasets with two or more suite runs: dataset, runs, picks, last_pick (newest picks first)."""
    with reading(db) as read:
        return queries.datasets(read)


def arena_runs(db: Store, dataset: str) -> pd.DataFrame:
    """The suite runs of `dataset` (newest first): run_id, label, profile, endpoint, status, created_at, outputs."""
    with reading(db) as read:
        return queries.runs(read, dataset)


def pick_workflows(db: Store, dataset: str) -> list[str]:
    with reading(db) as read:
        return queries.workflows(read, dataset)
