"""Blind A/B preferences between two runs' outputs, and win rates with confidence intervals.

Storage: the `preferences` table (see store/schema.py), one row per (pair of runs, case, reviewer).

- The two runs are stored in a canonical order (run_a < run_b), whichever one a page called the
  baseline, so a reviewer has one judgement per case for a pair of runs and a later pick replaces
  the earlier one (INSERT OR REPLACE on the primary key).
- `choice` is what the reviewer clicked, 'left' | 'right' | 'tie', and `left_run` the run shown on
  the left. The winner is derived from the two; keeping the raw side lets position bias be measured
  (`left_share` in `win_rates`).
- The left/right order is a hash of (runs, case, reviewer): random across cases yet the same on every
  rerun and in every process (sha256, since Python's hash() is salted per process).

Win rate: the candidate's share of the decisive picks (ties excluded), with a 95% Wilson score
interval, which stays inside [0, 1] and keeps its coverage at small n and at 0 or n wins, where the
normal approximation does not. Ties are reported as their own count: counting them as half a win
would pull a tie-heavy comparison towards 50% with an interval that looks more certain than it is.
Several reviewers judging one case count as several judgements (not independent: with many
reviewers per case the interval is optimistic).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from vton_eval.analytics.filters import reading
from vton_eval.provenance import tool_version
from vton_eval.store.db import Database

CHOICES = ("left", "right", "tie")  # what is stored: the side clicked (the winner follows from left_run)
MAX_REVIEWER = 80  # as on the Review page, which shares the session's reviewer name


def canonical(run_x: str, run_y: str) -> tuple[str, str]:
    """The (run_a, run_b) order the table stores a pair of runs in."""
    return (run_x, run_y) if run_x <= run_y else (run_y, run_x)


def clean_reviewer(name: str | None) -> str:
    """A reviewer name as stored: trimmed (as the Review page stores it); ValueError when empty or too long."""
    cleaned = (name or "").strip()
    if not cleaned:
        raise ValueError("enter your name: it is stored with each pick")
    if len(cleaned) > MAX_REVIEWER:
        raise ValueError(f"a reviewer name has at most {MAX_REVIEWER} characters")
    return cleaned


def left_run_for(run_x: str, run_y: str, pair_id: str, repeat: int, reviewer: str) -> str:
    """Which of the two runs a reviewer sees on the left for a case (stable, about half each way)."""
    a, b = canonical(run_x, run_y)
    digest = hashlib.sha256("\x00".join((a, b, pair_id, str(int(repeat)), reviewer)).encode()).digest()
    return a if digest[0] & 1 else b


def record_preference(db: Database, baseline: str, candidate: str, pair_id: str, repeat: int, workflow: str,
                      reviewer: str, choice: str, left_run: str) -> None:
    """Store a pick at once; the same reviewer's earlier pick for the case (either run order) is replaced."""
    if choice not in CHOICES:
        raise ValueError(f"choice must be one of {', '.join(CHOICES)}, got {choice!r}")
    if left_run not in (baseline, candidate) or baseline == candidate:
        raise ValueError("left_run must be one of two different runs")
    a, b = canonical(baseline, candidate)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with db.connect() as con:
        con.execute('INSERT OR REPLACE INTO preferences (run_a, run_b, pair_id, "repeat", workflow, reviewer, choice, '
                    "left_run, created_at, tool_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [a, b, pair_id, int(repeat), workflow, clean_reviewer(reviewer), choice, left_run, now,
                     tool_version()])


def blind_case(db: Database, baseline: str, candidate: str, reviewer: str, workflows: Sequence[str] = (),
               case: tuple[str, int] | None = None) -> dict[str, Any] | None:
    """The next case this reviewer has not judged (or the given (pair_id, repeat)), ready to show blind.

    Cases are the shared ones where both runs have an output image and the two files differ (a
    byte-identical pair has nothing to prefer: `blind_counts` counts those apart), in an order
    shuffled per reviewer. Returns pair_id, repeat, workflow, base/product/mask paths, left_run,
    left_output, right_output, choice (this reviewer's earlier pick, or None), judged and total;
    None when nothing is left.
    """
    return blind_state(db, baseline, candidate, reviewer, workflows, case)[0]


def blind_state(db: Database, baseline: str, candidate: str, reviewer: str, workflows: Sequence[str] = (),
                case: tuple[str, int] | None = None) -> tuple[dict[str, Any] | None, pd.DataFrame, dict[str, int]]:
    """`blind_case`, `win_rates` and `blind_counts` read in one connection (what the blind view shows)."""
    with reading(db) as read:
        counts = _blind_counts(read, baseline, candidate, reviewer, workflows)
        shown = _blind_case(read, baseline, candidate, reviewer, workflows, case)
        return shown, win_rates_on(read, baseline, candidate), counts


def blind_counts(db: Database, baseline: str, candidate: str, reviewer: str,
                 workflows: Sequence[str] = ()) -> dict[str, int]:
    """{'total': cases offered, 'judged': judged by this reviewer, 'identical': byte-identical pairs left out}."""
    with reading(db) as read:
        return _blind_counts(read, baseline, candidate, reviewer, workflows)


