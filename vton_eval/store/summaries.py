"""Per-run summaries: what the pages read instead of scanning a million result rows.

`run_summary` has one row per (run, workflow): counts by outcome, automatic-check counts and the
latency quantiles of ok calls. `run_error_kinds` has one row per (run, workflow, error kind) with
its count. Both are derived from `results` and rebuilt for a run whenever its results change:
`insert_results` (every batch a run writes), a merge and a recheck call `refresh_summaries` in the
same transaction as their write, so a reader never sees results and summaries disagree.

Lists, pickers, trends and "previous comparable run" read summaries; a page scans raw rows only
for the run it shows (its charts and its cases).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

SUMMARY_DDL = (
    """CREATE TABLE IF NOT EXISTS run_summary (
        run_id VARCHAR NOT NULL,
        workflow VARCHAR NOT NULL,
        cases INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        flagged INTEGER NOT NULL,
        silent_failures INTEGER NOT NULL,
        checked INTEGER NOT NULL,
        p05_ms DOUBLE, p25_ms DOUBLE, p50_ms DOUBLE, p75_ms DOUBLE, p95_ms DOUBLE, p99_ms DOUBLE,
        min_ms DOUBLE, max_ms DOUBLE, mean_queue_ms DOUBLE,
        first_at TIMESTAMP,
        last_at TIMESTAMP,
        PRIMARY KEY (run_id, workflow)
    )""",
    """CREATE TABLE IF NOT EXISTS run_error_kinds (
        run_id VARCHAR NOT NULL,
        workflow VARCHAR NOT NULL,
        error_kind VARCHAR NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (run_id, workflow, error_kind)
    )""",
)

# `flagged`: ok outputs that failed a soft check (a silent failure already counts as an error).
# `checked`: results the automatic checks looked at (a run without checks has none).
_SUMMARY_SELECT = """
    SELECT run_id, workflow, count(*) AS cases,
           count(*) FILTER (WHERE status = 'ok') AS ok,
           count(*) FILTER (WHERE status = 'error') AS errors,
           count(*) FILTER (WHERE status = 'ok' AND coalesce(flags, '') <> '') AS flagged,
           count(*) FILTER (WHERE error_kind = 'silent_failure') AS silent_failures,
           count(*) FILTER (WHERE output_path IS NOT NULL AND checks IS NOT NULL) AS checked,
           {quantiles},
           min(latency_ms) FILTER (WHERE status = 'ok') AS min_ms,
           max(latency_ms) FILTER (WHERE status = 'ok') AS max_ms,
           avg(queue_ms) FILTER (WHERE status = 'ok') AS mean_queue_ms,
           min(started_at) AS first_at, max(finished_at) AS last_at
    FROM results WHERE {where} GROUP BY run_id, workflow
""".format(
    quantiles=", ".join(f"quantile_cont(latency_ms, {q}) FILTER (WHERE status = 'ok') AS p{round(q * 100):02d}_ms"
                        for q in (0.05, 0.25, 0.5, 0.75, 0.95, 0.99)),
    where="{where}",
)
_KINDS_SELECT = """
    SELECT run_id, workflow, coalesce(error_kind, 'unknown') AS error_kind, count(*) AS n
    FROM results WHERE status = 'error' AND {where} GROUP BY ALL
"""


def refresh_summaries(con: duckdb.DuckDBPyConnection, run_ids: Iterable[str]) -> None:
    """Rebuild the summaries of these runs from their results (a run with no results has none).

    Call it inside the transaction that changed the results."""
    ids = sorted(set(run_ids))
    if not ids:
        return
    marks = ", ".join("?" for _ in ids)
    where = f"run_id IN ({marks})"
    for table, select in (("run_summary", _SUMMARY_SELECT), ("run_error_kinds", _KINDS_SELECT)):
        con.execute(f"DELETE FROM {table} WHERE {where}", ids)
        con.execute(f"INSERT INTO {table} {select.format(where=where)}", ids)


def rebuild_all_summaries(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild every run's summaries (after a migration that creates or changes them)."""
    for table, select in (("run_summary", _SUMMARY_SELECT), ("run_error_kinds", _KINDS_SELECT)):
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} {select.format(where='TRUE')}")
