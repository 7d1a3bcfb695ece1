"""Reading and writing the `runs` table: a run's settings, status and progress."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

from vton_eval.clock import utcnow
from vton_eval.records import RunRow, columns, values
from vton_eval.run_process import with_liveness
from vton_eval.store.base import Store, Writer
from vton_eval.store.reads import reading

RUN_COLUMNS = (
    "run_id", "label", "endpoint", "dataset", "dataset_path", "status", "created_at", "started_at",
    "finished_at", "updated_at", "workflows", "pairs_filter", "tags_filter", "concurrency", "rate_limit",
    "repeats", "retries", "timeout_s", "total_cases", "pid", "host", "message", "settings", "shard", "checks_config",
    "merged_from", "kind", "tool_version", "profile", "profile_text",
)
TERMINAL = ("finished", "cancelled", "interrupted", "failed")
# A suite run is what trends, comparisons, gates and defaults are about; a try is one pair sent from
# the Runs page to see what comes back, listed apart and left out of all of those.
SUITE, TRY = "suite", "try"
RUN_KINDS = (SUITE, TRY)


def insert_run(w: Writer, run: RunRow | Mapping[str, Any]) -> None:
    """A new row of `runs`: a run's `RunRow`, or (merges, seeds) any mapping of its columns."""
    if isinstance(run, RunRow):
        run = dict(zip(columns(RunRow), values(run), strict=True))
    unknown = set(run) - set(RUN_COLUMNS)
    if unknown:
        raise ValueError(f"unknown run fields {sorted(unknown)}")
    names = [c for c in RUN_COLUMNS if c in run]
    w.execute(f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
              [run[c] for c in names])


def update_run(w: Writer, run_id: str, **fields: Any) -> None:
    unknown = set(fields) - set(RUN_COLUMNS)
    if unknown:
        raise ValueError(f"unknown run fields {sorted(unknown)}")
    sets = ", ".join(f"{k} = ?" for k in fields)
    w.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [*fields.values(), run_id])


def claim_run(w: Writer, run_id: str) -> None:
    """Mark a run as running in this process (a new run, or one being resumed); the first claim dates its start."""
    now = utcnow()
    update_run(w, run_id, status="running", pid=os.getpid(), host=socket.gethostname(), updated_at=now,
               finished_at=None, message=None)
    w.execute("UPDATE runs SET started_at = ? WHERE run_id = ? AND started_at IS NULL", [now, run_id])


def finish_run(w: Writer, run_id: str, status: str, message: str | None = None) -> None:
    now = utcnow()
    update_run(w, run_id, status=status, finished_at=now, updated_at=now, message=message)


# Counts come from the per-run summaries (vton_eval.store.summaries), not from a scan of results.
_LIST_SQL = """
SELECT r.*,
       coalesce(c.done, 0) AS done,
       coalesce(c.ok, 0) AS ok,
       coalesce(c.errors, 0) AS errors,
       k.error_kinds,
       date_diff('millisecond', coalesce(r.started_at, r.created_at),
                 coalesce(r.finished_at, r.updated_at, r.created_at)) / 1000.0 AS duration_s
FROM runs r
LEFT JOIN (
    SELECT run_id, sum(cases)::INTEGER AS done, sum(ok)::INTEGER AS ok, sum(errors)::INTEGER AS errors
    FROM run_summary GROUP BY run_id
) c USING (run_id)
LEFT JOIN (
    SELECT run_id, string_agg(DISTINCT error_kind, ',' ORDER BY error_kind) AS error_kinds
    FROM run_error_kinds GROUP BY run_id
) k USING (run_id)
"""


def list_runs(db: Store, limit: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    """Runs (of one kind, or all), newest first, with their progress and outcome counts. No database: no runs."""
    where = " WHERE r.kind = ?" if kind else ""
    sql = _LIST_SQL + where + " ORDER BY r.created_at DESC, r.run_id DESC" + (f" LIMIT {int(limit)}" if limit else "")
    with reading(db) as read:
        return [with_liveness(r) for r in read.rows(sql, [kind] if kind else [])]


def latest_run(db: Store) -> str | None:
    """What `latest` means in `gate` and `bless`: the newest finished suite run (not a try, not a stopped run)."""
    with reading(db) as read:
        return read.scalar("SELECT run_id FROM runs WHERE status = 'finished' AND kind = ? "
                           "ORDER BY created_at DESC, run_id DESC LIMIT 1", [SUITE])


def get_run(db: Store, run_id: str) -> dict[str, Any] | None:
    with reading(db) as read:
        run = read.one(_LIST_SQL + " WHERE r.run_id = ?", [run_id])
    return with_liveness(run) if run else None


def resolve_run_id(db: Store, prefix: str) -> str | None:
    """Accept a full run id or a unique prefix of one (as git does with commits)."""
    with reading(db) as read:
        ids = [r["run_id"] for r in read.rows(
            "SELECT run_id FROM runs WHERE run_id = ? OR starts_with(run_id, ?) ORDER BY run_id", [prefix, prefix])]
    if prefix in ids:
        return prefix
    return ids[0] if len(ids) == 1 else None