def _pairs_sql(workflows: Sequence[str]) -> str:
    """Shared cases with an output on both sides; `same` when the two output files are byte-identical."""
    wf = f"AND x.workflow IN ({', '.join('?' for _ in workflows)})" if workflows else ""
    return f"""
        SELECT x.pair_id, x."repeat", x.workflow, c.base_path, c.product_path, c.mask_path,
               x.output_path AS out_x, y.output_path AS out_y, p.choice,
               coalesce(x.output_sha256, x.output_path) = coalesce(y.output_sha256, y.output_path) AS same
        FROM results x JOIN results y ON y.run_id = ? AND y.pair_id = x.pair_id AND y."repeat" = x."repeat"
        LEFT JOIN cases c ON c.run_id = x.run_id AND c.pair_id = x.pair_id
        LEFT JOIN preferences p ON p.run_a = ? AND p.run_b = ? AND p.reviewer = ? AND p.pair_id = x.pair_id
             AND p."repeat" = x."repeat"
        WHERE x.run_id = ? AND x.output_path IS NOT NULL AND y.output_path IS NOT NULL {wf}"""


def _pairs_params(baseline: str, candidate: str, reviewer: str, workflows: Sequence[str]) -> list[Any]:
    return [candidate, *canonical(baseline, candidate), reviewer, baseline, *workflows]


def _blind_counts(read: Callable[..., pd.DataFrame], baseline: str, candidate: str, reviewer: str,
                  workflows: Sequence[str]) -> dict[str, int]:
    df = read(f"""SELECT count(*) FILTER (WHERE NOT same) AS total,
                         count(*) FILTER (WHERE NOT same AND choice IS NOT NULL) AS judged,
                         count(*) FILTER (WHERE same) AS identical
                  FROM ({_pairs_sql(workflows)})""", _pairs_params(baseline, candidate, reviewer, workflows))
    if df.empty:
        return {"total": 0, "judged": 0, "identical": 0}
    return {k: int(df.iloc[0][k] or 0) for k in ("total", "judged", "identical")}


def _blind_case(read: Callable[..., pd.DataFrame], baseline: str, candidate: str, reviewer: str,
                workflows: Sequence[str], case: tuple[str, int] | None) -> dict[str, Any] | None:
    only = 'AND pair_id = ? AND "repeat" = ?' if case else ""
    df = read(f"""
        WITH q AS ({_pairs_sql(workflows)})
        SELECT * FROM (SELECT *, count(*) FILTER (WHERE choice IS NOT NULL) OVER () AS judged,
                              count(*) OVER () AS total FROM q WHERE NOT same)
        WHERE TRUE {only} ORDER BY choice IS NOT NULL, md5(concat(pair_id, ':', "repeat", ':', ?)) LIMIT 1""",
        [*_pairs_params(baseline, candidate, reviewer, workflows), *(case or ()), reviewer])
    if df.empty:
        return None
    row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in df.iloc[0].to_dict().items()}
    if case is None and row["choice"] is not None:
        return None  # the first in order is judged: all are
    left = left_run_for(baseline, candidate, row["pair_id"], int(row["repeat"]), reviewer)
    outputs = {baseline: row.pop("out_x"), candidate: row.pop("out_y")}
    row.pop("same", None)
    right = candidate if left == baseline else baseline
    row.update(left_run=left, left_output=outputs[left], right_output=outputs[right], repeat=int(row["repeat"]),
               judged=int(row["judged"]), total=int(row["total"]))
    return row


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval for a proportion (95% by default); (nan, nan) when n is 0."""
    if n <= 0:
        return math.nan, math.nan
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n, got {successes} of {n}")
    p, z2 = successes / n, z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def win_table(counts: pd.DataFrame) -> pd.DataFrame:
    """Add win_share, ci_low, ci_high and left_share to rows with candidate_wins, baseline_wins, left_picks."""
    out = counts.copy()
    decisive = out["candidate_wins"] + out["baseline_wins"]
    out["decisive"] = decisive
    out["win_share"] = [w / d if d else math.nan for w, d in zip(out["candidate_wins"], decisive, strict=True)]
    bounds = [wilson_interval(int(w), int(d)) for w, d in zip(out["candidate_wins"], decisive, strict=True)]
    out["ci_low"] = [lo for lo, _ in bounds]
    out["ci_high"] = [hi for _, hi in bounds]
    out["left_share"] = [lp / d if d else math.nan for lp, d in zip(out["left_picks"], decisive, strict=True)]
    return out


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


def win_rates_on(read: Callable[..., pd.DataFrame], baseline: str, candidate: str) -> pd.DataFrame:
    """`win_rates` with a `read` from `filters.reading` (for callers that read more on the same connection)."""
    counts = read(_WIN_SQL, [*canonical(baseline, candidate), candidate, baseline])
    return win_table(counts) if not counts.empty else counts


def win_rates(db: Database, baseline: str, candidate: str) -> pd.DataFrame:
    """Per workflow, then '(all)': judgements, candidate_wins, baseline_wins, ties, decisive, win_share
    (candidate's share of decisive picks), ci_low / ci_high (95% Wilson), left_share, reviewers."""
    with reading(db) as read:
        return win_rates_on(read, baseline, candidate)
