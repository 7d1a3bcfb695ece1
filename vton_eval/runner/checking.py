"""Automatic checks beside dispatch: outputs are judged in a separate process, off the request path.

A worker thread hands over an output and goes back to sending; the check process judges it
(about 50 ms a megapixel) and the final row, with its check values, goes to the recorder. A hard
check failure turns an `ok` into `error` / `silent_failure`, so error rates and gates count it.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from vton_eval.artifacts import ArtifactStore


def judge(row: dict[str, Any], inputs: dict[str, str | None], thresholds_json: str | None) -> dict[str, Any]:
    """Run the checks for one result row and return the row as it should be stored."""
    from vton_eval.checks import Thresholds, check_paths

    thresholds = Thresholds.from_overrides(thresholds_json) if thresholds_json else None
    report = check_paths(inputs["output"], inputs["base"], inputs["product"], row["workflow"],
                         inputs.get("mask"), inputs.get("reference"), thresholds)
    return apply_report(row, report)


def apply_report(row: dict[str, Any], report: Any) -> dict[str, Any]:
    row = dict(row)
    row["checks"] = json.dumps(report.values(), sort_keys=True)
    row["flags"] = ";".join(r.name for r in report.flags) or None
    if report.hard_failures:
        row["status"] = "error"
        row["error_kind"] = "silent_failure"
        row["error_message"] = report.summary()
    elif row.get("error_kind") == "silent_failure":
        # Re-checked with other thresholds and now passes: back to what the service answered.
        row["status"], row["error_kind"], row["error_message"] = "ok", None, None
    row["_checks"] = [
        {"run_id": row["run_id"], "pair_id": row["pair_id"], "repeat": row["repeat"], "workflow": row["workflow"],
         "check": r.name, "value": r.value, "threshold": r.threshold, "passed": r.passed, "severity": r.severity}
        for r in report.results
    ]
    row["_checked"] = True
    return row


def case_inputs(store: ArtifactStore, case: dict[str, Any], output_path: str) -> dict[str, str | None]:
    def p(rel: str | None) -> str | None:
        return str(store.abspath(rel)) if rel else None

    return {"output": p(output_path), "base": p(case["base_path"]), "product": p(case["product_path"]),
            "mask": p(case.get("mask_path")), "reference": p(case.get("reference_path"))}


class CheckStage:
    """A one-process pool that checks outputs while the run goes on."""

    def __init__(self, thresholds_json: str | None, workers: int = 1) -> None:
        self.thresholds_json = thresholds_json
        # spawn, not fork: the parent has HTTP threads and locks that a forked child would inherit.
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        self._pending: set[Future] = set()
        self._lock = threading.Lock()
        self.failures = 0

    def submit(self, row: dict[str, Any], inputs: dict[str, str | None],
               on_done: Callable[[dict[str, Any]], None]) -> None:
        future = self._pool.submit(judge, row, inputs, self.thresholds_json)
        with self._lock:
            self._pending.add(future)

        def done(f: Future) -> None:
            with self._lock:
                self._pending.discard(f)
            try:
                final = f.result()
            except Exception as exc:  # a crashed check must not lose the result: keep it, say why
                self.failures += 1
                final = dict(row)
                final["checks"] = json.dumps({"error": f"checks failed: {type(exc).__name__}: {exc}"})
                final["_checked"] = True
            on_done(final)

        future.add_done_callback(done)

    def close(self) -> None:
        """Finish every submitted check, then stop the process."""
        self._pool.shutdown(wait=True)


def check_now(row: dict[str, Any], inputs: dict[str, str | None], thresholds_json: str | None) -> dict[str, Any]:
    """Check in this process (journal replay after a crash: a handful of rows)."""
    try:
        return judge(row, inputs, thresholds_json)
    except Exception as exc:
        final = dict(row)
        final["checks"] = json.dumps({"error": f"checks failed: {type(exc).__name__}: {exc}"})
        final["_checked"] = True
        return final


__all__ = ["CheckStage", "apply_report", "case_inputs", "check_now", "judge"]
