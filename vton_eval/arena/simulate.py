"""Blind picks drawn from known strengths: what the tests check the arena against and the bench measures.

The draw follows the model the arena fits (`vton_eval.arena.model`): between systems i and j, with
p = σ(θ_i - θ_j), a reviewer ties with probability t = tie_rate · 2 · min(p, 1 - p) (close systems tie
more often, as people do), else prefers i with probability p - t/2. So i's expected share of the pick,
a tie counting half, is exactly p.
"""

from __future__ import annotations

import numpy as np


def outcome(p: np.ndarray, tie_rate: float, rng: np.random.Generator) -> np.ndarray:
    """1 (the first system preferred), 0 (the second) or 0.5 (a tie) for each win probability in `p`."""
    p = np.asarray(p, dtype=np.float64)
    tie = tie_rate * 2.0 * np.minimum(p, 1.0 - p)
    u = rng.random(p.shape)
    return np.where(u < tie, 0.5, np.where(u < tie + p - tie / 2.0, 1.0, 0.0))


def win_probability(theta_i: np.ndarray, theta_j: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.asarray(theta_i) - np.asarray(theta_j))))


def draw(theta: np.ndarray, n_picks: int, tie_rate: float, rng: np.random.Generator,
         reviewers: int = 4, picks_per_case: int = 2) -> dict[str, np.ndarray]:
    """`n_picks` picks between random pairs of systems: arrays first, second, score, case, reviewer."""
    theta = np.asarray(theta, dtype=np.float64)
    n = len(theta)
    first = rng.integers(0, n, n_picks)
    second = (first + rng.integers(1, n, n_picks)) % n
    score = outcome(win_probability(theta[first], theta[second]), tie_rate, rng)
    return {"first": first, "second": second, "score": score, "case": np.arange(n_picks) // picks_per_case,
            "reviewer": rng.integers(0, reviewers, n_picks)}
