"""The blind preference view's queries: the cases two runs share with an output each, and the picks so far.

`run_a`, `run_b` are the pair of runs in the order the `preferences` table stores them;
`baseline`, `candidate` the order a page shows them in (`vton_eval.preferences` owns both).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from vton_eval.stats import wilson
from vton_eval.store.judgements import canonical
from vton_eval.store.reads import Reader


def _pairs_sql(workflows: Sequence[str]) -> str:
    """Shared cases with an output on both sides; `same` when the two output files are byte-identical."""
    wf = f"AND x.workflow IN ({', '.join('?' for _ in workflows)})" if workflows else ""
    return f"""
        SELECT x.pair_id, x."repeat", x.workflow, c.base_path, c.product_path, c.mask_path,
               x.output_path AS out_x, y.output_path AS out_y, p.choice,
               coalesce(x.output_sha256, x.output_path) = coalesce(y.output_sha256, y.output_path) AS same,
               (SELECT count(*) FROM preferences o WHERE o.run_a = ? AND o.run_b = ? AND o.pair_id = x.pair_id
                AND o."repeat" = x."repeat" AND o.reviewer <> ?) AS others
        FROM results x JOIN results y ON y.run_id = ? AND y.pair_id = x.pair_id AND y."repeat" = x."repeat"
        LEFT JOIN cases c ON c.run_id = x.run_id AND c.pair_id = x.pair_id
        LEFT JOIN preferences p ON p.run_a = ? AND p.run_b = ? AND p.reviewer = ? AND p.pair_id = x.pair_id
             AND p."repeat" = x."repeat"
        WHERE x.run_id = ? AND x.output_path IS NOT NULL AND y.output_path IS NOT NULL {wf}"""


def _pairs_params(baseline: str, candidate: str, run_a: str, run_b: str, reviewer: str,
                  workflows: Sequence[str]) -> list[Any]:
    return [run_a, run_b, reviewer, candidate, run_a, run_b, reviewer, baseline, *workflows]


def _offered(read: Reader, baseline: str, candidate: str, run_a: str, run_b: str, reviewer: str,
             workflows: Sequence[str]) -> str:
    """The offered cases as a name to read from: the view's count and its next case read the two runs' rows
    once (`Reader.kept`), where each scan of four tables costs a shared store a round of catalog queries."""
    return read.kept(_pairs_sql(workflows), _pairs_params(baseline, candidate, run_a, run_b, reviewer, workflows))


def counts(read: Reader, baseline: str, candidate: str, run_a: str, run_b: str, reviewer: str,
           workflows: Sequence[str]) -> dict[str, int]:
    """{'total': cases offered, 'judged': by this reviewer, 'identical': byte-identical pairs left out}."""
    row = read.one(f"""SELECT count(*) FILTER (WHERE NOT same) AS total,
                              count(*) FILTER (WHERE NOT same AND choice IS NOT NULL) AS judged,
                              count(*) FILTER (WHERE same) AS identical
                       FROM {_offered(read, baseline, candidate, run_a, run_b, reviewer, workflows)}""")
    return {k: int((row or {}).get(k) or 0) for k in ("total", "judged", "identical")}


def next_case(read: Reader, baseline: str, candidate: str, run_a: str, run_b: str, reviewer: str,
              workflows: Sequence[str], case: tuple[str, int] | None, overlap: int = 1) -> dict[str, Any] | None:
    """The first offered case in this reviewer's shuffled order, or the given one; raw (both outputs as out_x /
    out_y, the reviewer's earlier choice, judged and total). Unjudged first; among them, the cases other
    reviewers judged fewer than `overlap` times (the overlap target) come first, those closest to it first,
    so a team brings cases to k judgements before starting new ones."""
    only = 'AND pair_id = ? AND "repeat" = ?' if case else ""
    row = read.one(f"""
        SELECT * FROM (SELECT *, count(*) FILTER (WHERE choice IS NOT NULL) OVER () AS judged,
                              count(*) OVER () AS total
                       FROM {_offered(read, baseline, candidate, run_a, run_b, reviewer, workflows)} WHERE NOT same)
        WHERE TRUE {only}
        ORDER BY choice IS NOT NULL, others >= ?, others DESC, md5(concat(pair_id, ':', "repeat", ':', ?)) LIMIT 1""",
        [*(case or ()), max(1, int(overlap)), reviewer])
    if row is None:
        return None
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


_WIN_SQL = """
    WITH p AS (
        SELECT workflow, reviewer, choice,
               CASE WHEN choice = 'left' THEN left_run
                    WHEN choice = 'right' THEN (CASE WHEN left_run = run_a THEN run_b ELSE run_a END) END AS winner
        FROM preferences WHERE run_a = ? AND run_b = ?)
    SELECT coalesce(workflow, '(all)') AS workflow, count(*) AS judgements,
           count(*) FILTER (WHERE winner = ?) AS candidate_wins,
           count(*) FILTER (WHERE winner = ?) AS baseline_wins,
           count(*) FILTER (WHERE choice = 'tie') AS ties,
           count(*) FILTER (WHERE choice = 'left') AS left_picks,
           count(DISTINCT reviewer) AS reviewers
    FROM p GROUP BY GROUPING SETS ((workflow), ()) HAVING count(*) > 0
    ORDER BY workflow IS NULL, workflow"""


def win_counts(read: Reader, run_a: str, run_b: str, baseline: str, candidate: str) -> pd.DataFrame:
    """Per workflow, then '(all)': judgements, candidate_wins, baseline_wins, ties, left_picks, reviewers."""
    return read.frame(_WIN_SQL, [run_a, run_b, candidate, baseline])


def win_table(counts: pd.DataFrame) -> pd.DataFrame:
    """Add win_share, ci_low, ci_high and left_share to rows with candidate_wins, baseline_wins, left_picks."""
    out = counts.copy()
    decisive = out["candidate_wins"] + out["baseline_wins"]
    out["decisive"] = decisive
    out["win_share"] = [w / d if d else math.nan for w, d in zip(out["candidate_wins"], decisive, strict=True)]
    # No decisive pick yet: no interval to show (the whole [0, 1] says nothing).
    bounds = [wilson(int(w), int(d)) if d else (math.nan, math.nan)
              for w, d in zip(out["candidate_wins"], decisive, strict=True)]
    out["ci_low"] = [lo for lo, _ in bounds]
    out["ci_high"] = [hi for _, hi in bounds]
    out["left_share"] = [lp / d if d else math.nan for lp, d in zip(out["left_picks"], decisive, strict=True)]
    return out


def win_rates_on(read: Reader, baseline: str, candidate: str) -> pd.DataFrame:
    """Win rates of `candidate` over `baseline` (see `vton_eval.preferences`) on an open reader."""
    counts = win_counts(read, *canonical(baseline, candidate), baseline, candidate)
    return win_table(counts) if not counts.empty else counts
