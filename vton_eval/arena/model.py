"""The arena's statistics: Bradley-Terry strengths from blind picks, bootstrap intervals, a readable scale.

The model. Each system i has a strength θ_i; when two systems' outputs for the same inputs are put
side by side, i's expected share of the pick is σ(θ_i - θ_j) = 1 / (1 + e^-(θ_i - θ_j)), a tie counting
half a pick for each side (Bradley-Terry with ties split, as Chatbot Arena and choix do). Nothing is
assumed about how often people tie: a tie between two systems only says they are close.

The fit is choix's maximum-likelihood estimate on the matrix of (fractional) wins, `ilsr_pairwise_dense`,
with a small regularisation (`ALPHA`: a system that won every pick, or was never compared, keeps a
finite score near the others instead of running off to infinity).

The scale. Scores are shown like chess ratings: 1000 is the average system of the board, and a gap of
D points means the higher one is expected to take 1 / (1 + 10^(-D/400)) of the picks between them:
+35 ≈ 55 %, +70 ≈ 60 %, +100 ≈ 64 %, +200 ≈ 76 %, +400 ≈ 91 %.

The intervals. Picks are not independent: the reviewers who judged one case saw the same two images. So
the bootstrap resamples whole cases (every pick on a case, by every reviewer, goes in or out together), and
the interval is the percentile interval of the resampled scores, seeded: the same picks give the same board.
Measured on picks drawn from known strengths (tests/test_arena.py), a 95 % interval covers the truth 93-95 %
of the time. One reviewer's taste also runs through all their picks; `by_reviewer=True` resamples reviewers
too (two-way, each pick weighted by its case's count times its reviewer's). That interval is about 1.4 times
wider even when reviewers agree (it covered the truth in 100 % of the same draws with six reviewers), so it
is asked for when reviewers are known to differ (the Reviewers tab, `vton-eval agreement`), not by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import choix
import numpy as np

SCALE = 400.0 / math.log(10.0)  # points per unit of θ (natural-log odds)
CENTRE = 1000.0
ALPHA = 0.01  # choix's regularisation: the LSR chain starts with this rate between every two systems
CONFIDENCE = 0.95
RESAMPLES = 400
SEED = 20240611
# Two systems whose difference lies inside ±this many points with confidence count as equal: a ranking
# never settles the order of two systems that are really alike, so being sure they are alike settles it.
EQUIVALENCE = 35.0


def expected_share(points_gap: float) -> float:
    """The share of picks (a tie counting half) a system `points_gap` points above another is expected to take."""
    return 1.0 / (1.0 + 10.0 ** (-points_gap / 400.0))


@dataclass(frozen=True)
class Picks:
    """Blind picks as arrays, systems and cases and reviewers numbered from 0.

    `first`, `second`: the two systems of each pick; `score`: 1 when `first` won, 0 when `second` won,
    0.5 for a tie; `case`, `reviewer`: which case and who (for the bootstrap)."""

    n_systems: int
    first: np.ndarray
    second: np.ndarray
    score: np.ndarray
    case: np.ndarray
    reviewer: np.ndarray

    @staticmethod
    def of(n_systems: int, first, second, score, case, reviewer) -> Picks:
        arrays = [np.asarray(a) for a in (first, second, score, case, reviewer)]
        if len({len(a) for a in arrays}) != 1:
            raise ValueError("every array of picks must have one entry per pick")
        return Picks(n_systems, arrays[0].astype(np.int64), arrays[1].astype(np.int64),
                     arrays[2].astype(np.float64), arrays[3].astype(np.int64), arrays[4].astype(np.int64))

    def __len__(self) -> int:
        return len(self.score)

    @property
    def counts(self) -> np.ndarray:
        """Picks each system took part in."""
        return np.bincount(np.concatenate([self.first, self.second]), minlength=self.n_systems)


@dataclass
class Fit:
    """Scores on the readable scale, their intervals, and the resampled scores behind them."""

    scores: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    draws: np.ndarray  # (resamples, systems), on the readable scale
    confidence: float
    reviewers_resampled: bool
    picks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def difference(self, i: int, j: int) -> tuple[float, float, float]:
        """Score i - score j with its percentile interval from the same resamples."""
        d = self.draws[:, i] - self.draws[:, j]
        tail = (1.0 - self.confidence) / 2.0
        lo, hi = np.quantile(d, [tail, 1.0 - tail])
        return float(self.scores[i] - self.scores[j]), float(lo), float(hi)


def win_matrix(n: int, first: np.ndarray, second: np.ndarray, score: np.ndarray,
               weight: np.ndarray | None = None) -> np.ndarray:
    """m[i, j] = (weighted) picks i took from j, a tie giving half to each."""
    w = np.ones(len(score)) if weight is None else weight
    m = np.zeros((n, n))
    np.add.at(m, (first, second), w * score)
    np.add.at(m, (second, first), w * (1.0 - score))
    return m


def strengths(m: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """θ from a win matrix (choix's ML estimate, regularised), centred on 0. `start`: a nearby estimate to
    begin from (a resample starts from the full data's: half the iterations)."""
    theta = choix.ilsr_pairwise_dense(m, alpha=ALPHA, initial_params=start, max_iter=500, tol=1e-7)
    return theta - theta.mean()


def points(theta: np.ndarray) -> np.ndarray:
    return CENTRE + SCALE * (theta - theta.mean(axis=-1, keepdims=True))


def _cells(picks: Picks, by_reviewer: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pick's contribution to the win matrix summed per resampling cell (case, or case x reviewer):
    (cell of each pick, the cells' flattened matrices, each cell's case and reviewer)."""
    n = picks.n_systems
    keys = picks.case * (int(picks.reviewer.max()) + 1) + picks.reviewer if by_reviewer else picks.case
    cells, cell_of = np.unique(keys, return_inverse=True)
    flat = np.zeros((len(cells), n * n))
    np.add.at(flat, (cell_of, picks.first * n + picks.second), picks.score)
    np.add.at(flat, (cell_of, picks.second * n + picks.first), 1.0 - picks.score)
    return cell_of, flat, cells


def fit(picks: Picks, confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = SEED,
        by_reviewer: bool = False) -> Fit:
    """Scores and percentile intervals, resampling cases (and reviewers too with `by_reviewer`, given two or more)."""
    n = picks.n_systems
    if n < 2 or len(picks) == 0:
        raise ValueError("a ranking needs picks between at least two systems")
    rng = np.random.default_rng(seed)
    theta = strengths(win_matrix(n, picks.first, picks.second, picks.score))
    point = points(theta)
    case_ids, case_index = np.unique(picks.case, return_inverse=True)
    rev_ids, rev_index = np.unique(picks.reviewer, return_inverse=True)
    by_reviewer = by_reviewer and len(rev_ids) >= 2
    local = Picks(n, picks.first, picks.second, picks.score, case_index, rev_index)
    _, flat, cells = _cells(local, by_reviewer)
    if by_reviewer:
        cell_case, cell_rev = cells // len(rev_ids), cells % len(rev_ids)
    else:
        cell_case, cell_rev = cells, np.zeros(len(cells), dtype=np.int64)
    draws = np.empty((resamples, n))
    for start in range(0, resamples, 100):
        b = min(100, resamples - start)
        w_case = rng.multinomial(len(case_ids), np.full(len(case_ids), 1.0 / len(case_ids)), size=b)
        w = w_case[:, cell_case].astype(np.float64)
        if by_reviewer:
            w_rev = rng.multinomial(len(rev_ids), np.full(len(rev_ids), 1.0 / len(rev_ids)), size=b)
            w *= w_rev[:, cell_rev]
        mats = (w @ flat).reshape(b, n, n)
        for k in range(b):
            draws[start + k] = points(strengths(mats[k], theta))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail], axis=0)
    return Fit(point, low, high, draws, confidence, by_reviewer, picks.counts)
