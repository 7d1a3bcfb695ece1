"""Where finished cases go: artifact files, the journal, then batched writes to DuckDB.

Workers hand over a finished case and return to dispatching at once. A single writer thread
opens the database for each batch only (so a reader is never locked out for long), retries
when a reader holds the lock, and keeps the batch meanwhile: the journal already has it.

A write that fails for another reason (a damaged file, a full disk) is retried with a growing,
capped pause and logged once per distinct error; when it keeps failing, `on_broken` tells the run,
which stops instead of spending calls it cannot record.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from vton_eval.errors import VtonEvalError
from vton_eval.records import Recorded, ResultRow
from vton_eval.runner.journal import FINAL, RECEIVED, Journal, journal_path
from vton_eval.runner.limiter import Batch
from vton_eval.store.base import DatabaseBusy, Store, Writer
from vton_eval.store.writes import record_batch

log = logging.getLogger(__name__)
_BACKOFF_CAP_S = 5.0
# A batch a second: each opens the database (~15 ms of CPU for DuckDB alone) and, on a shared store, adds a
# snapshot and small files; a second is still live for a page following the run.
FLUSH_S = 1.0
# Failures of a batch write (other than a busy lock) after which the database counts as broken.
BROKEN_AFTER = 3
_EXT_BY_MAGIC = ((b"RIFF", "webp"), (b"\x89PNG", "png"), (b"\xff\xd8", "jpg"))


def _ext(data: bytes) -> str:
    for magic, ext in _EXT_BY_MAGIC:
        if data.startswith(magic):
            return ext
    return "bin"


class ResultsNotWritten(VtonEvalError):
    """Results could not reach the database; they are safe in the run's journal."""


class Recorder:
    def __init__(
        self,
        db: Store,
        run_id: str,
        flush_interval_s: float = FLUSH_S,
        max_batch: int = 500,
        on_broken: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.artifacts = db.artifacts
        self.journal = Journal(journal_path(self.artifacts.root, run_id))
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self._queue: queue.Queue[Recorded] = queue.Queue()
        self._pending: list[Recorded] = []
        self._thumbnailed: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vton-writer", daemon=True)
        self.written = 0
        self.last_error: str | None = None
        self.on_broken = on_broken
        self.failures = 0  # consecutive failed batch writes, a busy lock aside
        self._logged: str | None = None
        self._carried: list[Callable[[], Batch | None]] = []

    @property
    def all_written(self) -> bool:
        return not self._pending and self._queue.empty()

    def start(self) -> Recorder:
        self._thread.start()
        return self

    def store_output(self, data: bytes) -> tuple[str, str]:
        return self.artifacts.put_bytes(data, _ext(data))

    def record(self, recorded: Recorded) -> None:
        """Keep a finished case: journal it now, write it to the database soon."""
        self.journal.append(FINAL, recorded)
        self._queue.put(recorded)

    def note_received(self, result: ResultRow) -> None:
        """Journal a result whose checks are still running, so a crash meanwhile loses nothing."""
        self.journal.append(RECEIVED, Recorded(result))

    def requeue(self, recorded: Recorded) -> None:
        """Queue a journalled result again (after a crash); the insert skips rows already stored."""
        self._queue.put(recorded)

    def carry(self, take: Callable[[], Batch | None]) -> None:
        """Write another writer's rows (`take()`: a batch, or None) in this recorder's transactions."""
        self._carried.append(take)

    def _loop(self) -> None:
        last_beat = 0.0
        pause = self.flush_interval_s
        while not self._stop.is_set():
            self._stop.wait(pause)
            self._drain()
            rides = self._rides()
            if self._pending or rides or time.monotonic() - last_beat > 5.0:
                if self._flush(busy_timeout_s=2.0, rides=rides):
                    last_beat = time.monotonic()
                    pause = self.flush_interval_s
                else:
                    pause = min(_BACKOFF_CAP_S, pause * 2)

    def _drain(self) -> None:
        while True:
            try:
                self._pending.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def _rides(self) -> list[Batch]:
        return [found for found in (take() for take in self._carried) if found is not None]

    def _flush(self, busy_timeout_s: float, rides: list[Batch] | None = None) -> bool:
        batch = self._pending[: self.max_batch]
        rides = self._rides() if rides is None else rides

        def work(w: Writer) -> None:
            record_batch(w, self.run_id, batch)
            for ride in rides:
                ride.write(w)

        for recorded in batch:
            output = recorded.result.output_path
            if output and output not in self._thumbnailed:
                # Thumbnails are made here, off the request path, so grids never decode full images
                # (the check worker has usually made them already; then this only sees the file).
                try:
                    self.artifacts.thumbnail(output, publish=True)  # on S3: uploaded once
                except Exception:  # a bad output has no thumbnail; the grid shows its error instead
                    pass
                self._thumbnailed.add(output)
        try:
            self.db.write(work, busy_timeout_s=busy_timeout_s)
        except DatabaseBusy as exc:
            self.last_error = str(exc)
            return False
        except Exception as exc:  # disk full, a broken file...: keep the rows (journalled) and retry later
            self.last_error = str(exc) if isinstance(exc, VtonEvalError) else f"{type(exc).__name__}: {exc}"
            self.failures += 1
            if self.last_error != self._logged:
                self._logged = self.last_error
                log.warning("writing results failed (kept in %s; retrying): %s", self.journal.path, self.last_error)
            if self.failures == BROKEN_AFTER and self.on_broken is not None:
                self.on_broken(self.last_error)
            return False
        del self._pending[: len(batch)]
        for ride in rides:
            ride.done()
        self.written += len(batch)
        self.last_error = None
        self.failures = 0
        return True

    def close(self, busy_timeout_s: float = 120.0) -> None:
        """Stop the writer and write everything still pending (waiting out readers if need be)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._drain()
        deadline = time.monotonic() + busy_timeout_s
        pause = 0.25
        while self._pending or self._rides():
            if self._flush(busy_timeout_s=max(1.0, deadline - time.monotonic())):
                continue
            # A busy lock is worth waiting out; a broken database gets a few tries, not minutes.
            if time.monotonic() >= deadline or self.failures >= BROKEN_AFTER:
                self.journal.close()
                raise ResultsNotWritten(
                    f"could not write {len(self._pending)} result(s) to {self.db.location}: {self.last_error}. "
                    f"They are kept in {self.journal.path}; `vton-eval resume {self.run_id}` writes them once "
                    "the database can be written again"
                )
            time.sleep(pause)
            pause = min(_BACKOFF_CAP_S, pause * 2)
        self.journal.close()
