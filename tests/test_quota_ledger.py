"""The quota outlives a stop: a cancel and a resume, or runs started one after the other (from the command line,
from the dashboard, a try), never send the service more than the rate limit in any window.

Counted where it matters: the calls the sandbox received, in every sliding window of the limit's length; the
sandbox enforces the same limit too, so a call past it would come back rate_limited."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta

from click.testing import CliRunner

from vton_eval import launch
from vton_eval.access import local_actor
from vton_eval.cli import main
from vton_eval.datasets import load_dataset
from vton_eval.quota import parse_rate
from vton_eval.quota_ledger import margin_s
from vton_eval.runner import RunSettings
from vton_eval.runner.limiter import LedgerLimiter
from vton_eval.store.runs import get_run

from .helpers.pages import errors, sql, texts
from .helpers.paths import REPO, SAMPLE
from .helpers.wait import wait_until

# Three calls fill the window, and it is long enough that a process started after a stop (a few seconds on a
# loaded machine) is still inside it.
RATE = "3/30s"


def _cli(db, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vton_eval", *args, "--db", db.location], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _assert_every_window_holds(times: list[float], rate: str = RATE) -> None:
    limit = parse_rate(rate)
    times = sorted(times)
    for i, t in enumerate(times):
        inside = [u for u in times[i:] if u < t + limit.window_s]
        assert len(inside) <= limit.count, f"{len(inside)} calls within {limit.window_s:g} s from {t}: {times}"


def _statuses(db, run_id: str) -> list[tuple]:
    return sql(db, "SELECT status, error_kind FROM results WHERE run_id = ?", [run_id])


def test_a_cancel_and_a_resume_keep_to_the_rate_limit(db, live_sandbox):
    live_sandbox.config.rate_limit = RATE  # the service counts the same window
    live_sandbox.config.latency = 0.05
    run = _cli(db, "run", "--dataset", str(SAMPLE), "--endpoint", live_sandbox.url, "--pairs",
               "top-01,top-02,top-03,top-04", "--rate-limit", RATE, "--concurrency", "3", "--retries", "0")
    # Three calls fill the window; the fourth waits for it. Cancel now, as the Runs page's button does. (Waiting
    # for the service's three answers, not for three recorded results: results are recorded after their checks,
    # which on a loaded machine can come after the window has freed and the fourth call has gone.)
    wait_until(lambda: live_sandbox.stats.get("ok", 0) >= 3, what="three answers")
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=60) == 3, run.stderr.read()
    run_id = sql(db, "SELECT run_id FROM runs")[0][0]
    assert get_run(db, run_id)["status"] == "cancelled"
    sent_before = len(live_sandbox.calls)

    # Resumed at once (in this process: a new interpreter could take longer than the window to start).
    result = CliRunner().invoke(main, ["resume", run_id, "--db", db.location])
    assert result.exit_code == 0, result.output
    # The command line says before the first call how long it waits, and why.
    said = " ".join(result.output.split())
    assert f"3 call(s) to {live_sandbox.url}" in said, said
    assert f"run {run_id}: 3" in said and "the rate limit 3/30s is used up: the next call waits" in said, said
    times = [c["t"] for c in live_sandbox.calls]
    assert len(times) == 4 and sent_before == 3
    _assert_every_window_holds(times)
    assert sorted(_statuses(db, run_id)) == [("ok", None)] * 4  # nothing refused by the service


def test_runs_one_after_the_other_and_a_try_keep_to_the_rate_limit(db, live_sandbox):
    live_sandbox.config.rate_limit = RATE
    live_sandbox.config.latency = 0.05
    # A run from the command line...
    first = _cli(db, "run", "--dataset", str(SAMPLE), "--endpoint", live_sandbox.url, "--pairs", "top-01,top-02,top-03",
                 "--rate-limit", RATE, "--retries", "0")
    assert first.wait(timeout=120) == 0, first.stderr.read()
    # ...then one launched from the dashboard the moment it ended (its own process, as the Runs page starts it)...
    settings = RunSettings(dataset=str(SAMPLE), endpoint=live_sandbox.url, pairs=["top-04", "top-05"], rate_limit=RATE,
                           retries=0)
    second = launch.start_run(db, settings, local_actor("ann"))
    wait_until(lambda: (get_run(db, second) or {}).get("status") == "finished", timeout=120,
               what="the dashboard's run to finish", interval=0.2)
    # ...then a try, which knows the endpoint's quota from those runs.
    ahead = launch.try_outlook(db, live_sandbox.url)
    # It counts the runs' calls still inside the window at that moment (how many depends on how long the second
    # run took to end after its calls, so the count is read from the ledger, not assumed): the window is the
    # rate's 30 s and the ledger's margin for clocks.
    ends = [row[0] for row in sql(db, "SELECT ended_at FROM endpoint_calls")]
    assert len(ends) == 5
    span = timedelta(seconds=30 + margin_s(parse_rate(RATE)))
    assert str(ahead.rate) == RATE and ahead.used == sum(e > ahead.window.now - span for e in ends)
    report = launch.try_one(db, load_dataset(SAMPLE), "top-01", live_sandbox.url, local_actor("ann"))
    assert report.status == "finished"
    times = [c["t"] for c in live_sandbox.calls]
    assert len(times) == 6
    _assert_every_window_holds(times)
    runs = [r[0] for r in sql(db, "SELECT run_id FROM runs")]
    assert all(status == "ok" for run in runs for status, _ in _statuses(db, run))
    # The ledger has every call, each dated at its end.
    assert sql(db, "SELECT count(*), count(ended_at) FROM endpoint_calls") == [(6, 6)]


def test_the_launch_form_and_a_try_say_how_long_the_next_call_waits_and_why(db, open_page):
    endpoint = "http://127.0.0.1:9"  # nothing is sent: the page reads the ledger
    db.ensure()
    earlier = LedgerLimiter(db, endpoint, parse_rate("2/h"), "20260101-000000-abcd", 300.0)
    for _ in range(2):
        earlier.release(earlier.acquire())
    at = open_page(db, "runs")
    at.selectbox(key="launch_endpoint").set_value("Other URL or Space…").run()
    at.text_input(key="launch_endpoint_text").set_value(endpoint).run()
    at.text_input(key="launch_rate_False").set_value("2/h").run()
    shown = texts(at)
    assert "2 call(s) to http://127.0.0.1:9 from this machine" in shown, shown
    assert "run 20260101-000000-abcd: 2" in shown
    assert "the rate limit 2/h is used up: the next call waits 60 min" in shown
    assert any("before the first call" in i.value for i in at.info)  # in the expected duration too
    # A service's wait: a try is refused before it is sent, and says until when and why.
    earlier.hold_off(600.0, "Rate limit exceeded. Try again in 10 minutes.")
    at.selectbox(key="try_endpoint").set_value("Other URL or Space…").run()
    at.text_input(key="try_endpoint_text").set_value(endpoint).run()
    said = " ".join(errors(at))
    assert "the service asked at" in said and "Try again in 10 minutes" in said and "waits 10 min" in said, said
    assert at.button(key="try_go").disabled


def test_a_run_without_a_rate_limit_writes_each_call_and_its_end_with_its_results(db, live_sandbox):
    live_sandbox.config.latency = 0.05
    run = _cli(db, "run", "--dataset", str(SAMPLE), "--endpoint", live_sandbox.url, "--pairs", "top-01,top-02",
               "--repeats", "2", "--retries", "0", "--no-checks")
    assert run.wait(timeout=120) == 0, run.stderr.read()
    (run_id,) = [r[0] for r in sql(db, "SELECT run_id FROM runs")]
    # The run's recorder writes the calls in its own transactions (the limiter has no writer of its own then):
    # every call is there, dated at its end, and a rate-limited run after it counts them.
    assert sql(db, "SELECT count(*), count(ended_at), min(run_id) FROM endpoint_calls") == [(4, 4, run_id)]
    assert sql(db, "SELECT count(*) FROM results WHERE run_id = ? AND status = 'ok'", [run_id]) == [(4,)]
    ahead = LedgerLimiter(db, live_sandbox.url, parse_rate("4/h"), None, 60.0).outlook()
    assert ahead.used == 4 and ahead.in_flight == 0 and ahead.wait_s > 0
