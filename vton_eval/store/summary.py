"""Per-run aggregates computed in SQL: what the end-of-run summary and `runs` print."""

from __future__ import annotations

from typing import Any

from vton_eval.store.base import Store
from vton_eval.store.reads import reading

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


def run_summary(db: Store, run_id: str) -> dict[str, Any]:
    """{'workflows': [...per-workflow rows...], 'error_kinds': [...], 'total': {...}}."""
    with reading(db) as read:
        workflows = read.rows(_BY_WORKFLOW, [run_id])
        kinds = read.rows(_KINDS, [run_id])
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
