"""A run from start to end: plan it, record it, dispatch it, and leave a truthful status.

`create_run` checks everything that can be checked before a request is sent and records the run
with its planned cases (inputs copied into the artifact store, so a run can be resumed or
reviewed even after the dataset folder changes). `execute_run` sends what is not yet recorded,
which makes a fresh run and a resume the same code path.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vton_eval.artifacts import ArtifactStore
from vton_eval.backend import Endpoint, EndpointError, EndpointStopped
from vton_eval.datasets import Dataset, load_dataset
from vton_eval.errors import VtonEvalError
from vton_eval.outcome import Outcome
from vton_eval.provenance import tool_version
from vton_eval.quota import SlidingWindowLimiter, parse_rate
from vton_eval.runner.dispatch import Attempted, Dispatcher, Task
from vton_eval.runner.plan import parse_shard, select_pairs
from vton_eval.runner.recorder import Recorder, ResultsNotWritten
from vton_eval.runner.settings import RunSettings
from vton_eval.runner.sink import ResultSink
from vton_eval.secrets import clean_message
from vton_eval.store.db import Database
from vton_eval.store.runs import claim_run, finish_run, get_run, insert_run, process_alive, utcnow
from vton_eval.store.writes import insert_cases


class RunError(VtonEvalError):
    """The run cannot start (bad dataset, bad selection, already running...)."""


@dataclass
class Progress:
    """Counts a run's display reads; updated from worker threads."""

    total: int = 0
    done: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    note: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, status: str, kind: str | None) -> None:
        with self._lock:
            self.done += 1
            if status == "ok":
                self.ok += 1
            else:
                self.errors[kind or "unknown"] += 1


@dataclass
class RunReport:
    run_id: str
    status: str
    message: str | None
    progress: Progress
    sent: int = 0
    largest_check_backlog: int = 0


