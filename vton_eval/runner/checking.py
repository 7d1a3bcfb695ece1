"""Automatic checks beside dispatch: outputs are judged in a separate process, off the request path.

A worker thread hands over an output and goes back to sending; the check process
(`check_worker`) judges it (about 50 ms a megapixel) and the final row, with its check values,
goes to the recorder. A hard check failure turns an `ok` into `error` / `silent_failure`, so error
rates and gates count it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from vton_eval.artifacts import ArtifactStore


def report_from_dict(data: dict[str, Any]) -> Any:
    from vton_eval.checks.results import CheckReport, CheckResult

    return CheckReport([CheckResult(**r) for r in data["results"]])


def judge(row: dict[str, Any], inputs: dict[str, str | None], thresholds_json: str | None) -> dict[str, Any]:
    """Run the checks for one result row in this process and return the row as it should be stored."""
    from vton_eval.runner.check_worker import judge as judge_job

    report = judge_job({"workflow": row["workflow"], "inputs": inputs, "thresholds": thresholds_json})
    return apply_report(row, report_from_dict(report))


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
            "mask": p(case.get("mask_path")), "reference": p(case.get("reference_path")),
            "thumbnail": str(store.thumbnail_path(output_path))}


class CheckStage:
    """A worker process that checks outputs while the run goes on (restarted if it dies)."""

    def __init__(self, thresholds_json: str | None) -> None:
        self.thresholds_json = thresholds_json
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[dict[str, Any], Callable[[dict[str, Any]], None]]] = {}
        self._next = 0
        self._idle = threading.Condition(self._lock)
        self._proc: subprocess.Popen | None = None
        self.failures = 0

    def _ensure(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "vton_eval.runner.check_worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
            )
            threading.Thread(target=self._read, args=(self._proc,), name="vton-checks", daemon=True).start()
        return self._proc

    def submit(self, row: dict[str, Any], inputs: dict[str, str | None],
               on_done: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            job_id = self._next
            self._next += 1
            self._pending[job_id] = (row, on_done)
            proc = self._ensure()
            line = json.dumps({"id": job_id, "workflow": row["workflow"], "inputs": inputs,
                               "thresholds": self.thresholds_json})
            try:
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass  # the reader sees the worker die and settles its pending jobs

    def thumbnails(self, items: list[tuple[str, str]]) -> None:
        """Ask the worker to write (source, target) thumbnails; nothing waits for them."""
        with self._lock:
            job_id = self._next
            self._next += 1
            self._pending[job_id] = ({}, None)
            proc = self._ensure()
            try:
                proc.stdin.write(json.dumps({"id": job_id, "thumbnails": items}) + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            answer = json.loads(line)
            with self._lock:
                row, on_done = self._pending.pop(answer["id"])
            if on_done is None:  # a thumbnails job: nothing to record
                pass
            elif "report" in answer:
                final = apply_report(row, report_from_dict(answer["report"]))
            else:
                final = _unchecked(row, answer["error"])
                self.failures += 1
            if on_done is not None:
                on_done(final)
            with self._lock:
                self._idle.notify_all()
        # The worker died (killed, out of memory): its pending results are kept, unchecked.
        with self._lock:
            orphans = [v for k, v in self._pending.items()] if proc is self._proc else []
            if proc is self._proc:
                self._pending.clear()
        for row, on_done in orphans:
            if on_done is not None:
                self.failures += 1
                on_done(_unchecked(row, "the check process stopped"))
        with self._lock:
            self._idle.notify_all()

    def close(self) -> None:
        """Finish every submitted check, then stop the worker."""
        with self._lock:
            while self._pending and self._proc is not None and self._proc.poll() is None:
                self._idle.wait(timeout=0.5)
            proc, self._proc = self._proc, None
        if proc is not None:
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _unchecked(row: dict[str, Any], why: str) -> dict[str, Any]:
    final = dict(row)
    final["checks"] = json.dumps({"error": f"checks failed: {why}"})
    final["_checked"] = True
    return final


def check_now(row: dict[str, Any], inputs: dict[str, str | None], thresholds_json: str | None) -> dict[str, Any]:
    """Check in this process (journal replay after a crash: a handful of rows)."""
    try:
        return judge(row, inputs, thresholds_json)
    except Exception as exc:
        return _unchecked(row, f"{type(exc).__name__}: {exc}")


__all__ = ["CheckStage", "apply_report", "case_inputs", "check_now", "judge"]
