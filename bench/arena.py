"""How many blind picks the arena needs to tell two systems apart, by how far apart they are.

For each gap in points (the readable scale: +35 = preferred in 55 % of picks, +70 = 60 %, +100 = 64 %,
+200 = 76 %), two systems, picks drawn from those strengths with 30 % ties between equals
(`vton_eval.arena.simulate`), one pick per case; for each number of picks, the share of simulations in
which the 95 % interval of their difference excludes 0 (the arena calls them "separated"). Prints the
fewest picks that separate them in 80 % of simulations.

    .venv/bin/python bench/arena.py [--sims 30] [--resamples 150]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vton_eval.arena.model import SCALE, Picks, expected_share, fit  # noqa: E402
from vton_eval.arena.simulate import outcome, win_probability  # noqa: E402

GAPS = (35, 70, 100, 200)
PICKS = (25, 50, 100, 200, 400, 800, 1600, 3200)


def separated_share(gap: float, n: int, sims: int, resamples: int) -> float:
    theta = np.array([gap / SCALE, 0.0])
    hits = 0
    for s in range(sims):
        rng = np.random.default_rng(10_000 * n + s)
        score = outcome(win_probability(np.full(n, theta[0]), np.full(n, theta[1])), 0.3, rng)
        result = fit(Picks.of(2, np.zeros(n), np.ones(n), score, np.arange(n), np.zeros(n)), resamples=resamples,
                     seed=s)
        _, lo, _ = result.difference(0, 1)
        hits += lo > 0
    return hits / sims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=30)
    parser.add_argument("--resamples", type=int, default=150)
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"{'gap':>6} {'share':>6}  " + " ".join(f"{n:>6}" for n in PICKS) + "   picks for 80 %")
    for gap in GAPS:
        shares, needed = [], None
        for n in PICKS:
            if needed is not None and n > needed * 2:  # well past the answer: not simulated
                shares.append(None)
                continue
            share = separated_share(gap, n, args.sims, args.resamples)
            shares.append(share)
            if needed is None and share >= 0.8:
                needed = n
        cells = " ".join("     -" if s is None else f"{s:>6.0%}" for s in shares)
        print(f"{gap:>+6} {expected_share(gap):>6.0%}  {cells}   {needed or f'> {PICKS[-1]}'}")
    print(f"({args.sims} simulations per cell, {args.resamples} bootstrap resamples each; "
          f"{time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
