"""Writing what a run produces: its planned cases, its results and their checks, and a recheck.

Each function takes the `Writer` of one `Store.write` transaction. Inserts are idempotent on the
tables' keys: replaying a journal after a crash, or a batch retried after a lock conflict, never
duplicates or replaces a recorded result. Writing results also refreshes their runs' summaries
(`vton_eval.store.summaries`) in the same transaction, so both always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vton_eval.clock import utcnow
from vton_eval.records import CheckRow, ParseRow, PlannedCase, Recorded, ResultRow, columns, from_row, values
from vton_eval.store.base import Writer
from vton_eval.store.runs import update_run
from vton_eval.store.summaries import refresh_summaries

RESULT_COLUMNS = columns(ResultRow)
CASE_COLUMNS = columns(PlannedCase)
CHECK_COLUMNS = tuple(c for c in columns(CheckRow) if c != "box")  # the box lives in check_boxes
BOX_COLUMNS = ("run_id", "pair_id", "repeat", "check", "box")
PARSE_COLUMNS = columns(ParseRow)
PARSE_KEY = ("image_sha256", "parser")
RESULT_KEY = ("run_id", "pair_id", "repeat")
CASE_KEY = ("run_id", "pair_id")
CHECK_KEY = ("run_id", "pair_id", "repeat", "check")


def _values(record_type: type, rows: Iterable[Any]) -> list[tuple[Any, ...]]:
    """Rows as tuples in column order; a plain mapping (a test's seed data) is read as the record."""
    out = []
    for row in rows:
        if isinstance(row, Mapping):
            row = from_row(record_type, row)
        out.append(values(row))
    return out


def insert_cases(w: Writer, cases: Iterable[PlannedCase | Mapping[str, Any]]) -> int:
    return w.insert_new("cases", CASE_COLUMNS, _values(PlannedCase, cases), CASE_KEY)


def insert_results(w: Writer, results: Iterable[ResultRow | Mapping[str, Any]]) -> int:
    rows = _values(ResultRow, results)
    written = w.insert_new("results", RESULT_COLUMNS, rows, RESULT_KEY)
    refresh_summaries(w, {row[0] for row in rows})
    return written


def insert_checks(w: Writer, checks: Iterable[CheckRow | Mapping[str, Any]]) -> int:
    return w.insert_new("checks", CHECK_COLUMNS, _values(CheckRow, checks), CHECK_KEY)


def insert_boxes(w: Writer, checks: Iterable[CheckRow]) -> int:
    """Where each check looked (`check_boxes`), for the checks that say."""
    rows = [(c.run_id, c.pair_id, c.repeat, c.check, c.box) for c in checks
            if isinstance(c, CheckRow) and c.box]
    if not rows:
        return 0
    return w.insert_new("check_boxes", BOX_COLUMNS, rows, CHECK_KEY)


def save_parses(w: Writer, parses: Sequence[ParseRow]) -> int:
    """Person parses into the store's cache (a parse already there is kept: one per image and parser)."""
    unique = {(p.image_sha256, p.parser): p for p in parses}
    if not unique:
        return 0
    return w.insert_new("person_parses", PARSE_COLUMNS, [values(p) for p in unique.values()], PARSE_KEY)


def record_batch(w: Writer, run_id: str, batch: Sequence[Recorded]) -> None:
    """A batch of a run's final results with their checks (what the recorder writes)."""
    insert_results(w, [r.result for r in batch])
    insert_checks(w, [c for r in batch for c in r.checks])
    insert_boxes(w, [c for r in batch for c in r.checks])
    save_parses(w, [p for r in batch for p in r.parses])
    update_run(w, run_id, updated_at=utcnow())


def apply_recheck(w: Writer, run_id: str, finals: Sequence[Recorded], checks_config: str | None) -> None:
    """Replace the verdicts of rechecked results and their checks (readers see all old or all new)."""
    w.execute("""CREATE OR REPLACE TEMP TABLE _new (pair_id VARCHAR, "repeat" INTEGER, status VARCHAR,
                 error_kind VARCHAR, error_message VARCHAR, flags VARCHAR, checks VARCHAR)""")
    from vton_eval.store.db import append

    append(w.con, "_new", ("pair_id", "repeat", "status", "error_kind", "error_message", "flags", "checks"),
           [(r.result.pair_id, r.result.repeat, r.result.status, r.result.error_kind, r.result.error_message,
             r.result.flags, r.result.checks) for r in finals])
    w.execute("""
        UPDATE results SET status = n.status, error_kind = n.error_kind, error_message = n.error_message,
                           flags = n.flags, checks = n.checks
        FROM _new n WHERE results.run_id = ? AND results.pair_id = n.pair_id AND results."repeat" = n."repeat"
    """, [run_id])
    w.execute("DROP TABLE _new")
    for table in ("checks", "check_boxes"):
        w.execute(f'DELETE FROM {table} WHERE run_id = ? AND (pair_id, "repeat") IN '
                  '(SELECT pair_id, "repeat" FROM results WHERE run_id = ? AND output_path IS NOT NULL)',
                  [run_id, run_id])
    insert_checks(w, [c for r in finals for c in r.checks])
    insert_boxes(w, [c for r in finals for c in r.checks])
    save_parses(w, [p for r in finals for p in r.parses])
    refresh_summaries(w, [run_id])
    update_run(w, run_id, checks_config=checks_config)
