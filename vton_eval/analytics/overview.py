"""What a product manager reads: a run's headline numbers, their change, and chart-ready aggregates.

Lists, the trend and "the previous comparable run" read the per-run summaries
(`vton_eval.store.summaries`); raw result rows are scanned only for the run on screen (and the run
it is compared with). Only suite runs appear: single-pair tries are listed on the Runs page.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vton_eval.analytics.baselines import blessed_on
from vton_eval.analytics.filters import RunFilter
from vton_eval.run_process import process_alive
from vton_eval.store.base import Store
from vton_eval.store.reads import Reader, frame, reading
from vton_eval.store.runs import SUITE
from vton_eval.textsafe import spreadsheet_cell

HEADLINE_KEYS = ("cases", "success_rate", "error_rate", "p50_ms", "p95_ms", "p99_ms")
TREND_RUNS = 60


def pick_runs(db: Store, flt: RunFilter = RunFilter()) -> pd.DataFrame:
    """Suite runs matching the filter, newest first, with what a picker and a status line need."""
    where, params = flt.run_sql()
    runs = frame(db, f"""
        SELECT r.run_id, r.label, r.dataset, r.endpoint, r.profile, r.status, r.workflows, r.created_at, r.finished_at,
               r.message, r.pid, r.host, coalesce(s.done, 0) AS done, r.total_cases
        FROM runs r LEFT JOIN (SELECT run_id, sum(cases) AS done FROM run_summary GROUP BY 1) s USING (run_id)
        WHERE r.kind = ? AND {where} ORDER BY r.created_at DESC, r.run_id DESC""", [SUITE, *params])
    return with_liveness(runs)


def with_liveness(runs: pd.DataFrame) -> pd.DataFrame:
    """A run recorded as running whose process is gone was killed: it reads as interrupted."""
    if runs.empty or "pid" not in runs:
        return runs
    for i in runs.index[runs["status"] == "running"]:
        pid = runs.at[i, "pid"]
        if process_alive(None if pd.isna(pid) else int(pid), runs.at[i, "host"]) is False:
            runs.at[i, "status"] = "interrupted"
            runs.at[i, "message"] = runs.at[i, "message"] or "the run's process is gone (killed?); resume it"
    return runs


def default_run(runs: pd.DataFrame) -> str | None:
    """The latest finished run, else the latest run with results, else None."""
    if runs.empty:
        return None
    finished = runs[runs["status"] == "finished"]
    if not finished.empty:
        return str(finished.iloc[0]["run_id"])
    with_results = runs[runs["done"] > 0]
    return str((with_results if not with_results.empty else runs).iloc[0]["run_id"])


def is_partial(run: dict[str, Any] | pd.Series) -> bool:
    """Whether a run's numbers cover less than it planned (it stopped, failed, or is still going)."""
    return run["status"] != "finished" or int(run["done"] or 0) < int(run["total_cases"] or 0)


# Comparable: the same dataset and workflows, called through the same profile (the same kind of system:
# a CatVTON run is not "the previous run" of an SM4LL one; the endpoint may change between model versions).
_PREVIOUS = """
    SELECT p.run_id FROM runs r JOIN runs p
      ON p.dataset = r.dataset AND coalesce(p.workflows, '') = coalesce(r.workflows, '')
     AND coalesce(p.profile, 'sm4ll') = coalesce(r.profile, 'sm4ll')
     AND p.created_at < r.created_at AND p.run_id <> r.run_id
    WHERE r.run_id = ? AND p.kind = 'suite' AND p.status = 'finished'
      AND EXISTS (SELECT 1 FROM run_summary s WHERE s.run_id = p.run_id)
    ORDER BY p.created_at DESC LIMIT 1"""


def _previous(read: Reader, run_id: str) -> str | None:
    df = read(_PREVIOUS, [run_id])
    return None if df.empty else str(df.iloc[0]["run_id"])


