"""Where a finished call goes: its output into the artifact store, then checks, then the recorder.

Keeps the order that makes a crash harmless: output file first, journal entry next (before the
checks, which take a while), database last. A case counts in the progress once its row is final.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from vton_eval.records import PlannedCase, Recorded, ResultRow
from vton_eval.runner.checking import CheckStage, case_inputs, known_parses
from vton_eval.runner.dispatch import Attempted
from vton_eval.runner.journal import RECEIVED
from vton_eval.runner.recorder import Recorder
from vton_eval.secrets import clean_message


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC).replace(tzinfo=None)


class ResultSink:
    def __init__(self, run_id: str, recorder: Recorder, cases: dict[str, PlannedCase], progress: Any,
                 thresholds_json: str | None, checks: bool, stop: threading.Event | None = None) -> None:
        self.run_id = run_id
        self.recorder = recorder
        self.cases = cases
        self.progress = progress
        self.thresholds_json = thresholds_json
        self.checks = checks
        self.stop = stop or threading.Event()
        self.stage: CheckStage | None = None
        # Received outputs whose checks a stop cut short: journalled as received, so `resume`
        # checks and records them; the journal must then be kept.
        self.unfinished = 0
        self.largest_backlog = 0

    def start_checks(self) -> None:
        if self.checks and self.stage is None:
            self.stage = CheckStage(self.thresholds_json, parses=known_parses(
                self.recorder.db, self.recorder.artifacts, list(self.cases.values())))

    def make_thumbnails(self, cases: list[PlannedCase]) -> None:
        """Have the check worker make the inputs' grid thumbnails (skipped when checks are off:
        the dashboard then makes them on first view)."""
        if self.stage is None:
            return
        store = self.recorder.artifacts
        items = []
        for case in cases:
            for rel in (case.base_path, case.product_path, case.mask_path, case.reference_path):
                if rel and not store.thumbnail_path(rel).exists():
                    items.append((str(store.abspath(rel)), str(store.thumbnail_path(rel))))
        if items:
            self.stage.thumbnails(sorted(set(items)))

    def result(self, a: Attempted) -> ResultRow:
        outcome = a.outcome
        output_path = sha = None
        if outcome.output is not None:
            output_path, sha = self.recorder.store_output(outcome.output)
        return ResultRow(
            run_id=self.run_id, pair_id=a.task.case.pair_id, workflow=a.task.case.workflow, repeat=a.task.repeat,
            status=outcome.status, error_kind=outcome.error_kind, error_message=clean_message(outcome.error_message),
            latency_ms=outcome.latency_ms, queue_ms=outcome.queue_ms, attempts=a.attempts,
            output_path=output_path, output_sha256=sha, output_width=outcome.output_width,
            output_height=outcome.output_height, started_at=_utc(a.started_at), finished_at=_utc(a.finished_at),
        )

    def accept(self, a: Attempted) -> None:
        """Called from a worker thread for every finished case."""
        self._check_or_record(self.result(a), journal_first=True)

    def _check_or_record(self, result: ResultRow, journal_first: bool) -> None:
        if result.output_path and self.stage is not None:
            if journal_first:
                self.recorder.note_received(result)
            inputs = case_inputs(self.recorder.artifacts, self.cases[result.pair_id], result.output_path)
            if not self.stage.submit(result, inputs, self.final, stop=self.stop):
                self.unfinished += 1
        else:
            self.final(Recorded(result))

    def final(self, recorded: Recorded) -> None:
        self.recorder.record(recorded)
        self.progress.add(recorded.result.status, recorded.result.error_kind)

    def recover(self, stored: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """Requeue journalled results the database lacks (checking those a crash left unchecked)."""
        recovered = set()
        for entry in self.recorder.journal.latest():
            recovered.add(entry.key)
            if entry.key in stored:
                continue
            if entry.stage == RECEIVED and self.checks and entry.recorded.result.output_path:
                # Checked by the worker like any new output; recorded when its checks end.
                self.start_checks()
                self._check_or_record(entry.recorded.result, journal_first=False)
                continue
            self.recorder.requeue(entry.recorded)
            self.progress.add(entry.recorded.result.status, entry.recorded.result.error_kind)
        return recovered

    def close(self) -> None:
        """Finish the checks; when the run was stopped, leave the waiting ones to `resume` instead."""
        if self.stage is not None:
            self.unfinished += len(self.stage.close(abandon=self.stop.is_set()))
            self.largest_backlog = max(self.largest_backlog, self.stage.largest_backlog)
            self.stage = None
