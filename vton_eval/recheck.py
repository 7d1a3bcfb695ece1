"""`vton-eval checks RUN_ID`: judge a run's outputs again, e.g. after a threshold change.

Every result that has an output (ok, or a silent failure) is checked again with the run's
thresholds or new ones; results, flags and the `checks` table are replaced in one transaction,
so a reader sees the old verdicts or the new ones, never a mix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from vton_eval import workflows
from vton_eval.checks import Thresholds
from vton_eval.errors import VtonEvalError
from vton_eval.records import Recorded
from vton_eval.runner.checking import CheckStage, case_inputs, known_parses
from vton_eval.store.base import Store
from vton_eval.store.cases import checkable_results
from vton_eval.store.runs import get_run
from vton_eval.store.writes import apply_recheck


class RecheckError(VtonEvalError, ValueError):
    pass


def recheck(db: Store, run_id: str, overrides: Mapping[str, Any] | None = None,
            on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Re-run the checks of a run; return counts before/after ({'checked', 'silent_failures', ...})."""
    run = get_run(db, run_id)
    if run is None:
        raise RecheckError(f"no run {run_id} in {db.location}")
    if run["status"] == "running":
        raise RecheckError(f"run {run_id} is still running; recheck it when it ends")
    try:
        base = Thresholds.from_overrides(run.get("checks_config")) if run.get("checks_config") else Thresholds()
        thresholds = base.with_overrides(overrides) if overrides else base
    except ValueError as exc:
        raise RecheckError(f"check thresholds: {exc}") from None
    thresholds_json = thresholds.to_json()
    rows = checkable_results(db, run_id)
    # A workflow a service offered when the run was planned, new to this process: its generic entry, while the
    # checks are submitted (each job carries its entry to the worker).
    with workflows.offered({result.workflow for result, _ in rows}):
        return _recheck(db, run_id, rows, thresholds_json, on_progress)


def _recheck(db: Store, run_id: str, rows: list, thresholds_json: str,
             on_progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    before = Counter(result.error_kind or "ok" for result, _ in rows)
    finals: list[Recorded] = []
    stage = CheckStage(thresholds_json, parses=known_parses(db, db.artifacts, [case for _, case in rows]))
    try:
        for result, case in rows:
            stage.submit(result, case_inputs(db.artifacts, case, result.output_path or ""), finals.append)
    finally:
        stage.close()  # waits for every submitted check
    if on_progress is not None:
        on_progress(len(finals), len(rows))
    db.write(lambda w: apply_recheck(w, run_id, finals, thresholds_json))
    after = Counter(r.result.error_kind or "ok" for r in finals)
    return {"checked": len(finals), "before": dict(before), "after": dict(after),
            "flagged": sum(1 for r in finals if r.result.flags), "thresholds": thresholds_json}
