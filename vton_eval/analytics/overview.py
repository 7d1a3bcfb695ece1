"""What a product manager reads: per-run headline numbers, their change, and chart-ready aggregates."""

from __future__ import annotations

from typing import Any

import pandas as pd

from vton_eval.analytics.filters import RunFilter, frame
from vton_eval.store.db import Database

HEADLINE_KEYS = ("cases", "success_rate", "error_rate", "p50_ms", "p95_ms", "p99_ms")


def pick_runs(db: Database, flt: RunFilter = RunFilter()) -> pd.DataFrame:
    """Runs matching the filter, newest first, with enough to label them in a picker."""
    where, params = flt.run_sql()
    return frame(db, f"""
        SELECT r.run_id, r.label, r.dataset, r.endpoint, r.status, r.workflows, r.created_at,
               (SELECT count(*) FROM results x WHERE x.run_id = r.run_id) AS done, r.total_cases
        FROM runs r WHERE {where} ORDER BY r.created_at DESC""", params)


def default_run(runs: pd.DataFrame) -> str | None:
    """The latest finished run, else the latest run with results, else None."""
    if runs.empty:
        return None
    finished = runs[runs["status"] == "finished"]
    if not finished.empty:
        return str(finished.iloc[0]["run_id"])
    with_results = runs[runs["done"] > 0]
    return str((with_results if not with_results.empty else runs).iloc[0]["run_id"])


def previous_comparable(db: Database, run_id: str) -> str | None:
    """The latest earlier run over the same dataset and workflows (what 'change' compares with)."""
    df = frame(db, """
        SELECT p.run_id FROM runs r JOIN runs p
          ON p.dataset = r.dataset AND coalesce(p.workflows, '') = coalesce(r.workflows, '')
         AND p.created_at < r.created_at AND p.run_id <> r.run_id
        WHERE r.run_id = ? AND EXISTS (SELECT 1 FROM results x WHERE x.run_id = p.run_id)
        ORDER BY p.created_at DESC LIMIT 1""", [run_id])
    return None if df.empty else str(df.iloc[0]["run_id"])


def headline(db: Database, run_ids: list[str], flt: RunFilter = RunFilter()) -> pd.DataFrame:
    """One row per run: cases, success and error rates, latency percentiles (ok calls only)."""
    if not run_ids:
        return pd.DataFrame(columns=["run_id", *HEADLINE_KEYS])
    wf, wf_params = flt.result_sql()
    return frame(db, f"""
        SELECT res.run_id, count(*) AS cases,
               avg(CASE WHEN status = 'ok' THEN 1.0 ELSE 0.0 END) AS success_rate,
               avg(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate,
               quantile_cont(latency_ms, 0.5) FILTER (WHERE status = 'ok') AS p50_ms,
               quantile_cont(latency_ms, 0.95) FILTER (WHERE status = 'ok') AS p95_ms,
               quantile_cont(latency_ms, 0.99) FILTER (WHERE status = 'ok') AS p99_ms
        FROM results res WHERE res.run_id IN ({", ".join("?" for _ in run_ids)}) AND {wf}
        GROUP BY res.run_id""", [*run_ids, *wf_params])


def headline_with_change(db: Database, run_id: str, flt: RunFilter = RunFilter()) -> dict[str, Any]:
    """{'current': {...}, 'previous': {...} | None, 'previous_run': id | None, 'delta': {...}}."""
    prev = previous_comparable(db, run_id)
    df = headline(db, [run_id] + ([prev] if prev else []), flt)
    rows = {r["run_id"]: r for r in df.to_dict("records")}
    current = rows.get(run_id, dict.fromkeys(HEADLINE_KEYS))
    previous = rows.get(prev) if prev else None
    delta = {}
    for key in HEADLINE_KEYS:
        a, b = current.get(key), previous.get(key) if previous else None
        delta[key] = None if a is None or b is None or pd.isna(a) or pd.isna(b) else a - b
    return {"current": current, "previous": previous, "previous_run": prev, "delta": delta}


def errors_by_workflow(db: Database, run_id: str, flt: RunFilter = RunFilter()) -> pd.DataFrame:
    """Error rate by workflow split by error kind: rows (workflow, error_kind, n, cases, rate)."""
    wf, params = flt.result_sql()
    return frame(db, f"""
        WITH t AS (SELECT workflow, count(*) AS cases FROM results res WHERE run_id = ? AND {wf} GROUP BY 1)
        SELECT res.workflow, res.error_kind, count(*) AS n, any_value(t.cases) AS cases,
               count(*) / any_value(t.cases) AS rate
        FROM results res JOIN t USING (workflow)
        WHERE res.run_id = ? AND res.status = 'error' AND {wf}
        GROUP BY ALL ORDER BY res.workflow, n DESC""", [run_id, *params, run_id, *params])


