"""Where a finished call goes: its output into the artifact store, then checks, then the recorder.

Keeps the order that makes a crash harmless: output file first, journal entry next (before the
checks, which take a while), database last. A case counts in the progress once its row is final.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from vton_eval.outcome import Outcome
from vton_eval.runner.checking import CheckStage, case_inputs
from vton_eval.runner.dispatch import Attempted
from vton_eval.runner.recorder import Recorder
from vton_eval.secrets import clean_message


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC).replace(tzinfo=None)


class ResultSink:
    def __init__(self, run_id: str, recorder: Recorder, cases: dict[str, dict[str, Any]], progress: Any,
                 thresholds_json: str | None, checks: bool, stop: threading.Event | None = None) -> None:
        self.run_id = run_id
        self.recorder = recorder
        self.cases = cases
        self.progress = progress
        self.thresholds_json = thresholds_json
        self.checks = checks
        self.stop = stop or threading.Event()
        self.stage: CheckStage | None = None
        # Received outputs whose checks a stop cut short: journalled as unchecked, so `resume`
        # checks and records them; the journal must then be kept.
        self.unfinished = 0
        self.largest_backlog = 0

    def start_checks(self) -> None:
        if self.checks and self.stage is None:
            self.stage = CheckStage(self.thresholds_json)

    def make_thumbnails(self, cases: list[dict[str, Any]]) -> None:
        """Have the check worker make the inputs' grid thumbnails (skipped when checks are off:
        the dashboard then makes them on first view)."""
        if self.stage is None:
            return
        store = self.recorder.artifacts
        items = []
        for case in cases:
            for column in ("base_path", "product_path", "mask_path", "reference_path"):
                rel = case.get(column)
                if rel and not store.thumbnail_path(rel).exists():
                    items.append((str(store.abspath(rel)), str(store.thumbnail_path(rel))))
        if items:
            self.stage.thumbnails(sorted(set(items)))

    def row(self, a: Attempted) -> dict[str, Any]:
        outcome: Outcome = a.outcome
        output_path = sha = None
        if outcome.output is not None:
            output_path, sha = self.recorder.store_output(outcome.output)
        return {
            "run_id": self.run_id, "pair_id": a.task.pair_id, "workflow": a.task.workflow, "repeat": a.task.repeat,
            "status": outcome.status, "error_kind": outcome.error_kind,
            "error_message": clean_message(outcome.error_message),
            "latency_ms": outcome.latency_ms, "queue_ms": outcome.queue_ms, "attempts": a.attempts,
            "output_path": output_path, "output_sha256": sha, "output_width": outcome.output_width,
            "output_height": outcome.output_height, "started_at": _utc(a.started_at),
            "finished_at": _utc(a.finished_at),
        }

    def accept(self, a: Attempted) -> None:
        """Called from a worker thread for every finished case."""
        row = self.row(a)
        if row["output_path"] and self.stage is not None:
            self.recorder.note_received(row)
            inputs = case_inputs(self.recorder.artifacts, self.cases[row["pair_id"]], row["output_path"])
            if not self.stage.submit(row, inputs, self.final, stop=self.stop):
                self.unfinished += 1
        else:
            self.final(row)

    def final(self, row: dict[str, Any]) -> None:
        self.recorder.record(row)
        self.progress.add(row["status"], row["error_kind"])

    def recover(self, stored: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """Requeue journalled rows the database lacks (checking those a crash left unchecked)."""
        recovered = set()
        for row in self.recorder.journalled():
            key = (row["pair_id"], int(row["repeat"]))
            recovered.add(key)
            if key in stored:
                continue
            if row.get("_checked") is False:
                row = {k: v for k, v in row.items() if k != "_checked"}
                if self.checks and row.get("output_path"):
                    # Checked by the worker like any new output; recorded when its checks end.
                    self.start_checks()
                    assert self.stage is not None
                    inputs = case_inputs(self.recorder.artifacts, self.cases[row["pair_id"]], row["output_path"])
                    if not self.stage.submit(row, inputs, self.final, stop=self.stop):
                        self.unfinished += 1
                    continue
            self.recorder.requeue(row)
            self.progress.add(row["status"], row["error_kind"])
        return recovered

    def close(self) -> None:
        """Finish the checks; when the run was stopped, leave the waiting ones to `resume` instead."""
        if self.stage is not None:
            self.unfinished += len(self.stage.close(abandon=self.stop.is_set()))
            self.largest_backlog = max(self.largest_backlog, self.stage.largest_backlog)
            self.stage = None
