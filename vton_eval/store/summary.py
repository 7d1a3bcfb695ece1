"""Per-run aggregates computed in SQL: what the end-of-run summary and `runs` print."""

from __future__ import annotations

from typing import Any

from vton_eval.store.db import Database

_BY_WORKFLOW = """
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

_KINDS = """
SELECT error_kind, count(*) AS n, any_value(error_message) AS example
FROM results WHERE run_id = ? AND status = 'error'
GROUP BY ALL ORDER BY n DESC, error_kind
"""


def run_summary(db: Database, run_id: str) -> dict[str, Any]:
    """{'workflows': [...per-workflow rows...], 'error_kinds': [...], 'total': {...}}."""
    with db.connect(read_only=True) as con:
        cur = con.execute(_BY_WORKFLOW, [run_id])
        cols = [d[0] for d in cur.description]
        workflows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        cur = con.execute(_KINDS, [run_id])
        cols = [d[0] for d in cur.description]
        kinds = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        total = con.execute(
            """SELECT count(*), count(*) FILTER (WHERE status='ok'),
                      quantile_cont(latency_ms, 0.5) FILTER (WHERE status='ok'),
                      quantile_cont(latency_ms, 0.95) FILTER (WHERE status='ok')
               FROM results WHERE run_id = ?""", [run_id]).fetchone()
    cases, ok, p50, p95 = total if total else (0, 0, None, None)
    return {
        "workflows": workflows,
        "error_kinds": kinds,
        "total": {"cases": cases, "ok": ok, "errors": cases - ok, "p50_ms": p50, "p95_ms": p95},
    }