class _Background:
    """A call started now in a thread; `result()` waits for it and re-raises what it raised."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self._value = fn()
        except BaseException as exc:  # handed to whoever waits for the result
            self._error = exc

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self.wait()
        if self._error is not None:
            raise self._error
        return self._value


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or utcnow()
    return now.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def create_run(db: Database, settings: RunSettings, dataset: Dataset | None = None) -> str:
    """Validate, plan and record a run (status 'running', nothing sent yet). Raise RunError."""
    try:
        settings.validate()
    except ValueError as exc:
        raise RunError(str(exc)) from None
    ds = dataset or load_dataset(settings.dataset)
    if ds.row_errors and not settings.skip_bad_rows:
        lines = "\n".join(f"  {p}" for p in ds.row_errors[:20])
        more = f"\n  ... and {len(ds.row_errors) - 20} more" if len(ds.row_errors) > 20 else ""
        raise RunError(
            f"dataset {ds.manifest} has {len(ds.row_errors)} row problem(s):\n{lines}{more}\n"
            "Fix them (see `vton-eval datasets validate`) or pass --skip-bad-rows to run the valid rows."
        )
    try:
        pairs = select_pairs(ds, settings.workflows, settings.pairs, settings.tags, parse_shard(settings.shard))
    except ValueError as exc:
        raise RunError(str(exc)) from None
    thresholds_json = _thresholds_json(settings)
    run_id = new_run_id()
    store = ArtifactStore(db.path)
    cases = []
    for pair in pairs:
        paths: dict[str, str | None] = {}
        for column in ("base", "product", "mask", "reference"):
            source: Path | None = getattr(pair, column)
            if source is None:
                paths[column] = None
                continue
            # Thumbnails of the inputs are made by the check worker when the run starts.
            paths[column] = store.put_file(source)[0]
        cases.append({
            "run_id": run_id, "pair_id": pair.pair_id, "workflow": pair.workflow, "tags": pair.tags_text,
            "base_path": paths["base"], "product_path": paths["product"], "mask_path": paths["mask"],
            "reference_path": paths["reference"], "base_source": str(pair.base), "product_source": str(pair.product),
            "invalid_reason": pair.invalid_reason,
        })
    now = utcnow()
    with db.connect() as con:
        con.execute("BEGIN")
        insert_run(con, {
            "run_id": run_id, "label": settings.label, "endpoint": settings.endpoint, "dataset": ds.name,
            "dataset_path": str(ds.root), "status": "running", "created_at": now, "updated_at": now,
            "workflows": ",".join(sorted({p.workflow for p in pairs})),
            "pairs_filter": ",".join(settings.pairs) if settings.pairs else None,
            "tags_filter": ";".join(settings.tags) if settings.tags else None,
            "concurrency": settings.concurrency, "rate_limit": settings.rate_limit, "repeats": settings.repeats,
            "retries": settings.retries, "timeout_s": settings.timeout_s,
            "total_cases": len(pairs) * settings.repeats, "settings": settings.to_json(), "shard": settings.shard,
            "checks_config": thresholds_json, "kind": settings.kind, "tool_version": tool_version(),
        })
        insert_cases(con, cases)
        con.execute("COMMIT")
    return run_id


def _thresholds_json(settings: RunSettings) -> str | None:
    """The check thresholds this run uses (defaults plus its overrides), or None when checks are off."""
    if not settings.checks:
        return None
    from vton_eval.checks import Thresholds

    try:
        return Thresholds.from_overrides(settings.check_thresholds).to_json()
    except ValueError as exc:
        raise RunError(f"check thresholds: {exc}") from None


def _tasks(store: ArtifactStore, cases: list[dict[str, Any]], repeats: int, done: set[tuple[str, int]]
           ) -> tuple[list[Task], list[Attempted]]:
    """The cases still to send, and those refused before sending (the service would refuse them)."""
    tasks, refused, now = [], [], time.time()
    for case in cases:
        for repeat in range(1, repeats + 1):
            if (case["pair_id"], repeat) in done:
                continue
            task = Task(case["pair_id"], case["workflow"], repeat, store.abspath(case["base_path"]),
                        store.abspath(case["product_path"]),
                        store.abspath(case["mask_path"]) if case["mask_path"] else None)
            if case["invalid_reason"]:
                # Recorded as invalid_input without a request: it costs no quota.
                outcome = Outcome.error("invalid_input", case["invalid_reason"], 0.0)
                refused.append(Attempted(task, outcome, 0, now, now))
            else:
                tasks.append(task)
    return tasks, refused


def _load_plan(db: Database, run_id: str) -> tuple[list[dict[str, Any]], set[tuple[str, int]]]:
    with db.connect() as con:
        cur = con.execute("SELECT * FROM cases WHERE run_id = ? ORDER BY pair_id", [run_id])
        cols = [d[0] for d in cur.description]
        cases = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        done = {(p, int(r)) for p, r in con.execute(
            'SELECT pair_id, "repeat" FROM results WHERE run_id = ?', [run_id]).fetchall()}
    return cases, done


def execute_run(
    db: Database,
    run_id: str,
    stop: threading.Event | None = None,
    stop_reason: Callable[[], str] | None = None,
    progress: Progress | None = None,
    on_note: Callable[[str], None] | None = None,
) -> RunReport:
    """Send every case of the run that has no recorded result yet; return the final status.

    `stop` ends the run early; `stop_reason()` then says which status to leave ('interrupted'
    for Ctrl-C, 'cancelled' for a cancel request).
    """
    run = get_run(db, run_id)
    if run is None:
        raise RunError(f"no run {run_id} in {db.path}")
    if (run["status"] == "running" and run.get("pid") != os.getpid()
            and process_alive(run.get("pid"), run.get("host"))):
        raise RunError(f"run {run_id} is still running (process {run['pid']} on {run['host']})")
    settings = RunSettings.from_json(run["settings"])
    stop = stop or threading.Event()
    endpoint = Endpoint(settings.endpoint, read_timeout_s=max(60.0, min(settings.timeout_s, 300.0)))
    # Connecting (fetching the app's config) takes a few hundred ms: do it while the run is planned.
    connecting = _Background(lambda: endpoint.open(stop=stop))
    progress = progress or Progress()
    broken: list[str] = []

    def on_broken(error: str) -> None:
        # The database refuses our writes: stop sending calls whose results could not be recorded.
        broken.append(error)
        stop.set()

    recorder = Recorder(db, run_id, on_broken=on_broken)
    cases, stored = _load_plan(db, run_id)
    progress.total = len(cases) * settings.repeats
    with db.connect() as con:
        claim_run(con, run_id)
        for p, kind, n in con.execute(
            "SELECT status, error_kind, count(*) FROM results WHERE run_id = ? GROUP BY ALL", [run_id]
        ).fetchall():
            for _ in range(n):
                progress.add(p, kind)
    sink = ResultSink(run_id, recorder, {c["pair_id"]: c for c in cases}, progress,
                      run.get("checks_config"), settings.checks, stop)
    recorder.start()
    # Results that reached the journal but not the database before a crash come first.
    done = stored | sink.recover(stored)
    tasks, refused = _tasks(recorder.artifacts, cases, settings.repeats, done)
    for attempted in refused:
        sink.accept(attempted)

    status, message, sent = "finished", None, 0
    try:
        if tasks:
            try:
                connecting.result()
            except EndpointStopped:
                pass  # stopped while connecting: the stop below decides the status
            except EndpointError as exc:
                status, message = "failed", str(exc)
            else:
                sink.start_checks()
                sink.make_thumbnails(cases)
                limiter = SlidingWindowLimiter(parse_rate(settings.rate_limit)) if settings.rate_limit else None

                def note(text: str) -> None:
                    progress.note = text
                    if on_note is not None:
                        on_note(text)

                dispatcher = Dispatcher(endpoint, settings.concurrency, settings.retries, settings.timeout_s,
                                        limiter, stop, backoff_base_s=settings.backoff_s, on_wait=note)
                try:
                    dispatcher.run(tasks, sink.accept)
                finally:
                    sent = dispatcher.sent
        if broken:
            status, message = "failed", f"stopped: the database cannot be written ({broken[0]})"
        elif stop.is_set() and status != "failed":
            status = stop_reason() if stop_reason is not None else "interrupted"
            message = f"stopped with {progress.done} of {progress.total} cases recorded"
    except BaseException as exc:
        status, message = "failed", clean_message(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        connecting.wait()
        endpoint.close()
        try:
            sink.close()
            recorder.close()
        finally:
            if recorder.all_written and not sink.unfinished:
                recorder.journal.remove()
            _finish(db, run_id, status, message, recorder)
    return RunReport(run_id, status, message, progress, sent, sink.largest_backlog)


def _finish(db: Database, run_id: str, status: str, message: str | None, recorder: Recorder) -> None:
    """Leave the run's final status; if even that write fails, say where the results are."""
    try:
        with db.connect(busy_timeout_s=120.0) as con:
            finish_run(con, run_id, status, message)
    except VtonEvalError as exc:
        if recorder.journal.path.exists():
            raise ResultsNotWritten(f"{exc}. The run's received results are kept in {recorder.journal.path}; "
                                    f"`vton-eval resume {run_id}` records them once the database can be written"
                                    ) from None
        raise
