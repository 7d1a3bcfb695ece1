"""ZeroGPU quota texts: `rate_limited` with the wait read from the text (HTML included); a wait within the
run's patience is sat out, a longer one ends the run `interrupted` with a clear message, to be resumed."""

from __future__ import annotations

import pytest

from vton_eval.quota_ledger import forget_holds
from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.runner.settings import parse_duration
from vton_eval.services.classify import classify_message, plain_text, retry_after_s
from vton_eval.store.runs import get_run

from .helpers.paths import SAMPLE
from .helpers.services import ZEROGPU_LONG, ZEROGPU_SHORT, QuotaApp


@pytest.mark.parametrize(("text", "wait"), [
    ("You have exceeded your GPU quota (60s requested vs. 45s left). Please retry in 0:09:48", 588),
    (ZEROGPU_LONG, 23 * 3600 + 51 * 60 + 22),
    ("You have exceeded your free GPU quota. Try again in <b>1:02:03</b>", 3723),
    ("ZeroGPU quota exceeded &mdash; retry in 0:00:30", 30),
    ("Too many users, please try again in 45 seconds", 45),
])
def test_quota_texts_are_rate_limited_with_their_wait(text, wait):
    assert classify_message(text) == "rate_limited"
    assert retry_after_s(text) == wait


def test_html_in_a_quota_text_is_removed_for_reading():
    assert "<a" not in plain_text(ZEROGPU_LONG) and "Subscribe to Pro" in plain_text(ZEROGPU_LONG)


@pytest.mark.parametrize(("text", "seconds"), [("900", 900), ("15m", 900), ("2h", 7200), ("1.5 h", 5400)])
def test_patience_takes_seconds_minutes_or_hours(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_patience_is_refused():
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("a day")
    with pytest.raises(ValueError, match="patience must be positive"):
        RunSettings(dataset=str(SAMPLE), endpoint="http://127.0.0.1:9", patience_s=0).validate()


def test_a_short_quota_wait_is_sat_out_and_the_case_succeeds(db):
    with QuotaApp([ZEROGPU_SHORT]) as app:
        run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=app.url, pairs=["top-02"], retries=2,
                                            concurrency=1, backoff_s=0.05))
        report = execute_run(db, run_id)
        calls = app.calls
    assert report.status == "finished" and calls == 2
    with db.connect(read_only=True) as con:
        status, attempts = con.execute("SELECT status, attempts FROM results WHERE run_id = ?", [run_id]).fetchone()
    assert status == "ok" and attempts == 2


def test_a_quota_wait_beyond_the_patience_interrupts_the_run_and_resume_finishes_it(db):
    with QuotaApp([ZEROGPU_LONG]) as app:
        run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=app.url, pairs=["top-02", "top-03"],
                                            retries=2, concurrency=1, backoff_s=0.05, patience_s=600))
        report = execute_run(db, run_id)
        assert report.status == "interrupted"
        run = get_run(db, run_id)
        assert run["status"] == "interrupted"
        assert "asks to wait 23 h 51 min" in run["message"] or "23:51:22" in run["message"], run["message"]
        assert "patience" in run["message"] and "<a" not in run["message"].split(":", 1)[0]
        with db.connect(read_only=True) as con:
            # The refused case is not recorded as a failure: a resume sends it.
            assert con.execute("SELECT count(*) FROM results WHERE run_id = ? AND error_kind = 'rate_limited'",
                               [run_id]).fetchone()[0] == 0
        calls = app.calls
        # The wait outlives the stop: a resume before it ends sends nothing, and says until when and why.
        report = execute_run(db, run_id)
        assert report.status == "interrupted" and app.calls == calls
        assert "the service asked at" in report.message and "longer than the run's patience" in report.message
        assert "--clear-holds" in report.message
        # Someone knows the quota is back (a new token): the wait is forgotten, and the resume finishes.
        assert forget_holds(db, app.url) == 1
        report = execute_run(db, run_id)
    assert report.status == "finished"
    with db.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM results WHERE run_id = ? AND status = 'ok'",
                           [run_id]).fetchone()[0] == 2


# -- a Space's states: the Hub's answers played through resolve_space's `space_info` seam -----------


class _Hub:
    """Answers `space_info` with the stages given, one per poll (the last repeats), like the Hub would."""

    def __init__(self, host: str, *stages: str) -> None:
        self.host, self.stages, self.polls = host, list(stages), 0

    def __call__(self, space_id, token=None):
        from types import SimpleNamespace

        stage = self.stages[min(self.polls, len(self.stages) - 1)]
        self.polls += 1
        return SimpleNamespace(runtime=SimpleNamespace(stage=stage), host=self.host)


@pytest.fixture()
def fast_polls(monkeypatch):
    from vton_eval.services import spaces

    monkeypatch.setattr(spaces, "_SPACE_POLL_S", 0.05)  # the Hub is polled every 5 s; a test need not wait that
    return spaces


def test_a_sleeping_space_is_woken_without_credentials_and_waited_for(fast_polls):
    import time

    from .helpers.recorder import start_recorder

    recorder = start_recorder()
    try:
        notes = []
        hub = _Hub(recorder.url, "SLEEPING", "PAUSED_WAKING", "RUNNING")
        url = fast_polls.resolve_space("owner/space", "hf_secret", None, time.monotonic() + 30, notes.append,
                                       space_info=hub)
        assert url == recorder.url and hub.polls == 3
        assert len(recorder.requests) == 1 and "authorization" not in recorder.requests[0]["headers"]
        assert any("asleep: waiting for it" in n for n in notes), notes
    finally:
        recorder.close()


def test_a_building_space_is_waited_for_boundedly_and_a_broken_one_not_at_all(fast_polls):
    import time

    from vton_eval.services.endpoints import EndpointError

    started = time.monotonic()
    with pytest.raises(EndpointError, match="still building"):
        fast_polls.resolve_space("owner/space", None, None, time.monotonic() + 1.0,
                                 space_info=_Hub("https://x.hf.space", "BUILDING"))
    assert time.monotonic() - started < 10
    hub = _Hub("https://x.hf.space", "BUILD_ERROR")
    with pytest.raises(EndpointError, match="not running .*failing to build"):
        fast_polls.resolve_space("owner/space", None, None, time.monotonic() + 30, space_info=hub)
    assert hub.polls == 1
