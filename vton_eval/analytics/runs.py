"""Queries about single runs outside the pages' grids: what a run (or a resume) still has to send, what
a recheck reads, what a try gave back, how long an endpoint's calls usually take."""

from __future__ import annotations

from typing import Any

from vton_eval.records import PlannedCase, ResultRow, from_row
from vton_eval.store.base import Store
from vton_eval.store.reads import reading


def run_plan(db: Store, run_id: str) -> tuple[list[PlannedCase], set[tuple[str, int]], list[dict[str, Any]]]:
    """A run's planned cases, the (pair, repeat) already recorded, and the counts recorded by outcome."""
    with reading(db) as read:
        cases = [from_row(PlannedCase, r) for r in read.rows(
            "SELECT * FROM cases WHERE run_id = ? ORDER BY pair_id", [run_id])]
        done = {(r["pair_id"], int(r["repeat"])) for r in read.rows(
            'SELECT pair_id, "repeat" FROM results WHERE run_id = ?', [run_id])}
        counts = read.rows("SELECT status, error_kind, count(*) AS n FROM results WHERE run_id = ? GROUP BY ALL",
                           [run_id])
    return cases, done, counts


def checkable_results(db: Store, run_id: str) -> list[tuple[ResultRow, PlannedCase]]:
    """The results of a run that have an output to check (ok, or a silent failure), with their cases."""
    with reading(db) as read:
        rows = read.rows("""
            SELECT res.*, c.tags, c.base_path, c.product_path, c.mask_path, c.reference_path, c.base_source,
                   c.product_source, c.invalid_reason
            FROM results res JOIN cases c USING (run_id, pair_id)
            WHERE res.run_id = ? AND res.output_path IS NOT NULL
              AND (res.status = 'ok' OR res.error_kind = 'silent_failure')
            ORDER BY res.pair_id, res."repeat\"""", [run_id])
    return [(from_row(ResultRow, r), from_row(PlannedCase, r)) for r in rows]


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
