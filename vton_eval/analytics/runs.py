"""Queries about single runs outside the pages' grids: a run's end-of-run summary (what `run` and `resume` print),
what a try gave back, how long an endpoint's calls usually take. (What a run, a resume or a recheck works from
is the store's: `store.cases`.)"""

from __future__ import annotations

from typing import Any

from vton_eval.store.base import Store
from vton_eval.store.reads import reading


def try_result(db: Store, run_id: str) -> dict[str, Any] | None:
    """The single result of a one-case run, joined with its inputs."""
    with reading(db) as read:
        return read.one("""
            SELECT res.run_id, res.pair_id, res.workflow, res.status, res.error_kind, res.error_message,
                   res.latency_ms, res.output_path, c.base_path, c.product_path, c.mask_path
            FROM results res JOIN cases c USING (run_id, pair_id) WHERE res.run_id = ? LIMIT 1""", [run_id])


def typical_latency_s(db: Store, endpoint: str) -> float | None:
    """Median latency of successful calls to this endpoint in its latest runs, if any."""
    with reading(db) as read:
        ms = read.scalar("""
            SELECT quantile_cont(res.latency_ms, 0.5) FROM results res JOIN runs r USING (run_id)
            WHERE r.endpoint = ? AND res.status = 'ok'
              AND r.run_id IN (SELECT run_id FROM runs WHERE endpoint = ? ORDER BY created_at DESC LIMIT 5)
        """, [endpoint, endpoint])
    return float(ms) / 1000.0 if ms is not None else None


def suite_runs_of(db: Store, dataset: str) -> int:
    """How many suite runs of a dataset are recorded."""
    with reading(db) as read:
        return int(read.scalar("SELECT count(*) FROM runs WHERE dataset = ? AND kind = 'suite'", [dataset]) or 0)


def planned_summary(db: Store, run_id: str) -> dict[str, Any]:
    """What a run will not send and what it sends differently, counted by reason, for a person to read before
    it starts: {'cases', 'refused': [(reason, n)], 'notes': [(note, n)]}."""
    with reading(db) as read:
        cases = int(read.scalar("SELECT count(*) FROM cases WHERE run_id = ?", [run_id]) or 0)
        refused = read.rows("""SELECT invalid_reason AS reason, count(*) AS n FROM cases
                               WHERE run_id = ? AND invalid_reason IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1""",
                            [run_id])
        # Sizes folded ("person resized WxH -> WxH"), so a note about many images is one line.
        notes = read.rows("""SELECT regexp_replace(note, '[0-9]+x[0-9]+', 'WxH', 'g') AS note, count(*) AS n
                             FROM (SELECT unnest(string_split(sent_note, '; ')) AS note FROM cases
                                   WHERE run_id = ? AND sent_note IS NOT NULL) GROUP BY 1 ORDER BY 2 DESC, 1""",
                          [run_id])
    return {"cases": cases, "refused": [(r["reason"], int(r["n"])) for r in refused],
            "notes": [(r["note"], int(r["n"])) for r in notes]}


# -- the end-of-run summary ------------------------------------------------------------------------------------

_SUMMARY_BY_WORKFLOW = """
SELECT workflow,
       count(*) AS cases,
       count(*) FILTER (WHERE status = 'ok') AS ok,
       count(*) FILTER (WHERE status = 'error') AS errors,
       count(*) FILTER (WHERE status = 'error') / count(*) AS error_rate,
       quantile_cont(latency_ms, 0.5) FILTER (WHERE status = 'ok') AS p50_ms,
       quantile_cont(latency_ms, 0.95) FILTER (WHERE status = 'ok') AS p95_ms,
       quantile_cont(latency_ms, 0.99) FILTER (WHERE status = 'ok') AS p99_ms,
       avg(queue_ms) FILTER (WHERE status = 'ok') AS mean_queue_ms
FROM results WHERE run_id = ?
GROUP BY ALL ORDER BY workflow
"""

_SUMMARY_KINDS = """
SELECT error_kind, count(*) AS n, any_value(error_message) AS example
FROM results WHERE run_id = ? AND status = 'error'
GROUP BY ALL ORDER BY n DESC, error_kind
"""


def run_summary(db: Store, run_id: str) -> dict[str, Any]:
    """{'workflows': [...per-workflow rows...], 'error_kinds': [...], 'total': {...}}."""
    with reading(db) as read:
        workflows = read.rows(_SUMMARY_BY_WORKFLOW, [run_id])
        kinds = read.rows(_SUMMARY_KINDS, [run_id])
        total = read.one(
            """SELECT count(*) AS cases, count(*) FILTER (WHERE status='ok') AS ok,
                      quantile_cont(latency_ms, 0.5) FILTER (WHERE status='ok') AS p50_ms,
                      quantile_cont(latency_ms, 0.95) FILTER (WHERE status='ok') AS p95_ms
               FROM results WHERE run_id = ?""", [run_id]) or {"cases": 0, "ok": 0, "p50_ms": None, "p95_ms": None}
    return {
        "workflows": workflows,
        "error_kinds": kinds,
        "total": {**total, "errors": total["cases"] - total["ok"]},
    }