def _headline(read: Reader, run_ids: list[str], flt: RunFilter) -> pd.DataFrame:
    wf, wf_params = flt.result_sql()
    return read(f"""
        SELECT res.run_id, count(*) AS cases,
               avg(CASE WHEN status = 'ok' THEN 1.0 ELSE 0.0 END) AS success_rate,
               avg(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate,
               quantile_cont(latency_ms, 0.5) FILTER (WHERE status = 'ok') AS p50_ms,
               quantile_cont(latency_ms, 0.95) FILTER (WHERE status = 'ok') AS p95_ms,
               quantile_cont(latency_ms, 0.99) FILTER (WHERE status = 'ok') AS p99_ms
        FROM results res WHERE res.run_id IN ({", ".join("?" for _ in run_ids)}) AND {wf}
        GROUP BY res.run_id""", [*run_ids, *wf_params])


def headline(db: Store, run_ids: list[str], flt: RunFilter = RunFilter()) -> pd.DataFrame:
    """One row per run: cases, success and error rates, latency percentiles (ok calls only)."""
    if not run_ids:
        return pd.DataFrame(columns=["run_id", *HEADLINE_KEYS])
    with reading(db) as read:
        return _headline(read, run_ids, flt)


def _compared_with(read: Reader, run_id: str) -> tuple[str | None, str | None]:
    """(the run a run's numbers are compared with, why): the blessed baseline of its dataset when there is one
    (what the team ships; on the run's endpoint, else the dataset's latest blessing, as the gate takes it), else
    the previous comparable run. A blessed run itself is compared with the run before it."""
    run = read.one("SELECT dataset, endpoint FROM runs WHERE run_id = ?", [run_id])
    if run is not None:
        blessed = blessed_on(read, run["dataset"], run["endpoint"])
        if blessed and blessed != run_id and read.scalar("SELECT count(*) FROM run_summary WHERE run_id = ?",
                                                         [blessed]):
            return blessed, "baseline"
    prev = _previous(read, run_id)
    return (prev, "previous") if prev else (None, None)


def _with_change(read: Reader, run_id: str, flt: RunFilter) -> dict[str, Any]:
    other, why = _compared_with(read, run_id)
    df = _headline(read, [run_id], flt)
    if other:
        # The other run over the workflows this one planned (a baseline may cover more of the dataset).
        planned = read.scalar("SELECT workflows FROM runs WHERE run_id = ?", [run_id])
        only = [w for w in (planned or "").split(",") if w]
        narrowed = RunFilter(workflows=flt.workflows or tuple(only))
        df = pd.concat([df, _headline(read, [other], narrowed)], ignore_index=True)
    rows = {r["run_id"]: r for r in df.to_dict("records")}
    current = rows.get(run_id, dict.fromkeys(HEADLINE_KEYS))
    previous = rows.get(other) if other else None
    delta = {}
    for key in HEADLINE_KEYS:
        a, b = current.get(key), previous.get(key) if previous else None
        delta[key] = None if a is None or b is None or pd.isna(a) or pd.isna(b) else a - b
    return {"current": current, "previous": previous, "previous_run": other, "compared_with": why, "delta": delta}


def _errors_by_workflow(read: Reader, run_id: str, flt: RunFilter) -> pd.DataFrame:
    """Every workflow of the run (planned or recorded), with its errors split by kind: rows (workflow,
    error_kind (None when it had none), n, cases, rate). `cases` counts recorded results."""
    wf, params = flt.result_sql("w")
    return read(f"""
        WITH planned AS (SELECT trim(unnest(string_split(coalesce(workflows, ''), ','))) AS workflow
                         FROM runs WHERE run_id = ?),
             w AS (SELECT workflow FROM planned WHERE workflow <> ''
                   UNION SELECT workflow FROM run_summary WHERE run_id = ?)
        SELECT w.workflow, k.error_kind, coalesce(k.n, 0) AS n, coalesce(s.cases, 0) AS cases,
               CASE WHEN coalesce(s.cases, 0) > 0 THEN coalesce(k.n, 0) / s.cases END AS rate
        FROM w LEFT JOIN run_summary s ON s.run_id = ? AND s.workflow = w.workflow
        LEFT JOIN run_error_kinds k ON k.run_id = ? AND k.workflow = w.workflow
        WHERE {wf} ORDER BY w.workflow, n DESC, k.error_kind""", [run_id, run_id, run_id, run_id, *params])


