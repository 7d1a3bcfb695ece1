"""Sending the cases: bounded concurrency, a client-side quota, and retries for transient errors.

A server error that comes back with the same message as the try before it is taken as deterministic (an
app that fails the same way on the same input: CatVTON's "cannot write mode RGBA as JPEG" cost three
calls a case of a 30-an-hour quota) and that case is not retried again. Load-shaped failures (rate
limits, a full queue, timeouts, lost connections) repeat by nature and keep their retries.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from vton_eval.clock import duration_text as _duration
from vton_eval.outcome import Outcome
from vton_eval.quota import QuotaCancelled
from vton_eval.quota_ledger import QuotaWaitTooLong
from vton_eval.records import PlannedCase
from vton_eval.runner.limiter import LedgerLimiter
from vton_eval.services import CallInputs, Service

log = logging.getLogger(__name__)

# Without a window to wait out, a rate-limited call waits this long before its retry.
DEFAULT_RATE_LIMIT_WAIT_S = 60.0
# Kinds whose repeated message says the failure is the app's answer to this input, not a passing state.
_REPEATS_ARE_FINAL = frozenset({"server_error"})


@dataclass(frozen=True)
class Task:
    """One repeat of a planned case, with its inputs as files the service is sent."""

    case: PlannedCase
    repeat: int
    inputs: CallInputs | None  # None: a case refused before sending (its inputs are not images we send)


@dataclass
class Attempted:
    task: Task
    outcome: Outcome
    attempts: int
    started_at: float
    finished_at: float


class Dispatcher:
    def __init__(
        self,
        service: Service,
        concurrency: int,
        retries: int,
        timeout_s: float,
        limiter: LedgerLimiter | None,
        stop: threading.Event,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 30.0,
        on_wait: Callable[[str], None] | None = None,
        patience_s: float = float("inf"),
    ) -> None:
        self.service = service
        self.concurrency = concurrency
        self.retries = retries
        self.timeout_s = timeout_s
        self.limiter = limiter
        self.stop = stop
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.on_wait = on_wait
        self.patience_s = patience_s
        # Why the run gave up waiting (a service asked for a longer wait than the run's patience), if it did.
        self.gave_up: str | None = None
        self.sent = 0
        self._sent_lock = threading.Lock()

    def run(self, tasks: Iterable[Task], on_done: Callable[[Attempted], None]) -> None:
        """Send every task; call on_done for each one that finished (not for those cut by a stop)."""
        pending = list(tasks)
        lock = threading.Lock()

        def worker() -> None:
            while not self.stop.is_set():
                with lock:
                    if not pending:
                        return
                    task = pending.pop(0)
                attempted = self._attempt(task)
                if attempted is not None:
                    on_done(attempted)

        workers = max(1, min(self.concurrency, len(pending)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vton-call") as pool:
            futures = [pool.submit(worker) for _ in range(workers)]
            for future in futures:
                future.result()

    def _attempt(self, task: Task) -> Attempted | None:
        started = time.time()
        attempt = 0
        previous: Outcome | None = None
        while True:
            attempt += 1
            ticket = None
            if self.limiter is not None:
                try:
                    ticket = self.limiter.acquire(self.stop, on_wait=self._announce_quota_wait)
                except QuotaCancelled:
                    return None
                except QuotaWaitTooLong as exc:
                    # A wait the service asked for (of this run, or of an earlier one) outlasts the patience.
                    self._stop_with(str(exc))
                    return None
            with self._sent_lock:
                self.sent += 1
            try:
                outcome = self.service.call(task.inputs, timeout_s=self.timeout_s, stop=self.stop)
            finally:
                if self.limiter is not None and ticket is not None:
                    self.limiter.release(ticket)
            if self.stop.is_set() and outcome.status == "error" and outcome.error_kind == "cancelled":
                # Cut short by our own stop: not a result. Resume sends it again.
                return None
            if not outcome.transient or attempt > self.retries or _repeated(previous, outcome):
                return Attempted(task, outcome, attempt, started, time.time())
            previous = outcome
            if outcome.error_kind == "rate_limited" and (outcome.retry_after_s or 0) > self.patience_s:
                # Sleeping for a day helps nobody: stop, and let `resume` send this case (and the rest) later.
                self._give_up(outcome)
                return None
            # Why a case took the tries it did, for a test or a logging set-up that shows INFO (%r: the words are data).
            log.info("case %r, repeat %d: try %d failed (%s: %r); trying again", task.case.pair_id, task.repeat,
                     attempt, outcome.error_kind, outcome.error_message,
                     extra={"pair_id": task.case.pair_id, "repeat": task.repeat, "error_kind": outcome.error_kind,
                            "error_message": outcome.error_message})
            if not self._sleep(self._backoff(outcome, attempt)):
                return None

    def _backoff(self, outcome: Outcome, attempt: int) -> float:
        if outcome.error_kind == "rate_limited":
            wait = outcome.retry_after_s
            if wait is None:
                wait = self.limiter.window_s if self.limiter is not None and self.limiter.window_s else \
                    DEFAULT_RATE_LIMIT_WAIT_S
            if self.limiter is not None:
                # Everyone waits: the service counts all our calls (and the ledger tells later runs too).
                self.limiter.hold_off(wait, outcome.error_message)
                if self.on_wait is not None:
                    self.on_wait(f"rate limited by the service: every call waits {_duration(wait)}")
                return 0.0
            if self.on_wait is not None:
                self.on_wait(f"rate limited by the service: waiting {wait:.0f} s before retrying")
            return wait
        delay = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1))
        return delay * (0.5 + random.random() / 2)

    def _give_up(self, outcome: Outcome) -> None:
        said = (outcome.error_message or "")[:300]
        wait = outcome.retry_after_s or 0
        if self.limiter is not None:
            # Written in the ledger: a resume (or another run) started before the wait ends does not call.
            self.limiter.hold_off(wait, said)
        self._stop_with(f"the service asks to wait {_duration(wait)} before the next call, longer than the run's "
                        f"patience ({_duration(self.patience_s)}): {said}")

    def _stop_with(self, why: str) -> None:
        with self._sent_lock:
            if self.gave_up is None:
                self.gave_up = why
        if self.on_wait is not None:
            self.on_wait("quota: the wait is longer than the run's patience; stopping")
        self.stop.set()

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; False when the run is stopping."""
        return not self.stop.wait(seconds) if seconds > 0 else not self.stop.is_set()

    def _announce_quota_wait(self, seconds: float, why: str) -> None:
        if self.on_wait is not None and seconds > 2:
            self.on_wait(f"quota: {why}")


def _repeated(previous: Outcome | None, outcome: Outcome) -> bool:
    """The same deterministic-looking failure as the try before it."""
    return (previous is not None and outcome.error_kind in _REPEATS_ARE_FINAL
            and (previous.error_kind, previous.error_message) == (outcome.error_kind, outcome.error_message))

