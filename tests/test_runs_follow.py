"""Runs you can follow: the Runs page selects the run you started or resumed (Cancel at hand), shows it running
from the click on, and every message of a stopped run is written from its final counts."""

from __future__ import annotations

import re
import threading

from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.runner.journal import RECEIVED, Journal, journal_path
from vton_eval.store.runs import get_run

from .helpers.pages import sql
from .helpers.paths import SAMPLE
from .helpers.seed import record_sample_run
from .helpers.wait import wait_until
from .test_runs_page import runs_table


def test_the_page_follows_the_run_you_start_cancel_and_resume(db, live_sandbox, open_page):
    older = record_sample_run(db, "older", endpoint=live_sandbox.url)
    at = open_page(db, "runs")
    assert at.selectbox(key="runs_action_run").value == older
    live_sandbox.hold_after(2)  # two answers, then every call waits: the run is going when it is cancelled
    try:
        at.selectbox(key="launch_endpoint").set_value("Other URL or Space…").run()
        at.text_input(key="launch_endpoint_text").set_value(live_sandbox.url).run()
        at.text_input(key="launch_label").set_value("followed").run()
        at.checkbox(key="launch_checks").uncheck()  # about following the run: its 18 checked cases cost minutes
        at.button(key="launch_start").click().run()
        launched = at.session_state["launched_run"]
        # The run just started is the one selected, with its Cancel button.
        assert at.selectbox(key="runs_action_run").value == launched
        assert [b.key for b in at.button if b.key == "cancel_run"] == ["cancel_run"]
        wait_until(lambda: live_sandbox.held_now >= 1 and get_run(db, launched)["done"] >= 2, interval=0.1,
                   what="two results and a held call")
        at.button(key="cancel_run").click().run()
        wait_until(lambda: get_run(db, launched)["status"] == "cancelled", what="the cancel", interval=0.1)

        def cancelled_on_the_page() -> bool:
            at.run()  # the page's list is cached for a second
            return runs_table(at).loc[launched, "status"] == "cancelled"

        wait_until(cancelled_on_the_page, what="the page to show the cancel", interval=0.2)
        # The log the page shows speaks to its reader there: a run started (not resumed), a cancel asked for (no
        # keys to press), no progress line before the run knew its cases.
        log = _log(at, launched)
        assert f"starting run {launched}" in log and "20 cases to send" in log, log
        assert "cancel requested" in log and "Ctrl-C" not in log and "[0/0]" not in log and "resuming" not in log
        run = get_run(db, launched)
        # Its message counts what the table counts.
        shown = re.search(r"stopped with (\d+) of 20 cases recorded", run["message"])
        assert shown and int(shown.group(1)) == run["done"] == sql(
            db, "SELECT count(*) FROM results WHERE run_id = ?", [launched])[0][0]
        assert runs_table(at).loc[launched, "recorded"] == f"{run['done']} of 20"
        live_sandbox.hold_after(None)
        at.button(key="resume_run").click().run()
        # From the click on: running, with Cancel offered (not Resume again), and the page polls.
        assert runs_table(at).loc[launched, "status"] == "running"
        assert at.selectbox(key="runs_action_run").value == launched
        assert {b.key for b in at.button} & {"cancel_run", "resume_run"} == {"cancel_run"}
        assert any("Updating every" in c.value for c in at.caption)
        wait_until(lambda: get_run(db, launched)["status"] == "finished", timeout=120, what="the resumed run",
                   interval=0.2)
        at.run()
        assert runs_table(at).loc[launched, ["status", "recorded"]].tolist() == ["finished", "20 of 20"]
        assert re.search(rf"resuming run {launched} \(.*\): \d+ of 20 cases already recorded", _log(at, launched))
        assert get_run(db, launched)["message"] is None
    finally:
        live_sandbox.hold_after(None)


def _log(at, run_id: str) -> str:
    """The log of the run's process, as the Runs page shows it."""
    return next((c.value for c in at.code if run_id in c.value and "run " in c.value), "")


def test_a_stopped_runs_message_is_written_from_its_final_counts(db, live_sandbox):
    """Results whose checks end during the stop are recorded after it: the message counts them too."""
    live_sandbox.hold_after(4)
    run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=live_sandbox.url, concurrency=4))
    journal = Journal(journal_path(db.artifacts.root, run_id))
    stop = threading.Event()

    def stop_when_received() -> None:
        # Four outputs received (journalled before their checks): stop now, while checks are still going.
        wait_until(lambda: sum(1 for e in journal.read() if e.stage == RECEIVED) >= 4 if journal.path.exists()
                   else False, what="four received outputs")
        stop.set()

    watcher = threading.Thread(target=stop_when_received)
    watcher.start()
    try:
        report = execute_run(db, run_id, stop=stop, stop_reason=lambda: "cancelled")
    finally:
        live_sandbox.hold_after(None)
        watcher.join()
    recorded = sql(db, "SELECT count(*) FROM results WHERE run_id = ?", [run_id])[0][0]
    message = get_run(db, run_id)["message"]
    assert report.status == "cancelled" and report.message == message
    assert f"stopped with {recorded} of 20 cases recorded" in message, message
    # Those whose checks had not finished wait in the journal for `resume`; the message counts them apart.
    unchecked = 4 - recorded
    assert (f"{unchecked} more received" in message) == (unchecked > 0), message


def test_the_launch_forms_estimate_is_an_estimate_at_the_pace_the_endpoint_kept(file_db, live_sandbox, open_page):
    """An earlier run sent 8 calls at once to a service that serves 4: its latencies include the wait in the
    service's queue. A run of 4 at once does not wait there: the estimate for it is near what it then takes."""
    db = file_db
    live_sandbox.config.latency = 0.4
    for _ in range(2):  # two runs to learn from: one on a busy machine says little about the next
        wide = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=live_sandbox.url, concurrency=8, retries=0))
        execute_run(db, wide)
    at = open_page(db, "runs")
    at.selectbox(key="launch_endpoint").set_value("Other URL or Space…").run()
    at.text_input(key="launch_endpoint_text").set_value(live_sandbox.url).run()
    said = next(i.value for i in at.info if "case" in i.value and "about" in i.value)
    assert "an estimate, not a promise" in said and "at least" not in said, said
    estimated = float(re.search(r"about (\d+) s", said).group(1))
    narrow = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=live_sandbox.url, concurrency=4, retries=0))
    execute_run(db, narrow)
    took = get_run(db, narrow)["duration_s"]
    # Within a factor of two on a loaded machine (the old lower bound said 66 s of a run that took 22 s).
    assert took / 2 - 1 <= estimated <= 2 * took + 1, (estimated, took, said)