def errors_by_workflow(db: Store, run_id: str, flt: RunFilter = RunFilter()) -> pd.DataFrame:
    with reading(db) as read:
        return _errors_by_workflow(read, run_id, flt)


def _latency(read: Reader, run_id: str, flt: RunFilter) -> pd.DataFrame:
    wf, params = flt.result_sql("s")
    return read(f"""
        SELECT workflow, ok AS n, min_ms, p05_ms, p25_ms, p50_ms, p75_ms, p95_ms, p99_ms, max_ms, mean_queue_ms
        FROM run_summary s WHERE run_id = ? AND ok > 0 AND {wf} ORDER BY workflow""", [run_id, *params])


def _trend(read: Reader, flt: RunFilter, limit_runs: int) -> pd.DataFrame:
    where, params = flt.run_sql()
    wf, wf_params = flt.result_sql("s")
    return read(f"""
        WITH chosen AS (SELECT run_id, label, created_at FROM runs r
                        WHERE r.kind = 'suite' AND r.status = 'finished' AND {where}
                        ORDER BY created_at DESC LIMIT {int(limit_runs)})
        SELECT c.run_id, c.label, c.created_at, s.workflow, s.cases, s.errors,
               s.errors / s.cases AS error_rate, s.p95_ms
        FROM chosen c JOIN run_summary s USING (run_id)
        WHERE {wf} ORDER BY c.created_at, s.workflow""", [*params, *wf_params])


def trend(db: Store, flt: RunFilter = RunFilter(), limit_runs: int = TREND_RUNS) -> pd.DataFrame:
    """Error rate and p95 per workflow for the latest finished suite runs matching the filter, oldest first."""
    with reading(db) as read:
        return _trend(read, flt, limit_runs)


def _tag_heatmap(read: Reader, run_id: str, flt: RunFilter) -> pd.DataFrame:
    wf, params = flt.result_sql()
    return read(f"""
        WITH tagged AS (
            SELECT res.workflow, res.status, unnest(string_split(coalesce(nullif(c.tags, ''), '(untagged)'), ';'))
                   AS tag
            FROM results res JOIN cases c USING (run_id, pair_id)
            WHERE res.run_id = ? AND c.run_id = ? AND {wf})
        SELECT workflow, trim(tag) AS tag, count(*) AS cases, count(*) FILTER (WHERE status = 'error') AS errors,
               avg(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate
        FROM tagged GROUP BY ALL ORDER BY workflow, tag""", [run_id, run_id, *params])


def tag_heatmap(db: Store, run_id: str, flt: RunFilter = RunFilter()) -> pd.DataFrame:
    """Errors for each workflow x tag of a run: rows (workflow, tag, cases, errors, error_rate)."""
    with reading(db) as read:
        return _tag_heatmap(read, run_id, flt)


def _flag_rates(read: Reader, run_id: str, flt: RunFilter) -> pd.DataFrame:
    wf, params = flt.result_sql("s")
    rates = read(f"""
        SELECT workflow, checked AS outputs, flagged, silent_failures,
               flagged / checked AS flag_rate, silent_failures / checked AS silent_failure_rate
        FROM run_summary s WHERE run_id = ? AND checked > 0 AND {wf} ORDER BY workflow""", [run_id, *params])
    if rates.empty:
        return rates
    # The checks' names apart for the two counts beside them: those the flagged outputs failed (soft: kept as ok)
    # and those the silent failures failed (counted as errors), so "Flagged 0.0%" never stands beside a count.
    names = read("""
        WITH names AS (SELECT workflow, status = 'ok' AS kept, trim(unnest(string_split(flags, ';'))) AS flag
                       FROM results WHERE run_id = ? AND coalesce(flags, '') <> '' AND checks IS NOT NULL
                         AND (status = 'ok' OR error_kind = 'silent_failure')),
             counted AS (SELECT workflow, kept, flag, count(*) AS n FROM names WHERE flag <> '' GROUP BY ALL)
        SELECT workflow,
               string_agg(flag || ' ' || n, ', ' ORDER BY n DESC, flag) FILTER (WHERE kept) AS flags,
               string_agg(flag || ' ' || n, ', ' ORDER BY n DESC, flag) FILTER (WHERE NOT kept) AS silent_flags,
               string_agg(DISTINCT flag, ';' ORDER BY flag) AS checks
        FROM counted GROUP BY workflow""", [run_id])
    if names.empty:
        return rates.assign(flags=None, silent_flags=None, checks=None)
    return rates.merge(names, on="workflow", how="left")


