"""Confidence intervals the gate judges with: honest with small suites, deterministic across runs.

A release gate that fails on one flaky case in twenty gets switched off; one that never fails is
useless. So a change counts only when it is larger than the allowed change *with confidence*:

- proportions (error rate, flag rate): Newcombe's hybrid score interval (method 10 of Newcombe
  1998, "Interval estimation for the difference between independent proportions") for the
  difference candidate - baseline, built from two Wilson score intervals. It stays inside [-1, 1],
  behaves with zero counts (0/20 vs 0/20) and keeps close to nominal coverage for small n, where
  the textbook Wald interval is far too narrow.
- p95 latency: a percentile bootstrap of the ratio p95(candidate) / p95(baseline), resampling each
  run independently with a fixed seed, so the same data always gives the same verdict.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

# Beyond this many calls a run's latencies are subsampled (seeded, without replacement) before the
# bootstrap: the interval then comes out slightly wider than the data would allow (conservative, never
# a false alarm) and the cost stays bounded (B x n draws) on million-row runs.
BOOTSTRAP_MAX_SAMPLES = 10_000


def z_value(confidence: float) -> float:
    """The two-sided normal quantile: 0.95 -> 1.95996..."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (got {confidence})")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n: (lower, upper); (0, 1) when n = 0.

    lower, upper = (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), with p = k/n.
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise ValueError(f"count {k} is not between 0 and {n}")
    z = z_value(confidence)
    p = k / n
    denom = 1.0 + z * z / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lower = max(0.0, (centre - half) / denom)
    upper = min(1.0, (centre + half) / denom)
    # Exact ends for 0 and n (the formula gives them up to rounding).
    return (0.0 if k == 0 else lower), (1.0 if k == n else upper)


def newcombe_difference(
    k_candidate: int, n_candidate: int, k_baseline: int, n_baseline: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Difference of two proportions, candidate - baseline, with Newcombe's hybrid score interval.

    With p1 = k1/n1 (candidate), p2 = k2/n2 (baseline), (l1, u1) and (l2, u2) their Wilson
    intervals, and d = p1 - p2:

        lower = d - sqrt((p1 - l1)² + (u2 - p2)²)
        upper = d + sqrt((u1 - p1)² + (p2 - l2)²)

    Returns (d, lower, upper). Both counts must be positive.
    """
    if n_candidate <= 0 or n_baseline <= 0:
        raise ValueError("both proportions need at least one case")
    p1, p2 = k_candidate / n_candidate, k_baseline / n_baseline
    l1, u1 = wilson(k_candidate, n_candidate, confidence)
    l2, u2 = wilson(k_baseline, n_baseline, confidence)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, lower), min(1.0, upper)


def percentile(values: np.ndarray, q: float) -> float:
    """The q-quantile with linear interpolation: the same as DuckDB's `quantile_cont`."""
    return float(np.quantile(values, q))


def _cap(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(values) <= BOOTSTRAP_MAX_SAMPLES:
        return values
    return rng.choice(values, size=BOOTSTRAP_MAX_SAMPLES, replace=False)


def bootstrap_quantile_ratio(
    candidate: np.ndarray,
    baseline: np.ndarray,
    q: float = 0.95,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 20240611,
) -> tuple[float, float, float]:
    """Ratio quantile_q(candidate) / quantile_q(baseline) with a percentile bootstrap interval.

    Each run is resampled independently (with replacement, same size), `resamples` times; the
    interval is the (1-c)/2 and (1+c)/2 percentiles of the resampled ratios. Inputs are sorted first
    and the generator is seeded, so the result depends on the data only, not on row order.
    Returns (ratio, lower, upper). Both samples must be non-empty with a positive baseline quantile.
    """
    if len(candidate) == 0 or len(baseline) == 0:
        raise ValueError("both samples need at least one value")
    cand = np.sort(np.asarray(candidate, dtype=np.float64))
    base = np.sort(np.asarray(baseline, dtype=np.float64))
    base_q = percentile(base, q)
    if base_q <= 0:
        raise ValueError("the baseline quantile is not positive; a ratio means nothing")
    ratio = percentile(cand, q) / base_q
    rng = np.random.default_rng(seed)
    cand_s, base_s = _cap(cand, rng), _cap(base, rng)
    ratios = np.empty(resamples, dtype=np.float64)
    # Chunks keep the index matrices at a few million entries whatever the run size.
    chunk = max(1, 4_000_000 // max(len(cand_s), len(base_s)))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        qc = np.quantile(cand_s[rng.integers(0, len(cand_s), size=(size, len(cand_s)))], q, axis=1)
        qb = np.quantile(base_s[rng.integers(0, len(base_s), size=(size, len(base_s)))], q, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[start:start + size] = np.where(qb > 0, qc / np.where(qb > 0, qb, 1.0), np.inf)
    alpha = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(ratios, [alpha, 1.0 - alpha])
    return ratio, float(lower), float(upper)
