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
        assert get_run(db, launched)["message"] is None
    finally:
        live_sandbox.hold_after(None)


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
