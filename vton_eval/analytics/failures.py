"""Failures grouped by cause: error kind plus the message with its ids, paths and numbers folded.

"Rate limit exceeded ... Try again in 123 s" and "... in 97 s" are one cause; grouping on the raw
message would show them as two. The folding runs in SQL (regexp_replace) so it scales with the
table; `normalize_message` is the same rules in Python, for tests and for one-off messages.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from vton_eval.analytics.filters import RunFilter
from vton_eval.checks.meanings import meaning
from vton_eval.store.base import Store
from vton_eval.store.literals import sql_string
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


# How a folded cause reads on a page: the marks of the folding become words a person reads as "some number",
# "some address" (the table and the picker show this; the grouping keeps the folded text).
_READABLE = (("<n>", "N"), ("<id>", "ID"), ("<url>", "URL"), ("<path>", "PATH"), ("HTTP #", "HTTP "),
             ("Errno #", "Errno "))


def readable_cause(cause: str | None, limit: int | None = None) -> str:
    """A folded cause as a person reads it ("... (limit N%), N% of ..."), cut at a word, not mid-token, when
    longer than `limit`."""
    text = cause or "(no message)"
    for mark, word in _READABLE:
        text = text.replace(mark, word)
    if limit is None or len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:(") + "…"


def normalize_sql(column: str = "error_message") -> str:
    expr = f"coalesce({column}, '')"
    for pattern, repl in RULES:
        expr = f"regexp_replace({expr}, {sql_string(pattern)}, {sql_string(repl)}, 'g')"
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


def failed_checks(names: str | None, message: str | None) -> list[dict[str, Any]]:
    """The hard checks an output failed (`names`: ';'-separated, from the checks table) with each one's measured
    detail, taken from the silent failure's message ("noop: ...; blank: ..."), and what it means for a reader."""
    text = message or ""
    found = sorted((text.find(f"{n}: "), n) for n in dict.fromkeys(x.strip() for x in (names or "").split(";")) if n)
    starts = [(at, n) for at, n in found if at == 0 or (at > 1 and text[at - 2: at] == "; ")]
    out = []
    for i, (at, name) in enumerate(starts):
        stop = starts[i + 1][0] - 2 if i + 1 < len(starts) else len(text)
        out.append({"name": name, "detail": text[at + len(name) + 2: stop].strip(), "meaning": meaning(name)})
    missing = [n for _, n in found if n not in {x for _, x in starts}]
    return out + [{"name": n, "detail": "", "meaning": meaning(n)} for n in missing]


def failure_cases(
    db: Store, run_ids: list[str], error_kind: str, cause: str, flt: RunFilter = RunFilter(), limit: int = 200
) -> pd.DataFrame:
    """The cases behind one group, with their input thumbnails' sources, the full message, and for an output that
    came back (a silent failure) its path and the names of the hard checks it failed (';'-separated)."""
    if not run_ids:
        return pd.DataFrame()
    wf, params = flt.result_sql()
    marks = ", ".join("?" for _ in run_ids)
    return frame(db, f"""
        SELECT res.run_id, res.pair_id, res."repeat", res.workflow, res.error_kind, res.error_message,
               res.latency_ms, res.attempts, res.finished_at, c.base_path, c.product_path, c.mask_path, c.tags,
               res.output_path,
               (SELECT string_agg(k."check", ';' ORDER BY k."check") FROM checks k
                WHERE k.run_id = res.run_id AND k.pair_id = res.pair_id AND k."repeat" = res."repeat"
                  AND k.severity = 'hard' AND NOT k.passed) AS failed_checks
        FROM results res JOIN cases c USING (run_id, pair_id)
        WHERE res.run_id IN ({marks}) AND res.status = 'error' AND res.error_kind = ?
          AND {normalize_sql('res.error_message')} = ? AND {wf}
        ORDER BY res.finished_at DESC LIMIT {int(limit)}""", [*run_ids, error_kind, cause, *params])
