"""Queries about single runs outside the pages' grids: a run's end-of-run summary (what `run` and `resume` print),
what a try gave back, how fast an endpoint answered lately. (What a run, a resume or a recheck works from is the
store's: `store.cases`.)"""

from __future__ import annotations

import math
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Pace:
    """How an endpoint answered lately: the median time it spent on a call (its queue left out: that depends on how
    many calls were in flight), over how many runs, and the pace each of those runs kept, as (calls in flight,
    calls finished a second): a run at least as wide as a new one tells how fast the endpoint can go at most."""

    call_s: float
    runs: int
    paces: tuple[tuple[int, float], ...] = ()
    overhead_s: float = 0.0  # a run's time around its calls: connecting, planning, the last checks, the summary

    def calls_per_s(self, concurrency: int) -> float:
        """Calls a second a run with `concurrency` calls in flight can expect: each slot at the call time, capped at
        the fastest pace a run at least that wide actually kept (an endpoint serves so many calls at once)."""
        rate = max(concurrency, 1) / self.call_s if self.call_s > 0 else math.inf
        kept = [p for c, p in self.paces if c >= concurrency and p > 0]
        return min(rate, max(kept)) if kept else rate


def endpoint_pace(db: Store, endpoint: str, runs: int = 5) -> Pace | None:
    """How this endpoint answered in its latest `runs` runs with an ok call; None when it has none."""
    with reading(db) as read:
        rows = read.rows(f"""
            WITH recent AS (
                SELECT r.run_id, coalesce(r.concurrency, 1) AS concurrency FROM runs r
                WHERE r.endpoint = ? AND EXISTS (SELECT 1 FROM results x WHERE x.run_id = r.run_id AND x.status = 'ok')
                ORDER BY r.created_at DESC LIMIT {int(runs)})
            SELECT rc.run_id, any_value(rc.concurrency) AS concurrency, count(*) AS calls,
                   date_diff('millisecond', min(res.started_at), max(res.finished_at)) / 1000.0 AS wall_s,
                   -- the time around the calls, for a run that went from start to finish in one go
                   CASE WHEN any_value(r.status) = 'finished' AND any_value(r.finished_at) IS NOT NULL
                        THEN date_diff('millisecond', any_value(r.started_at), any_value(r.finished_at)) / 1000.0
                             - date_diff('millisecond', min(res.started_at), max(res.finished_at)) / 1000.0
                   END AS around_s
            FROM recent rc JOIN results res USING (run_id) JOIN runs r USING (run_id)
            GROUP BY rc.run_id""", [endpoint])
        if not rows:
            return None
        ms = read.scalar(f"""
            SELECT quantile_cont(greatest(latency_ms - coalesce(queue_ms, 0), 0), 0.5) FROM results
            WHERE status = 'ok' AND run_id IN ({", ".join("?" for _ in rows)})""", [r["run_id"] for r in rows])
    paces = tuple((int(r["concurrency"]), r["calls"] / r["wall_s"]) for r in rows
                  if r["wall_s"] and r["wall_s"] > 0 and r["calls"] >= 2)
    # The lower median: a run on a busy machine takes longer around its calls, not shorter.
    around = sorted(max(float(r["around_s"]), 0.0) for r in rows if r["around_s"] is not None)
    return Pace(float(ms or 0.0) / 1000.0, len(rows), paces, around[(len(around) - 1) // 2] if around else 0.0)


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
