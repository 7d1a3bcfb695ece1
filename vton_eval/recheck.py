"""`vton-eval checks RUN_ID`: judge a run's outputs again, e.g. after a threshold change.

Every result that has an output (ok, or a silent failure) is checked again with the run's
thresholds or new ones; results, flags and the `checks` table are replaced in one transaction,
so a reader sees the old verdicts or the new ones, never a mix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from vton_eval.artifacts import ArtifactStore
from vton_eval.checks import Thresholds
from vton_eval.errors import VtonEvalError
from vton_eval.runner.checking import CheckStage, case_inputs
from vton_eval.store.db import Database
from vton_eval.store.runs import get_run, update_run
from vton_eval.store.summaries import refresh_summaries
from vton_eval.store.writes import insert_checks


class RecheckError(VtonEvalError, ValueError):
    pass


def recheck(db: Database, run_id: str, overrides: Mapping[str, Any] | None = None,
            on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Re-run the checks of a run; return counts before/after ({'checked', 'silent_failures', ...})."""
    run = get_run(db, run_id)
    if run is None:
        raise RecheckError(f"no run {run_id} in {db.path}")
    if run["status"] == "running":
        raise RecheckError(f"run {run_id} is still running; recheck it when it ends")
    try:
        base = Thresholds.from_overrides(run.get("checks_config")) if run.get("checks_config") else Thresholds()
        thresholds = base.with_overrides(overrides) if overrides else base
    except ValueError as exc:
        raise RecheckError(f"check thresholds: {exc}") from None
    thresholds_json = thresholds.to_json()
    with db.connect(read_only=True) as con:
        cur = con.execute("""
            SELECT res.*, c.base_path, c.product_path, c.mask_path, c.reference_path
            FROM results res JOIN cases c USING (run_id, pair_id)
            WHERE res.run_id = ? AND res.output_path IS NOT NULL
              AND (res.status = 'ok' OR res.error_kind = 'silent_failure')""", [run_id])
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    before = Counter(r["error_kind"] or "ok" for r in rows)
    store = ArtifactStore(db.path)
    finals: list[dict[str, Any]] = []
    stage = CheckStage(thresholds_json)
    try:
        for row in rows:
            case = {k: row[k] for k in ("base_path", "product_path", "mask_path", "reference_path")}
            result_row = {k: v for k, v in row.items() if k not in case}
            stage.submit(result_row, case_inputs(store, case, row["output_path"]), finals.append)
    finally:
        stage.close()  # waits for every submitted check
    if on_progress is not None:
        on_progress(len(finals), len(rows))
    updates = [(r["pair_id"], r["repeat"], r["status"], r["error_kind"], r["error_message"], r.get("flags"),
                r.get("checks")) for r in finals]
    with db.connect() as con:
        con.execute("BEGIN")
        con.execute("""CREATE TEMP TABLE _new (pair_id VARCHAR, "repeat" INTEGER, status VARCHAR, error_kind VARCHAR,
                       error_message VARCHAR, flags VARCHAR, checks VARCHAR)""")
        appender = con.appender("_new")
        appender.append_rows(updates)
        appender.flush()
        con.execute("""
            UPDATE results SET status = n.status, error_kind = n.error_kind, error_message = n.error_message,
                               flags = n.flags, checks = n.checks
            FROM _new n WHERE results.run_id = ? AND results.pair_id = n.pair_id AND results."repeat" = n."repeat"
        """, [run_id])
        con.execute("DROP TABLE _new")
        con.execute('DELETE FROM checks WHERE run_id = ? AND (pair_id, "repeat") IN '
                    '(SELECT pair_id, "repeat" FROM results WHERE run_id = ? AND output_path IS NOT NULL)',
                    [run_id, run_id])
        insert_checks(con, [c for r in finals for c in r.get("_checks") or ()])
        refresh_summaries(con, [run_id])
        update_run(con, run_id, checks_config=thresholds_json)
        con.execute("COMMIT")
    after = Counter(r["error_kind"] or "ok" for r in finals)
    return {"checked": len(finals), "before": dict(before), "after": dict(after),
            "flagged": sum(1 for r in finals if r.get("flags")), "thresholds": thresholds_json}
