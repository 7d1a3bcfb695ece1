"""What a run works from, read back: its planned cases, what a run (or a resume) still has to send, and the
results a recheck reads. The runner's own reads, so the runner needs no query module of the pages."""

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