def flag_rates(db: Store, run_id: str, flt: RunFilter = RunFilter()) -> pd.DataFrame:
    """Per workflow: how many outputs the automatic checks flagged (soft) or failed (silent failures), with the
    checks each group failed ("name n, ..."): `flags` for the flagged, `silent_flags` for the silent failures, and
    `checks` every name (";"-joined)."""
    with reading(db) as read:
        return _flag_rates(read, run_id, flt)


@dataclass
class Overview:
    """Everything the Overview page shows for one run, read on one connection."""

    headline: dict[str, Any]
    errors: pd.DataFrame
    latency: pd.DataFrame
    trend: pd.DataFrame
    heatmap: pd.DataFrame
    flags: pd.DataFrame
    # The run the headline compares with (the blessed baseline, else the previous comparable run), per workflow of
    # this run: (workflow, n, cases, rate); empty when there is none.
    compared_errors: pd.DataFrame


def overview(db: Store, run_id: str, flt: RunFilter = RunFilter(), trend_runs: int = TREND_RUNS) -> Overview:
    with reading(db) as read:
        headline = _with_change(read, run_id, flt)
        errors = _errors_by_workflow(read, run_id, flt)
        other = headline.get("previous_run")
        compared = _error_totals(_errors_by_workflow(read, other, flt)) if other else _error_totals(errors.head(0))
        compared = compared[compared["workflow"].isin(set(errors["workflow"]))].reset_index(drop=True)
        return Overview(headline, errors, _latency(read, run_id, flt), _trend(read, flt, trend_runs),
                        _tag_heatmap(read, run_id, flt), _flag_rates(read, run_id, flt), compared)


def _error_totals(errors: pd.DataFrame) -> pd.DataFrame:
    """Errors by workflow and kind summed per workflow: (workflow, n, cases, rate), rate None without a case."""
    per = errors.groupby("workflow", sort=False).agg(n=("n", "sum"), cases=("cases", "first")).reset_index()
    per["rate"] = [n / c if c else None for n, c in zip(per["n"], per["cases"], strict=True)]
    return per


def overview_csv(run_id: str, view: Overview) -> bytes:
    """All the Overview page's numbers in one long CSV: section, run, workflow, key, value."""
    info = view.headline
    rows = []
    for which in ("current", "previous"):
        values = info.get(which) or {}
        rid = run_id if which == "current" else info.get("previous_run")
        for key, value in values.items():
            if key != "run_id":
                rows.append({"section": f"headline_{which}", "run_id": rid, "workflow": "", "key": key, "value": value})
    tables = {"errors_by_workflow": view.errors, "latency": view.latency, "trend": view.trend,
              "tag_heatmap": view.heatmap, "flag_rates": view.flags}
    if not view.compared_errors.empty:
        tables["errors_compared_with"] = view.compared_errors.assign(run_id=info.get("previous_run"))
    for name, df in tables.items():
        for rec in df.to_dict("records"):
            wf = rec.get("workflow", "")
            for key, value in rec.items():
                if key == "workflow" or (isinstance(value, float) and math.isnan(value)):
                    continue
                if name == "tag_heatmap":
                    key = f"{rec['tag']}:{key}"
                elif name == "errors_by_workflow":
                    key = f"{rec['error_kind'] or 'none'}:{key}"
                rows.append({"section": name, "run_id": rec.get("run_id", run_id), "workflow": wf, "key": key,
                             "value": value})
    buf = io.StringIO()
    # Labels, tags and run ids are people's text: no cell may start a spreadsheet formula.
    # Texts are quoted, so a carriage return inside one (a tag can hold one) starts no new row in a spreadsheet.
    pd.DataFrame([{k: spreadsheet_cell(v) for k, v in row.items()} for row in rows]).to_csv(
        buf, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return buf.getvalue().encode("utf-8")
