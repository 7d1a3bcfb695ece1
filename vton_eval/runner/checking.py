"""Automatic checks beside dispatch: outputs are judged in a separate process, off the request path.

A worker thread hands over an output and goes back to sending; the check process
(`check_worker`) judges it (about 50 ms a megapixel) and the final row, with its check values,
goes to the recorder. A hard check failure turns an `ok` into `error` / `silent_failure`, so error
rates and gates count it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vton_eval import workflows
from vton_eval.artifacts import ArtifactStore
from vton_eval.records import CheckRow, ParseRow, PlannedCase, Recorded, ResultRow
from vton_eval.secrets import without_tokens

_SHA = re.compile(r"^[0-9a-f]{64}$")


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes: the person parse cache's key. A content-addressed artifact is named by
    it already (`objects/ab/<sha256>.jpg`), so only other files are read."""
    stem = Path(path).stem
    if _SHA.match(stem):
        return stem
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def report_from_dict(data: dict[str, Any]) -> Any:
    from vton_eval.checks.results import CheckReport, CheckResult

    return CheckReport([CheckResult(**{**r, "box": tuple(r["box"]) if r.get("box") else None})
                        for r in data["results"]])


def apply_report(result: ResultRow, report: Any) -> Recorded:
    """The result as its checks leave it: a hard failure turns an ok into error / silent_failure."""
    changes: dict[str, Any] = {"checks": json.dumps(report.values(), sort_keys=True),
                               "flags": ";".join(r.name for r in report.flags) or None}
    if report.hard_failures:
        changes.update(status="error", error_kind="silent_failure", error_message=report.summary())
    elif result.error_kind == "silent_failure":
        # Re-checked with other thresholds and now passes: back to what the service answered.
        changes.update(status="ok", error_kind=None, error_message=None)
    checks = tuple(CheckRow(result.run_id, result.pair_id, result.repeat, result.workflow, r.name, r.value,
                            r.threshold, r.passed, r.severity, json.dumps(list(r.box)) if r.box else None)
                   for r in report.results)
    return Recorded(result.replace(**changes), checks)


def unchecked(result: ResultRow, why: str) -> Recorded:
    """The result kept as the service answered it, saying why its checks did not run."""
    return Recorded(result.replace(checks=json.dumps({"error": f"checks failed: {why}"})))


def known_parses(db: Any, store: ArtifactStore, cases: list[PlannedCase]) -> dict[str, str]:
    """The store's cached parses of these cases' person images (a failure to read them costs only time)."""
    from vton_eval.person import parser_name
    from vton_eval.store.parses import load_parses

    shas = set()
    for case in cases:
        if case.base_path:
            try:
                shas.add(file_sha256(store.abspath(case.base_path)))
            except OSError:
                continue
    try:
        return load_parses(db, shas, parser_name())
    except Exception:  # a busy or older store: the worker parses what it is not sent
        return {}


def case_inputs(store: ArtifactStore, case: PlannedCase, output_path: str) -> dict[str, str | None]:
    def p(rel: str | None) -> str | None:
        return str(store.abspath(rel)) if rel else None

    return {"output": p(output_path), "base": p(case.base_path), "product": p(case.product_path),
            "mask": p(case.mask_path), "reference": p(case.reference_path),
            "thumbnail": str(store.thumbnail_path(output_path))}


