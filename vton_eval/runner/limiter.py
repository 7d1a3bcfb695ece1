"""A run's calls through the quota ledger (`vton_eval.quota_ledger`): a place reserved before each call of a
rate-limited run, its end dated after it, a service's wait kept as a hold; without a rate limit, calls written in
batches."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from vton_eval.clock import duration_text
from vton_eval.quota import QuotaCancelled, Rate
from vton_eval.quota_ledger import (
    Outlook,
    QuotaWaitTooLong,
    ledger_endpoint,
    margin_s,
    outlook_of,
    quota_key,
    quota_outlook,
    utc,
)
from vton_eval.store.base import DatabaseBusy, Store
from vton_eval.store.calls import Refused, add_hold, end_calls, insert_calls, reserve

log = logging.getLogger(__name__)

# A call whose end is never written (a killed process) holds its place until its deadline plus this.
DEADLINE_SLACK_S = 30.0
# How often a wait looks at the ledger again while calls of another process are in flight (their end may
# free a place before their deadline); a release in this process wakes it at once.
POLL_S = 2.0
FLUSH_S = 1.0


class Batch(NamedTuple):
    """Rows to write in a transaction, and what to do once it has committed."""

    write: Callable[[Any], None]
    done: Callable[[], None]


class LedgerLimiter:
    """Calls of one run through the ledger: `acquire()` before a call (waits while the rate limit or a
    service's hold says so) returns a ticket, `release(ticket)` when it ends, `hold_off()` when the service
    asks for a wait. With `rate` None nothing waits for the window, and calls are written in batches."""

    def __init__(self, db: Store, endpoint: str, rate: Rate | None, run_id: str | None, timeout_s: float,
                 patience_s: float = float("inf"), key: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.endpoint = ledger_endpoint(endpoint)
        self.key = key or quota_key()
        self.rate = rate
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.patience_s = patience_s
        self._clock = clock
        self._host, self._pid = socket.gethostname(), os.getpid()
        self._turn = threading.Lock()  # one thread of this process asks the ledger at a time
        self._wake = threading.Condition()
        self._hold_until = 0.0  # clock time before which no call goes (a hold this process knows of)
        self._holds_read = False
        self._pending: list[dict[str, Any]] = []  # unlimited: calls not written yet
        self._ended: list[tuple[str, dt.datetime]] = []  # ends not written yet
        self._written: set[str] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._flusher: threading.Thread | None = None
        self._carried = False  # another writer's transactions carry the unlimited batches (`carried_by`)
        self._outlook: Outlook | None = None  # the last outlook read, which the first unlimited call reuses
        self.last_wait: str | None = None

    @property
    def window_s(self) -> float:
        return self.rate.window_s + margin_s(self.rate) if self.rate else 0.0

    # -- what the ledger says ------------------------------------------------------------------------

    def outlook(self) -> Outlook:
        self._outlook = quota_outlook(self.db, self.endpoint, self.rate, self.key, self._clock)
        return self._outlook

    def _call(self) -> dict[str, Any]:
        now = self._clock()
        return {"call_id": uuid.uuid4().hex, "endpoint": self.endpoint, "quota_key": self.key, "run_id": self.run_id,
                "host": self._host, "pid": self._pid, "sent_at": utc(now),
                "ends_by": utc(now + self.timeout_s + DEADLINE_SLACK_S), "ended_at": None}

    # -- taking and giving back a place --------------------------------------------------------------

    def acquire(self, stop: threading.Event | None = None,
                on_wait: Callable[[float, str], None] | None = None) -> str:
        """A ticket for one call, once the ledger has room for it. Raises QuotaCancelled when `stop` is set
        meanwhile, QuotaWaitTooLong when a service's hold outlasts the run's patience."""
        stop = stop or threading.Event()
        with self._turn:
            while True:
                if stop.is_set():
                    raise QuotaCancelled()
                if self.rate is None:
                    ticket = self._unlimited(stop, on_wait)
                    if ticket is not None:
                        return ticket
                    continue
                # Straight to the reservation (one transaction reads the window and takes the place): the
                # ledger is read apart only while it has no room.
                call = self._call()
                try:
                    self.db.write(lambda w, c=call: reserve(w, self.endpoint, self.key, self.rate.count, self.window_s,
                                                            c), busy_timeout_s=5.0)
                except Refused as no_room:
                    self._wait(outlook_of(no_room.window, self.endpoint, self.key, self.rate), stop, on_wait)
                    continue
                except DatabaseBusy:
                    continue
                with self._lock:
                    self._written.add(call["call_id"])
                return call["call_id"]

    def _unlimited(self, stop: threading.Event, on_wait: Callable[[float, str], None] | None) -> str | None:
        if not self._holds_read:
            self._holds_read = True
            found = self._outlook or self.outlook()  # the run read it just before its first call
            if found.wait_s > 0:
                self._hold_until = max(self._hold_until, self._clock() + found.wait_s)
                self._wait(found, stop, on_wait)
                return None
        wait = self._hold_until - self._clock()
        if wait > 0:
            self._wait(self.outlook(), stop, on_wait, wait)
            return None
        call = self._call()
        with self._lock:
            self._pending.append(call)
        self._start_flusher()
        return call["call_id"]

    def _wait(self, found: Outlook, stop: threading.Event, on_wait: Callable[[float, str], None] | None,
              seconds: float | None = None) -> None:
        seconds = found.wait_s if seconds is None else seconds
        if found.by_hold and seconds > self.patience_s:
            raise QuotaWaitTooLong(f"{found.describe()}; that is longer than the run's patience "
                                   f"({duration_text(self.patience_s)}); resume later, or, if the quota is back sooner "
                                   f"(another token), `vton-eval quota {self.endpoint} --clear-holds` forgets the wait")
        self.last_wait = found.describe()
        if on_wait is not None:
            on_wait(seconds, self.last_wait)
        others_flying = any(o.in_flight for o in found.window.occupants)
        until = time.monotonic() + (min(seconds, POLL_S) if others_flying else seconds)
        with self._wake:
            while not stop.is_set():
                left = until - time.monotonic()
                if left <= 0:
                    return
                # A release here wakes the wait; a stop is noticed within half a second.
                if self._wake.wait(timeout=min(left, 0.5)):
                    return

    def release(self, ticket: str) -> None:
        """The call ended: from now on it holds its place for one window."""
        ended = (ticket, utc(self._clock()))
        with self._lock:
            # A rate-limited call's end is written now (others wait for it); an unlimited one's in the next batch.
            now_written = self.rate is not None and ticket in self._written
            if not now_written:
                self._ended.append(ended)
        if now_written:
            try:
                self.db.write(lambda w: end_calls(w, [ended]), busy_timeout_s=30.0)
            except Exception as exc:  # its deadline bounds it; the run goes on
                log.warning("could not date the end of a call in the quota ledger: %s", exc)
        with self._wake:
            self._wake.notify_all()

    def hold_off(self, seconds: float, reason: str | None = None) -> None:
        """The service asked for a wait: nobody (no run, no try of this endpoint and key) calls before it ends."""
        now = self._clock()
        self._hold_until = max(self._hold_until, now + seconds)
        try:
            self.db.write(lambda w: add_hold(w, self.endpoint, self.key, utc(now), utc(now + seconds), self.run_id,
                                             reason), busy_timeout_s=30.0)
        except Exception as exc:  # this process still waits; only other runs would not know
            log.warning("could not write a service's wait to the quota ledger: %s", exc)

    # -- batches (unlimited) --------------------------------------------------------------------------

    def carried_by(self, carry: Callable[[Callable[[], Batch | None]], None]) -> None:
        """Another writer (the run's recorder) writes the unlimited batches in its own transactions: one
        commit instead of two, and no thread of this limiter's own. That writer's close writes what is left."""
        carry(self.batch)
        self._carried = True

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None or self._carried:
                return
            self._flusher = threading.Thread(target=self._flush_loop, name="vton-ledger", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._closing.wait(FLUSH_S):
            self._flush(busy_timeout_s=2.0)

    def batch(self) -> Batch | None:
        """The unlimited calls and ends not written yet (None when there are none), to write in a transaction;
        its `done()` forgets them once that transaction has committed."""
        with self._lock:
            calls, ended = [dict(c) for c in self._pending], list(self._ended)
        if not calls and not ended:
            return None
        ends = dict(ended)
        for c in calls:  # a call that already ended is written whole
            c["ended_at"] = ends.pop(c["call_id"], None)
        ids, done_ends = {c["call_id"] for c in calls}, {call_id for call_id, _ in ended}

        def write(w: Any) -> None:
            insert_calls(w, calls)
            end_calls(w, list(ends.items()))

        def done() -> None:
            with self._lock:
                self._pending = [c for c in self._pending if c["call_id"] not in ids]
                self._ended = [e for e in self._ended if e[0] not in done_ends]
                self._written |= ids

        return Batch(write, done)

    def _flush(self, busy_timeout_s: float) -> bool:
        found = self.batch()
        if found is None:
            return True
        try:
            self.db.write(found.write, busy_timeout_s=busy_timeout_s)
        except Exception as exc:
            if not isinstance(exc, DatabaseBusy):
                log.warning("could not write calls to the quota ledger (retrying): %s", exc)
            return False
        found.done()
        return True

    def close(self) -> None:
        """Write what is still pending (unlimited runs' batches), unless another writer carries them."""
        self._closing.set()
        if self._carried:
            return
        if self._flusher is not None:
            self._flusher.join()
        deadline = time.monotonic() + 30.0
        while not self._flush(busy_timeout_s=5.0) and time.monotonic() < deadline:
            time.sleep(0.2)
