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
from typing import Any

from vton_eval.artifacts import ArtifactStore
from vton_eval.errors import VtonEvalError
from vton_eval.runner.journal import Journal, journal_path
from vton_eval.store.db import Database, DatabaseBusy
from vton_eval.store.runs import update_run, utcnow
from vton_eval.store.writes import insert_checks, insert_results

log = logging.getLogger(__name__)
_BACKOFF_CAP_S = 5.0
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
        db: Database,
        run_id: str,
        flush_interval_s: float = 0.25,
        max_batch: int = 500,
        on_broken: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.artifacts = ArtifactStore(db.path)
        self.journal = Journal(journal_path(self.artifacts.root, run_id))
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._pending: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vton-writer", daemon=True)
        self.written = 0
        self.last_error: str | None = None
        self.on_broken = on_broken
        self.failures = 0  # consecutive failed batch writes, a busy lock aside
        self._logged: str | None = None

    @property
    def all_written(self) -> bool:
        return not self._pending and self._queue.empty()

    def start(self) -> Recorder:
        self._thread.start()
        return self

    def store_output(self, data: bytes) -> tuple[str, str]:
        return self.artifacts.put_bytes(data, _ext(data))

    def record(self, row: dict[str, Any]) -> None:
        """Keep a finished case: journal it now, write it to the database soon."""
        self.journal.append(row)
        self._queue.put(row)

    def note_received(self, row: dict[str, Any]) -> None:
        """Journal a result whose checks are still running, so a crash meanwhile loses nothing."""
        self.journal.append({**row, "_checked": False})

    def journalled(self) -> list[dict[str, Any]]:
        """The latest journal entry of each case (a checked entry supersedes its received one)."""
        latest: dict[tuple[str, int], dict[str, Any]] = {}
        for row in self.journal.read():
            latest[(row["pair_id"], int(row["repeat"]))] = row
        return list(latest.values())

    def requeue(self, row: dict[str, Any]) -> None:
        """Queue a journalled row again (after a crash); the insert skips rows already stored."""
        self._queue.put(row)

    def _loop(self) -> None:
        last_beat = 0.0
        pause = self.flush_interval_s
        while not self._stop.is_set():
            self._stop.wait(pause)
            self._drain()
            if self._pending or time.monotonic() - last_beat > 5.0:
                if self._flush(busy_timeout_s=2.0):
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

    def _flush(self, busy_timeout_s: float) -> bool:
        batch = self._pending[: self.max_batch]
        for row in batch:
            if row.get("output_path") and not row.get("_thumb"):
                # Thumbnails are made here, off the request path, so grids never decode full images.
                try:
                    self.artifacts.thumbnail(row["output_path"])
                except Exception:  # a bad output has no thumbnail; the grid shows its error instead
                    pass
                row["_thumb"] = True
        try:
            with self.db.connect(busy_timeout_s=busy_timeout_s) as con:
                con.execute("BEGIN")
                insert_results(con, batch)
                insert_checks(con, [c for row in batch for c in row.get("_checks") or ()])
                update_run(con, self.run_id, updated_at=utcnow())
                con.execute("COMMIT")
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
        while self._pending:
            if self._flush(busy_timeout_s=max(1.0, deadline - time.monotonic())):
                continue
            # A busy lock is worth waiting out; a broken database gets a few tries, not minutes.
            if time.monotonic() >= deadline or self.failures >= BROKEN_AFTER:
                self.journal.close()
                raise ResultsNotWritten(
                    f"could not write {len(self._pending)} result(s) to {self.db.path}: {self.last_error}. They are "
                    f"kept in {self.journal.path}; `vton-eval resume {self.run_id}` writes them once the "
                    "database can be written again"
                )
            time.sleep(pause)
            pause = min(_BACKOFF_CAP_S, pause * 2)
        self.journal.close()