def latency_stats(db: Database, run_id: str, flt: RunFilter = RunFilter(), bins: int = 30) -> pd.DataFrame:
    """Latency histogram per workflow (ok calls), binned in SQL: rows (workflow, bin_ms, width_ms, n)."""
    wf, params = flt.result_sql()
    return frame(db, f"""
        WITH ok AS (SELECT workflow, latency_ms FROM results res
                    WHERE run_id = ? AND status = 'ok' AND latency_ms IS NOT NULL AND {wf}),
             span AS (SELECT min(latency_ms) AS lo, greatest(max(latency_ms) - min(latency_ms), 1e-9) AS w FROM ok)
        SELECT workflow,
               span.lo + least(floor((latency_ms - span.lo) / span.w * {bins}), {bins} - 1) * span.w / {bins}
                 AS bin_ms,
               span.w / {bins} AS width_ms, count(*) AS n
        FROM ok, span GROUP BY ALL ORDER BY workflow, bin_ms""", [run_id, *params])


def latency_percentiles(db: Database, run_id: str, flt: RunFilter = RunFilter()) -> pd.DataFrame:
    wf, params = flt.result_sql()
    return frame(db, f"""
        SELECT workflow, count(*) AS n,
               quantile_cont(latency_ms, 0.5) AS p50_ms, quantile_cont(latency_ms, 0.95) AS p95_ms,
               quantile_cont(latency_ms, 0.99) AS p99_ms, avg(queue_ms) AS mean_queue_ms
        FROM results res WHERE run_id = ? AND status = 'ok' AND {wf} GROUP BY 1 ORDER BY 1""", [run_id, *params])


def trend(db: Database, flt: RunFilter = RunFilter(), limit_runs: int = 60) -> pd.DataFrame:
    """Error rate and p95 per workflow for the latest runs matching the filter, oldest first."""
    where, params = flt.run_sql()
    wf, wf_params = flt.result_sql()
    return frame(db, f"""
        WITH chosen AS (SELECT run_id, label, created_at FROM runs r WHERE {where}
                        ORDER BY created_at DESC LIMIT {int(limit_runs)})
        SELECT c.run_id, c.label, c.created_at, res.workflow, count(*) AS cases,
               avg(CASE WHEN res.status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate,
               quantile_cont(res.latency_ms, 0.95) FILTER (WHERE res.status = 'ok') AS p95_ms
        FROM chosen c JOIN results res USING (run_id)
        WHERE {wf}
        GROUP BY ALL ORDER BY c.created_at, res.workflow""", [*params, *wf_params])


def tag_heatmap(db: Database, run_id: str, flt: RunFilter = RunFilter()) -> pd.DataFrame:
    """Error rate for each workflow x tag of a run: rows (workflow, tag, cases, error_rate)."""
    wf, params = flt.result_sql()
    return frame(db, f"""
        WITH tagged AS (
            SELECT res.workflow, res.status, unnest(string_split(coalesce(nullif(c.tags, ''), '(untagged)'), ';'))
                   AS tag
            FROM results res JOIN cases c USING (run_id, pair_id)
            WHERE res.run_id = ? AND {wf})
        SELECT workflow, trim(tag) AS tag, count(*) AS cases,
               avg(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate
        FROM tagged GROUP BY ALL ORDER BY workflow, tag""", [run_id, *params])


def flag_rates(db: Database, run_id: str, flt: RunFilter = RunFilter()) -> pd.DataFrame:
    """Per workflow: how many outputs the automatic checks flagged (soft) or failed (silent failures)."""
    wf, params = flt.result_sql()
    return frame(db, f"""
        WITH judged AS (
            SELECT workflow, status, error_kind, flags FROM results res
            WHERE run_id = ? AND output_path IS NOT NULL AND checks IS NOT NULL AND {wf}),
        names AS (
            SELECT workflow, unnest(string_split(flags, ';')) AS flag FROM judged WHERE coalesce(flags, '') <> '')
        SELECT j.workflow, count(*) AS outputs,
               count(*) FILTER (WHERE coalesce(flags, '') <> '' AND status = 'ok') / count(*) AS flag_rate,
               count(*) FILTER (WHERE error_kind = 'silent_failure') / count(*) AS silent_failure_rate,
               (SELECT string_agg(flag || ' ' || n, ', ' ORDER BY n DESC, flag) FROM
                   (SELECT flag, count(*) AS n FROM names WHERE names.workflow = j.workflow GROUP BY flag)) AS flags
        FROM judged j GROUP BY j.workflow ORDER BY j.workflow""", [run_id, *params])