class CheckStage:
    """A worker process that checks outputs while the run goes on (restarted if it dies).

    Three threads meet here, and none holds a lock while it blocks on the pipe: callers put jobs
    on a queue and return (waiting only for a free slot when `max_backlog` outputs already wait:
    that bounds memory, and slows dispatch down to the checks' pace), a feeder thread writes the
    queue to the worker's stdin, and a reader thread takes its answers. A worker that dies
    settles the jobs it held (kept, unchecked); the next job starts a new worker.
    """

    def __init__(self, thresholds_json: str | None, max_backlog: int = 256,
                 parses: dict[str, str] | None = None) -> None:
        self.thresholds_json = thresholds_json
        # Person parses (JSON) by the person image's SHA-256: the store's cache, and what the worker made
        # here. A job carries its person's parse when known, so the worker parses each person once.
        self.parses: dict[str, str] = dict(parses or {})
        self._shas: dict[str, str] = {}
        self.max_backlog = max_backlog
        self._slots = threading.BoundedSemaphore(max_backlog)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending: dict[int, tuple[ResultRow | None, Callable[[Recorded], None] | None]] = {}
        self._sent_to: dict[int, subprocess.Popen] = {}
        self._jobs: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._next = 0
        self._proc: subprocess.Popen | None = None
        self._feeder: threading.Thread | None = None
        self._closed = False
        # Answers taken off `_pending` whose `on_done` (the recording) has not returned yet: `close` waits for
        # them too, or the run would end, and drop its journal, before their results are recorded.
        self._settling = 0
        self.failures = 0
        self.largest_backlog = 0

    def submit(self, result: ResultRow, inputs: dict[str, str | None],
               on_done: Callable[[Recorded], None], stop: threading.Event | None = None) -> bool:
        """Queue one output's checks; `on_done(recorded)` follows from another thread.

        Waits while the backlog is full. Returns False, without queueing, when `stop` is set first
        (the caller keeps the row as received-but-unchecked).
        """
        while not self._slots.acquire(timeout=0.1):
            if stop is not None and stop.is_set():
                return False
        # The workflow's entry travels with the job: the worker knows a workflow registered here only now.
        job: dict[str, Any] = {"workflow": workflows.to_spec(result.workflow), "inputs": inputs,
                               "thresholds": self.thresholds_json}
        sha = self.person_sha(inputs.get("base"))
        if sha is not None:
            job["base_sha"] = sha
            with self._lock:
                known = self.parses.get(sha)
            if known is not None:
                job["person_parse"] = known
        line = json.dumps(job)
        self._enqueue(line, (result, on_done))
        return True

    def person_sha(self, path: str | None) -> str | None:
        """The person image's SHA-256 (remembered per path), or None when it cannot be read."""
        if not path:
            return None
        sha = self._shas.get(path)
        if sha is None:
            try:
                sha = file_sha256(path)
            except OSError:
                return None
            self._shas[path] = sha
        return sha

    def thumbnails(self, items: list[tuple[str, str]]) -> None:
        """Ask the worker to write (source, target) thumbnails; nothing waits for them."""
        self._slots.acquire()
        self._enqueue(json.dumps({"thumbnails": items}), (None, None))

    def _enqueue(self, body: str, entry: tuple[ResultRow | None, Callable[[Recorded], None] | None]) -> None:
        with self._lock:
            job_id = self._next
            self._next += 1
            self._pending[job_id] = entry
            self.largest_backlog = max(self.largest_backlog, len(self._pending))
            if self._feeder is None:
                self._feeder = threading.Thread(target=self._feed, name="vton-checks-feed", daemon=True)
                self._feeder.start()
        # The id goes first in the line, so the job body is serialised once, outside the lock.
        self._jobs.put((job_id, f'{{"id": {job_id}, {body[1:]}'))

    def _start_worker(self) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vton_eval.runner.check_worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
            env=without_tokens(os.environ),  # it judges images: no token of ours goes with it
        )
        threading.Thread(target=self._read, args=(proc,), name="vton-checks-read", daemon=True).start()
        return proc

    def _feed(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job_id, line = item
            with self._lock:
                if self._closed or job_id not in self._pending:
                    continue
                if self._proc is None or self._proc.poll() is not None:
                    self._proc = self._start_worker()
                proc = self._proc
                self._sent_to[job_id] = proc
            try:
                proc.stdin.write(line + "\n")  # may block while the worker is busy: no lock is held
                proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                # The worker died. Its reader settles the jobs sent to it; this one too, in case the
                # reader had already finished (settling twice is harmless).
                self._settle(job_id, {"error": "the check process stopped"})

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                answer = json.loads(line)
            except json.JSONDecodeError:
                continue
            self._settle(answer.get("id"), answer)
        # The worker died (killed, out of memory) or was stopped: settle what it held.
        with self._lock:
            orphans = [job_id for job_id, p in self._sent_to.items() if p is proc]
        for job_id in orphans:
            self._settle(job_id, {"error": "the check process stopped"})

    def _settle(self, job_id: int | None, answer: dict[str, Any]) -> None:
        with self._lock:
            entry = self._pending.pop(job_id, None) if job_id is not None else None
            self._sent_to.pop(job_id, None)
            closed = self._closed
            if entry is not None:
                self._settling += 1
        if entry is None:
            return
        try:
            self._deliver(entry, answer, closed)
        finally:
            with self._lock:
                self._settling -= 1
                self._idle.notify_all()

    def _deliver(self, entry: tuple[ResultRow | None, Callable[[Recorded], None] | None], answer: dict[str, Any],
                 closed: bool) -> None:
        self._slots.release()
        result, on_done = entry
        new_parse = answer.get("person_parse")
        parses: tuple[ParseRow, ...] = ()
        if isinstance(new_parse, dict):
            with self._lock:
                self.parses[new_parse["sha"]] = new_parse["parse"]
            parses = (ParseRow(new_parse["sha"], new_parse["parser"], bool(new_parse["found"]), new_parse["parse"],
                               dt.datetime.now(dt.UTC).replace(tzinfo=None)),)
        if on_done is not None and result is not None and not closed:
            if "report" in answer:
                recorded = apply_report(result, report_from_dict(answer["report"]))
                on_done(Recorded(recorded.result, recorded.checks, parses))
            else:
                self.failures += 1
                on_done(unchecked(result, answer.get("error", "unknown failure")))

    @property
    def backlog(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self, abandon: bool = False, grace_s: float = 1.0) -> list[ResultRow]:
        """Stop the worker. Normally every submitted check finishes first; with `abandon` (the run was
        stopped) the checks get `grace_s` more, and the rows still waiting are returned unfinished."""
        deadline = time.monotonic() + grace_s
        with self._lock:
            while self._settling or any(on_done is not None for _, on_done in self._pending.values()):
                if abandon and time.monotonic() >= deadline and not self._settling:
                    break
                self._idle.wait(timeout=0.1 if abandon else 0.5)
            self._closed = True
            left = [result for result, on_done in self._pending.values() if on_done is not None and result is not None]
            self._pending.clear()
            self._sent_to.clear()
            proc, self._proc = self._proc, None
        self._jobs.put(None)
        if proc is not None:
            if abandon:
                proc.kill()
            else:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        return left


__all__ = ["CheckStage", "apply_report", "case_inputs", "file_sha256", "unchecked"]
