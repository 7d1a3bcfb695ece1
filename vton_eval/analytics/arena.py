"""The arena's reads: the blind picks over one dataset, the runs they rank, and what a reviewer has left.

A pick's `score` is from run_a's side (the first of the two in the table's sorted order): 1 = run_a was
preferred, 0 = run_b, 0.5 = a tie. Only suite runs count (a single-pair try ranks nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from vton_eval.store.reads import Reader

_SUITE = "coalesce({t}.kind, 'suite') = 'suite'"

_PICKS_SQL = f"""
    SELECT p.run_a, p.run_b, p.pair_id, p."repeat", p.workflow, p.reviewer, p.identity, p.choice, p.left_run,
           p.created_at,
           CASE WHEN p.choice = 'tie' THEN NULL
                WHEN p.choice = 'left' THEN p.left_run
                ELSE (CASE WHEN p.left_run = p.run_a THEN p.run_b ELSE p.run_a END) END AS winner,
           CASE WHEN p.choice = 'tie' THEN 0.5
                WHEN (p.choice = 'left') = (p.left_run = p.run_a) THEN 1.0 ELSE 0.0 END AS score
    FROM preferences p JOIN runs a ON a.run_id = p.run_a JOIN runs b ON b.run_id = p.run_b
    WHERE a.dataset = ? AND b.dataset = ? AND {_SUITE.format(t='a')} AND {_SUITE.format(t='b')}"""


def picks(read: Reader, dataset: str, workflow: str | None = None) -> pd.DataFrame:
    """Every blind pick between two suite runs of `dataset` (of one workflow, or all)."""
    sql, params = _PICKS_SQL, [dataset, dataset]
    if workflow:
        sql += " AND p.workflow = ?"
        params.append(workflow)
    return read.frame(sql + ' ORDER BY p.created_at, p.run_a, p.run_b, p.pair_id, p."repeat", p.reviewer', params)


def runs(read: Reader, dataset: str) -> pd.DataFrame:
    """The suite runs over `dataset`, newest first, with what names their system (profile, endpoint)."""
    return read.frame(f"""SELECT r.run_id, r.label, coalesce(r.profile, 'sm4ll') AS profile, r.endpoint, r.status,
                                 r.created_at, r.dataset,
                                 (SELECT count(*) FROM results x WHERE x.run_id = r.run_id
                                  AND x.output_path IS NOT NULL) AS outputs
                          FROM runs r WHERE r.dataset = ? AND {_SUITE.format(t='r')}
                          ORDER BY r.created_at DESC, r.run_id""", [dataset])


def datasets(read: Reader) -> pd.DataFrame:
    """Datasets with two or more suite runs: dataset, runs, picks, last_pick (newest picks first)."""
    return read.frame(f"""
        WITH d AS (SELECT dataset, count(*) AS runs FROM runs r WHERE {_SUITE.format(t='r')}
                   GROUP BY dataset HAVING count(*) >= 2),
             p AS (SELECT a.dataset, count(*) AS picks, max(p.created_at) AS last_pick
                   FROM preferences p JOIN runs a ON a.run_id = p.run_a JOIN runs b ON b.run_id = p.run_b
                   WHERE a.dataset = b.dataset GROUP BY a.dataset)
        SELECT d.dataset, d.runs, coalesce(p.picks, 0) AS picks, p.last_pick FROM d LEFT JOIN p USING (dataset)
        ORDER BY p.last_pick DESC NULLS LAST, d.dataset""")


def workflows(read: Reader, dataset: str) -> list[str]:
    """The workflows blind picks over `dataset` were given in."""
    return [r["workflow"] for r in read.rows(
        f"""SELECT DISTINCT p.workflow FROM preferences p JOIN runs a ON a.run_id = p.run_a
            JOIN runs b ON b.run_id = p.run_b WHERE a.dataset = ? AND b.dataset = ? AND {_SUITE.format(t='a')}
            AND {_SUITE.format(t='b')} ORDER BY 1""", [dataset, dataset])]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def open_cases(read: Reader, run_ids: Sequence[str], reviewer: str, workflows: Sequence[str] = (),
               overlap: int = 1) -> pd.DataFrame:
    """Per pair of these runs (run_a < run_b): the cases this reviewer can still be shown (both outputs there,
    the two files different, not judged by them), and how many of those are below the overlap target
    (judged by fewer than `overlap` reviewers). Pairs with nothing left are not listed."""
    ids = sorted(set(run_ids))
    if len(ids) < 2:
        return pd.DataFrame(columns=["run_a", "run_b", "open", "below_target"])
    wf = f"AND x.workflow IN ({_marks(workflows)})" if workflows else ""
    return read.frame(f"""
        WITH r AS (SELECT run_id, pair_id, "repeat", workflow, coalesce(output_sha256, output_path) AS out
                   FROM results WHERE run_id IN ({_marks(ids)}) AND output_path IS NOT NULL),
             q AS (SELECT x.run_id AS run_a, y.run_id AS run_b, x.pair_id, x."repeat"
                   FROM r x JOIN r y ON x.run_id < y.run_id AND y.pair_id = x.pair_id AND y."repeat" = x."repeat"
                   WHERE x.out <> y.out {wf}),
             n AS (SELECT run_a, run_b, pair_id, "repeat", count(*) AS judged,
                          bool_or(reviewer = ?) AS mine
                   FROM preferences WHERE run_a IN ({_marks(ids)}) AND run_b IN ({_marks(ids)})
                   GROUP BY ALL)
        SELECT q.run_a, q.run_b, count(*) AS open,
               count(*) FILTER (WHERE coalesce(n.judged, 0) < ?) AS below_target
        FROM q LEFT JOIN n USING (run_a, run_b, pair_id, "repeat")
        WHERE NOT coalesce(n.mine, FALSE)
        GROUP BY q.run_a, q.run_b ORDER BY q.run_a, q.run_b""",
        [*ids, *workflows, reviewer, *ids, *ids, int(overlap)])


def overlap_target(read: Reader, dataset: str) -> dict[str, Any] | None:
    """The overlap target a lead set for `dataset` (k, set_by, set_at), or None."""
    return read.one("SELECT k, set_by, set_at FROM overlap_targets WHERE dataset = ?", [dataset])


def judged_pairs(read: Reader, run_ids: Sequence[str]) -> dict[tuple[str, str], int]:
    """Picks so far, by anyone, per pair of these runs (run_a < run_b)."""
    ids = sorted(set(run_ids))
    if not ids:
        return {}
    rows = read.rows(f"""SELECT run_a, run_b, count(*) AS n FROM preferences WHERE run_a IN ({_marks(ids)})
                         AND run_b IN ({_marks(ids)}) GROUP BY ALL""", [*ids, *ids])
    return {(r["run_a"], r["run_b"]): int(r["n"]) for r in rows}
