"""Failures grouped by cause: error kind plus the message with its ids, paths and numbers folded.

"Rate limit exceeded ... Try again in 123 s" and "... in 97 s" are one cause; grouping on the raw
message would show them as two. The folding runs in SQL (regexp_replace) so it scales with the
table; `normalize_message` is the same rules in Python, for tests and for one-off messages.
"""

from __future__ import annotations

import re

import pandas as pd

from vton_eval.analytics.filters import RunFilter
from vton_eval.store.base import Store
from vton_eval.store.reads import frame

# (pattern, replacement), applied in order: the longest, most specific shapes first.
RULES: tuple[tuple[str, str], ...] = (
    (r"https?://[^\s'\"<>)]+", "<url>"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<id>"),
    (r"0x[0-9a-fA-F]+", "<id>"),
    (r"(?:[A-Za-z]:\\|/)[^\s'\":,;)]*[/\\][^\s'\":,;)]*", "<path>"),
    (r"\b[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*[0-9][0-9a-fA-F]*\b",
     "<id>"),
    # Status and errno codes name the cause, so they are kept (marked with # to survive the next rule).
    (r"(HTTP|Errno) (\d+)", r"\1 #\2"),
    (r"(^|[^\w#])\d+(?:[.:]\d+)*", r"\1<n>"),
    (r"\s+", " "),
)


def normalize_message(message: str | None) -> str:
    text = message or ""
    for pattern, repl in RULES:
        text = re.sub(pattern, repl, text)
    return text.strip()


def normalize_sql(column: str = "error_message") -> str:
    expr = f"coalesce({column}, '')"
    for pattern, repl in RULES:
        escaped = pattern.replace("'", "''")
        expr = f"regexp_replace({expr}, '{escaped}', '{repl}', 'g')"
    return f"trim({expr})"


def failure_groups(db: Store, run_ids: list[str], flt: RunFilter = RunFilter()) -> pd.DataFrame:
    """Rows (error_kind, cause, count, share, workflows, runs, first_seen, last_seen, example)."""
    if not run_ids:
        return pd.DataFrame()
    wf, params = flt.result_sql()
    marks = ", ".join("?" for _ in run_ids)
    return frame(db, f"""
        WITH err AS (
            SELECT error_kind, {normalize_sql()} AS cause, workflow, run_id, finished_at, error_message
            FROM results res WHERE run_id IN ({marks}) AND status = 'error' AND {wf})
        SELECT error_kind, cause, count(*) AS count, count(*) / sum(count(*)) OVER () AS share,
               string_agg(DISTINCT workflow, ', ' ORDER BY workflow) AS workflows,
               count(DISTINCT run_id) AS runs, min(finished_at) AS first_seen, max(finished_at) AS last_seen,
               any_value(error_message) AS example
        FROM err GROUP BY ALL ORDER BY count DESC, error_kind, cause""", [*run_ids, *params])


def failure_cases(
    db: Store, run_ids: list[str], error_kind: str, cause: str, flt: RunFilter = RunFilter(), limit: int = 200
) -> pd.DataFrame:
    """The cases behind one group, with their input thumbnails' sources and the full message."""
    if not run_ids:
        return pd.DataFrame()
    wf, params = flt.result_sql()
    marks = ", ".join("?" for _ in run_ids)
    return frame(db, f"""
        SELECT res.run_id, res.pair_id, res."repeat", res.workflow, res.error_kind, res.error_message,
               res.latency_ms, res.attempts, res.finished_at, c.base_path, c.product_path, c.mask_path, c.tags
        FROM results res JOIN cases c USING (run_id, pair_id)
        WHERE res.run_id IN ({marks}) AND res.status = 'error' AND res.error_kind = ?
          AND {normalize_sql('res.error_message')} = ? AND {wf}
        ORDER BY res.finished_at DESC LIMIT {int(limit)}""", [*run_ids, error_kind, cause, *params])
