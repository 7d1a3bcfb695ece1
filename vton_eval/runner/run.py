"""A run from start to end: dispatch what is not recorded yet, and leave a truthful status.

`execute_run` sends every planned case (see `runner.create`) that has no recorded result, which
makes a fresh run and a resume the same code path.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vton_eval import run_process
from vton_eval import workflows as registry
from vton_eval.artifacts import ArtifactStore
from vton_eval.errors import VtonEvalError
from vton_eval.outcome import Outcome
from vton_eval.quota import parse_rate
from vton_eval.records import PlannedCase
from vton_eval.run_process import process_alive
from vton_eval.runner.create import RunError
from vton_eval.runner.dispatch import Attempted, Dispatcher, Task
from vton_eval.runner.limiter import LedgerLimiter
from vton_eval.runner.recorder import Recorder, ResultsNotWritten
from vton_eval.runner.settings import RunSettings, run_profile
from vton_eval.runner.sink import ResultSink
from vton_eval.secrets import FROM_ENVIRONMENT, clean_message, get_token
from vton_eval.services import CallInputs, EndpointError, EndpointStopped, Profile, make_service
from vton_eval.store.base import Store
from vton_eval.store.cases import run_plan
from vton_eval.store.runs import claim_run, finish_run, get_run


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


def _tasks(store: ArtifactStore, cases: list[PlannedCase], repeats: int, done: set[tuple[str, int]]
           ) -> tuple[list[Task], list[Attempted]]:
    """The cases still to send, and those refused before sending (the service would refuse them)."""
    tasks, refused, now = [], [], time.time()
    for case in cases:
        usable = not case.invalid_reason and case.base_path is not None and case.product_path is not None
        inputs = CallInputs(store.abspath(case.base_path), store.abspath(case.product_path), case.workflow,
                            store.abspath(case.mask_path) if case.mask_path else None) if usable else None
        for repeat in range(1, repeats + 1):
            if (case.pair_id, repeat) in done:
                continue
            task = Task(case, repeat, inputs)
            if inputs is None:
                # Recorded as invalid_input without a request: it costs no quota.
                outcome = Outcome.error("invalid_input", case.invalid_reason, 0.0)
                refused.append(Attempted(task, outcome, 0, now, now))
            else:
                tasks.append(task)
    return _interleaved(tasks), refused


def _interleaved(tasks: list[Task]) -> list[Task]:
    """Repeat 1 of every case before any repeat 2, the workflows taken in turn within each: what changes over a
    run (its own start, a service warming up, a busy minute) then spreads over every workflow instead of landing
    on the first pairs in name order, and a run stopped halfway has results for every workflow."""
    order = {w: i for i, w in enumerate(dict.fromkeys(t.case.workflow for t in tasks))}
    rank: Counter[tuple[int, str]] = Counter()
    keyed = []
    for task in tasks:  # in pair order, so a workflow's pairs keep their order
        group = (task.repeat, task.case.workflow)
        keyed.append(((task.repeat, rank[group], order[task.case.workflow]), task))
        rank[group] += 1
    return [task for _, task in sorted(keyed, key=lambda pair: pair[0])]


def _offered_now(tasks: list[Task], profile: Profile, offered: list[str] | None, sink: ResultSink) -> list[Task]:
    """The tasks whose workflow the live endpoint offers now; the others are recorded invalid_input unsent
    (a profile that reads its workflows from the endpoint: it may have dropped one since the run was planned)."""
    if offered is None or not profile.workflows_from_endpoint:
        return tasks
    keep, now = [], time.time()
    for task in tasks:
        reason = profile.unsupported_reason(task.case.workflow, offered)
        if reason is None:
            keep.append(task)
        else:
            sink.accept(Attempted(task, Outcome.error("invalid_input", reason, 0.0), 0, now, now))
    return keep


def execute_run(
    db: Store,
    run_id: str,
    stop: threading.Event | None = None,
    stop_reason: Callable[[], str] | None = None,
    progress: Progress | None = None,
    on_note: Callable[[str], None] | None = None,
    token: str | None | object = FROM_ENVIRONMENT,
) -> RunReport:
    """Send every case of the run that has no recorded result yet; return the final status.

    `stop` ends the run early; `stop_reason()` then says which status to leave ('interrupted'
    for Ctrl-C, 'cancelled' for a cancel request). `token`: the one to send (None: none); by default
    HF_TOKEN from this process's environment (a run process inherits it only for an allowed endpoint).
    """
    with contextlib.ExitStack() as scope:
        return _execute_run(db, run_id, stop, stop_reason, progress, on_note, token, scope)


def _execute_run(db: Store, run_id: str, stop: threading.Event | None, stop_reason: Callable[[], str] | None,
                 progress: Progress | None, on_note: Callable[[str], None] | None, token: str | None | object,
                 scope: contextlib.ExitStack) -> RunReport:
    run = get_run(db, run_id)
    if run is None:
        raise RunError(f"no run {run_id} in {db.location}")
    if (run["status"] == "running" and run.get("pid") != os.getpid()
            and process_alive(run.get("pid"), run.get("host")) is not False):  # None: another machine's live run
        raise RunError(f"run {run_id} is still running (process {run['pid']} on {run['host']})")
    settings = RunSettings.from_json(run["settings"])
    try:
        profile = run_profile(run)
    except VtonEvalError as exc:
        raise RunError(f"run {run_id}: its profile cannot be used: {exc}") from None
    stop = stop or threading.Event()
    progress = progress or Progress()

    def note(text: str) -> None:
        progress.note = text
        if on_note is not None:
            on_note(text)

    service = make_service(settings.endpoint, settings.timeout_s, profile, on_note=note,
                           token=get_token() if token is FROM_ENVIRONMENT else token)
    # Connecting (fetching the app's config) takes a few hundred ms: do it while the run is planned.
    connecting = _Background(lambda: service.open(stop=stop))
    broken: list[str] = []

    def on_broken(error: str) -> None:
        # The database refuses our writes: stop sending calls whose results could not be recorded.
        broken.append(error)
        stop.set()

    recorder = Recorder(db, run_id, on_broken=on_broken)
    cases, stored, counts = run_plan(db, run_id)
    # Workflows a service offered when the run was planned, new to this process: their generic entries, for this
    # run only (a dashboard's process goes on to other runs and forms).
    scope.enter_context(registry.offered({c.workflow for c in cases}))
    progress.total = len(cases) * settings.repeats
    db.write(lambda w: claim_run(w, run_id))
    run_process.mark(recorder.artifacts.root, run_id)  # what a cancel checks before it signals this process
    for row in counts:
        for _ in range(row["n"]):
            progress.add(row["status"], row["error_kind"])
    sink = ResultSink(run_id, recorder, {c.pair_id: c for c in cases}, progress,
                      run.get("checks_config"), settings.checks, stop)
    recorder.start()
    # Results that reached the journal but not the database before a crash come first.
    done = stored | sink.recover(stored)
    tasks, refused = _tasks(recorder.artifacts, cases, settings.repeats, done)
    for attempted in refused:
        sink.accept(attempted)

    status, message, sent, gave_up = "finished", None, 0, None
    try:
        if tasks:
            try:
                connecting.result()
            except EndpointStopped:
                pass  # stopped while connecting: the stop below decides the status
            except EndpointError as exc:
                status, message = "failed", str(exc)
            else:
                tasks = _offered_now(tasks, profile, service.offered_workflows, sink)
                sink.start_checks()
                sink.make_thumbnails(cases)
                # Every call goes through the store's quota ledger: this run honours the calls of earlier
                # runs, resumes and tries of the endpoint, and later ones honour this run's.
                limiter = LedgerLimiter(db, settings.endpoint, parse_rate(settings.rate_limit) if settings.rate_limit
                                        else None, run_id, settings.timeout_s, settings.patience_s)
                limiter.carried_by(recorder.carry)
                ahead = limiter.outlook()
                if ahead.wait_s > 1:
                    note(f"quota: {ahead.describe()}")
                dispatcher = Dispatcher(service, settings.concurrency, settings.retries, settings.timeout_s,
                                        limiter, stop, backoff_base_s=settings.backoff_s, on_wait=note,
                                        patience_s=settings.patience_s)
                try:
                    dispatcher.run(tasks, sink.accept)
                finally:
                    limiter.close()
                    sent, gave_up = dispatcher.sent, dispatcher.gave_up
        if broken:
            status, message = "failed", f"stopped: the database cannot be written ({broken[0]})"
        elif gave_up and status != "failed":
            status = "interrupted"
            message = f"{gave_up}; {STOPPED}"
        elif stop.is_set() and status != "failed":
            status = stop_reason() if stop_reason is not None else "interrupted"
            message = STOPPED
    except BaseException as exc:
        status, message = "failed", clean_message(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        connecting.wait()
        service.close()
        try:
            sink.close()
            recorder.close()
        finally:
            if recorder.all_written and not sink.unfinished:
                recorder.journal.remove()
            if message is not None and STOPPED in message:
                # Written from the final counts: results whose checks ended during the stop are in them.
                message = message.replace(STOPPED, _stopped(progress, sink.unfinished))
            run_process.unmark(recorder.artifacts.root, run_id)
            _finish(db, run_id, status, message, recorder)
    return RunReport(run_id, status, message, progress, sent, sink.largest_backlog)


STOPPED = "stopped with {recorded}"  # filled in once the last results are written


def _stopped(progress: Progress, unfinished: int) -> str:
    text = f"stopped with {progress.done} of {progress.total} cases recorded"
    if unfinished:
        text += f" ({unfinished} more received, their checks unfinished: resume records them)"
    return text


def _finish(db: Store, run_id: str, status: str, message: str | None, recorder: Recorder) -> None:
    """Leave the run's final status; if even that write fails, say where the results are."""
    try:
        db.write(lambda w: finish_run(w, run_id, status, message), busy_timeout_s=120.0)
    except VtonEvalError as exc:
        if recorder.journal.path.exists():
            raise ResultsNotWritten(f"{exc}. The run's received results are kept in {recorder.journal.path}; "
                                    f"`vton-eval resume {run_id}` records them once the database can be written"
                                    ) from None
        raise
