"""Confidence intervals the gate judges with: honest with small suites, deterministic across runs.

A release gate that fails on one flaky case in twenty gets switched off; one that never fails is
useless. So a change counts only when it is larger than the allowed change *with confidence*:

- proportions (error rate, flag rate): Newcombe's hybrid score interval (method 10 of Newcombe
  1998, "Interval estimation for the difference between independent proportions") for the
  difference candidate - baseline, built from two Wilson score intervals. It stays inside [-1, 1],
  behaves with zero counts (0/20 vs 0/20) and keeps close to nominal coverage for small n, where
  the textbook Wald interval is far too narrow.
- p95 latency: a percentile bootstrap of the ratio p95(candidate) / p95(baseline), resampling each
  run independently with a fixed seed, so the same data always gives the same verdict. The
  resampled quantiles are drawn exactly through order statistics (no resample is built), so a
  million-call run costs no more than a small one.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np


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


def bootstrap_quantiles(values: np.ndarray, q: float, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """`resamples` draws of the q-quantile (linear interpolation) of a bootstrap resample of `values`.

    Exact without building resamples: a resample's r-th smallest value is x_(ceil(n·U)) where U is the
    r-th smallest of n uniforms, U ~ Beta(r, n-r+1); the next one up is U + (1-U)·Beta(1, n-r). So
    the cost is O(resamples) whatever n (a million-call run costs what a 20-call one does), and
    the draws are the same as resampling (with replacement, same size) would give in law.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    h = (n - 1) * q
    k = int(np.floor(h))  # 0-based: the quantile sits between order statistics k and k+1
    frac = h - k
    u1 = rng.beta(k + 1, n - k, size=resamples)
    low = x[np.clip(np.ceil(n * u1).astype(np.int64) - 1, 0, n - 1)]
    if frac == 0.0 or k + 1 >= n:
        return low
    u2 = u1 + (1.0 - u1) * rng.beta(1, n - k - 1, size=resamples)
    high = x[np.clip(np.ceil(n * u2).astype(np.int64) - 1, 0, n - 1)]
    return (1.0 - frac) * low + frac * high


def bootstrap_quantile_ratio(
    candidate: np.ndarray,
    baseline: np.ndarray,
    q: float = 0.95,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 20240611,
) -> tuple[float, float, float]:
    """Ratio quantile_q(candidate) / quantile_q(baseline) with a percentile bootstrap interval.

    Each run is resampled independently, `resamples` times (see `bootstrap_quantiles`); the
    interval is the (1-c)/2 and (1+c)/2 percentiles of the resampled ratios. The generator is
    seeded and the values sorted, so the result depends on the data only, not on row order.
    Returns (ratio, lower, upper). Both samples must be non-empty with a positive baseline quantile.
    """
    if len(candidate) == 0 or len(baseline) == 0:
        raise ValueError("both samples need at least one value")
    base_q = percentile(baseline, q)
    if base_q <= 0:
        raise ValueError("the baseline quantile is not positive; a ratio means nothing")
    ratio = percentile(candidate, q) / base_q
    rng = np.random.default_rng(seed)
    qc = bootstrap_quantiles(candidate, q, resamples, rng)
    qb = bootstrap_quantiles(baseline, q, resamples, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(qb > 0, qc / np.where(qb > 0, qb, 1.0), np.inf)
    alpha = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(ratios, [alpha, 1.0 - alpha])
    return ratio, float(lower), float(upper)
