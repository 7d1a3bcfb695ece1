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


def test_each_person_is_parsed_once_and_a_known_parse_is_not_parsed_again():
    """The worker parses a person image the first time it meets it and sends the parse back (for the store);
    later jobs of that person, and a worker sent the stored parse, parse nothing."""
    stage = CheckStage(None)
    done: list[Recorded] = []
    for i in range(3):
        assert stage.submit(*_job(i), done.append)
    assert stage.close() == []
    parses = [p for r in done for p in r.parses]
    assert len(parses) == 1, [r.parses for r in done]  # one person image, parsed once
    row = parses[0]
    assert row.found and row.parser.startswith("mediapipe")
    assert all(r.checks for r in done)
    assert any(c.check == "identity" and c.box for r in done for c in r.checks)  # where a reviewer looks

    again = CheckStage(None, parses={row.image_sha256: row.parse})
    later: list[Recorded] = []
    assert again.submit(*_job(9), later.append)
    assert again.close() == []
    assert later and not later[0].parses  # sent with the job: not parsed again


def test_parses_are_kept_in_the_store_once_per_person_image(tmp_path):
    from vton_eval.recheck import recheck
    from vton_eval.store import Database
    from vton_eval.store.reads import reading

    from .helpers.seed import record_sample_run

    db = Database(tmp_path / "results.duckdb")
    run_id = record_sample_run(db, "parsed")
    recheck(db, run_id)
    with reading(db) as read:
        first = read.rows("SELECT image_sha256, parser, found, parsed_at FROM person_parses ORDER BY image_sha256")
        persons = read.scalar("SELECT count(DISTINCT base_path) FROM cases WHERE run_id = ?", [run_id])
        boxes = read.scalar("""SELECT count(*) FROM check_boxes WHERE run_id = ? AND "check" = 'identity'""",
                            [run_id])
    assert len(first) == persons  # every person image once, found or not ("found" false is recorded too)
    assert any(r["found"] for r in first)
    assert boxes > 0
    recheck(db, run_id)  # a second pass: every parse is sent from the store, none made or written again
    with reading(db) as read:
        assert read.rows("SELECT image_sha256, parser, found, parsed_at FROM person_parses "
                         "ORDER BY image_sha256") == first


def test_an_output_judged_before_with_the_same_inputs_is_not_judged_again():
    """The checks are pure: the same output bytes with the same inputs and thresholds (a repeat answered by a
    seeded service, every noop of one person) take the report made before; other thresholds do not."""
    from vton_eval import workflows
    from vton_eval.runner import check_worker

    _, inputs = _job(0)
    job = {"workflow": workflows.to_spec("top"), "inputs": inputs, "thresholds": None}
    first = check_worker.judge(job)
    assert check_worker.judge(dict(job))["report"] is first["report"]
    other = check_worker.judge({**job, "thresholds": '{"noop.min_changed_share": 0.5}'})
    assert other["report"] is not first["report"]
    assert [r["name"] for r in other["report"]["results"]] == [r["name"] for r in first["report"]["results"]]


def test_close_waits_for_a_checked_output_still_being_recorded():
    """The answer is taken off the pending jobs before its recording runs: a close in between used to return
    at once, so the run finished, and removed its journal, before that result reached the database (seen under
    load: a finished run without its one ok result)."""
    stage = CheckStage(None)
    recording, release, done = threading.Event(), threading.Event(), []

    def slow_record(row: Recorded) -> None:
        recording.set()
        release.wait(60)  # the recorder, slow on a loaded machine
        done.append(row)

    assert stage.submit(*_job(0), slow_record)
    assert recording.wait(120), "the check never answered"
    closer = threading.Thread(target=stage.close)
    closer.start()
    closer.join(0.5)
    assert closer.is_alive(), "close returned while a checked output was still being recorded"
    release.set()
    closer.join(30)
    assert not closer.is_alive() and [r.result.pair_id for r in done] == ["p0"]
