"""The check hand-off: bounded, never deadlocked however far the worker falls behind, and stoppable."""

from __future__ import annotations

import csv
import os
import signal
import threading

from vton_eval.records import Recorded, ResultRow
from vton_eval.runner.checking import CheckStage

from .helpers.paths import SAMPLE
from .helpers.wait import wait_until


def _job(i: int) -> tuple[ResultRow, dict]:
    with open(SAMPLE / "manifest.csv", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["workflow"] == "top")
    base, product = str(SAMPLE / row["base"]), str(SAMPLE / row["product"])
    result = ResultRow(run_id="r", pair_id=f"p{i}", repeat=1, workflow="top", status="ok")
    # The person image as the output: a real image the checks judge (and find unchanged).
    return result, {"output": base, "base": base, "product": product, "mask": None, "reference": None,
                    "thumbnail": None}


def test_many_outputs_from_many_threads_all_get_checked_with_a_bounded_backlog():
    """The old hand-off wrote to the worker's stdin under the lock its reader needed: past ~40 waiting
    outputs the run, the worker and the reader blocked for ever."""
    stage = CheckStage(None, max_backlog=24)
    done: list[Recorded] = []
    lock = threading.Lock()

    def on_done(row: Recorded) -> None:
        with lock:
            done.append(row)

    def submit_many(offset: int) -> None:
        for i in range(30):
            assert stage.submit(*_job(offset + i), on_done)

    threads = [threading.Thread(target=submit_many, args=(k * 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "submit blocked for ever"
    assert stage.close() == []
    assert len(done) == 120 and len({r.result.pair_id for r in done}) == 120
    assert stage.largest_backlog <= 24
    assert all(r.result.error_kind == "silent_failure" for r in done)  # really checked: the output is the person


def test_a_stop_frees_a_submit_that_waits_for_a_full_backlog_and_leaves_the_rest_unchecked():
    stage = CheckStage(None, max_backlog=2)
    done: list[Recorded] = []
    assert stage.submit(*_job(0), done.append)
    wait_until(lambda: stage._proc is not None, what="the check worker")
    os.kill(stage._proc.pid, signal.SIGSTOP)  # the checks fall behind: the worker makes no progress
    try:
        submitted = 1
        while stage.backlog < 2:  # fill the backlog (p0 may or may not have been checked before the stop)
            assert stage.submit(*_job(submitted), done.append)
            submitted += 1
        stop = threading.Event()
        result: list[bool] = []
        waiter = threading.Thread(target=lambda: result.append(stage.submit(*_job(99), done.append, stop=stop)))
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive()  # the backlog is full: dispatch waits (memory stays bounded)
        stop.set()
        waiter.join(10)
        assert result == [False]  # freed by the stop, and says the row was not queued
        left = stage.close(abandon=True, grace_s=0.2)
    finally:
        if stage._proc is not None and stage._proc.poll() is None:
            os.kill(stage._proc.pid, signal.SIGCONT)
    assert len(left) == 2 and len(left) + len(done) == submitted
    assert "p99" not in {r.pair_id for r in left} | {r.result.pair_id for r in done}
