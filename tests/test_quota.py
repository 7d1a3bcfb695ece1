"""The client-side quota: a run never sends more than N calls in any window, whichever run or process sent them
(the store's quota ledger, on both stores)."""

import threading

import pytest

from vton_eval.quota import KeyedWindowCounter, QuotaCancelled, Rate, parse_rate
from vton_eval.quota_ledger import QUOTA_KEY_ENV, QuotaWaitTooLong, ledger_endpoint
from vton_eval.runner.limiter import DEADLINE_SLACK_S, LedgerLimiter


@pytest.mark.parametrize(
    ("text", "count", "window"),
    [("30/h", 30, 3600), ("10/min", 10, 60), ("5/s", 5, 1), ("100/2h", 100, 7200), ("8/30s", 8, 30),
     ("3 / minute", 3, 60), ("12/hours", 12, 3600)],
)
def test_parse_rate_accepts_the_documented_forms(text, count, window):
    assert parse_rate(text) == Rate(count, window)


@pytest.mark.parametrize("text", ["", "30", "30/fortnight", "0/h", "-1/h", "x/h", "30/0h"])
def test_parse_rate_refuses_nonsense_with_a_clear_message(text):
    with pytest.raises(ValueError, match="rate limit"):
        parse_rate(text)


def test_min_duration_is_what_the_dashboard_promises():
    # 48 cases at 30/h: the first 30 go at once, the rest one window later.
    assert Rate(30, 3600).min_duration_s(48) == 3600
    assert Rate(30, 3600).min_duration_s(30) == 0
    assert Rate(30, 3600).min_duration_s(61) == 7200


class FakeClock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


def _limiter(db, clock, rate="3/10s", run_id="run-a", timeout_s=10.0, **kw):
    db.ensure()
    return LedgerLimiter(db, ENDPOINT, parse_rate(rate) if rate else None, run_id, timeout_s, clock=clock, **kw)


ENDPOINT = "http://127.0.0.1:7999"


def test_the_ledger_never_allows_more_than_n_in_any_window_of_the_service(db):
    """The service counts a call somewhere between its send and its end; whatever that delay, it never sees
    more than N in a window, though each call is taken by a new limiter (a new run, or a resume)."""
    clock = FakeClock()
    counted = []
    for i in range(12):
        limiter = _limiter(db, clock, run_id=f"run-{i % 3}")
        wait = limiter.outlook().wait_s
        assert wait != float("inf")
        clock.now += wait
        ticket = limiter.acquire()
        sent = clock.now
        delay = [0.1, 2.5, 0.0, 1.7][i % 4]  # upload + queue time at the service, varying per call
        counted.append(sent + delay)
        clock.now += delay + 0.3
        limiter.release(ticket)
    for t in counted:
        assert sum(1 for c in counted if t <= c < t + 10.0) <= 3, counted


def test_an_in_flight_call_holds_its_place_until_it_ends_or_its_deadline(db):
    clock = FakeClock()
    limiter = _limiter(db, clock, rate="1/10s", timeout_s=100.0)
    ticket = limiter.acquire()
    clock.now += 50
    # A crash never writes the end: the call's deadline (sent + timeout + slack) bounds it.
    assert limiter.outlook().wait_s == pytest.approx(100 + DEADLINE_SLACK_S + 10.15 - 50)
    limiter.release(ticket)
    assert limiter.outlook().wait_s == pytest.approx(10.15)
    clock.now += 10.15
    assert limiter.outlook().wait_s == 0


def test_a_wait_for_the_window_is_cancelled_by_stop(db):
    limiter = LedgerLimiter(db.ensure() or db, ENDPOINT, Rate(1, 60.0), "run-a", 10.0)
    limiter.acquire()
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(QuotaCancelled):
        limiter.acquire(stop)


def test_a_services_wait_holds_every_run_of_this_machine_and_not_others(db, monkeypatch):
    clock = FakeClock()
    _limiter(db, clock, run_id="run-a").hold_off(30.0, "Rate limit exceeded. Try again in 30 seconds.")
    later = _limiter(db, clock, rate=None, run_id="run-b")  # another run, even one with no rate limit
    ahead = later.outlook()
    assert ahead.by_hold and ahead.wait_s == pytest.approx(30.0)
    assert "run run-a" in ahead.describe() and "Try again in 30 seconds" in ahead.describe()
    monkeypatch.setenv(QUOTA_KEY_ENV, "another-machine")
    assert _limiter(db, clock, run_id="run-c").outlook().wait_s == 0  # another quota key: another quota


def test_a_hold_longer_than_the_patience_stops_before_any_call(db):
    clock = FakeClock()
    _limiter(db, clock).hold_off(7200.0, "ZeroGPU quota exceeded. Try again in 2:00:00")
    with pytest.raises(QuotaWaitTooLong, match="longer than the run's patience"):
        _limiter(db, clock, rate=None, patience_s=3600.0).acquire()


def test_two_runs_share_one_window_and_say_whose_calls_fill_it(db):
    clock = FakeClock()
    first = _limiter(db, clock, run_id="run-a")
    for _ in range(3):
        first.release(first.acquire())
    clock.now += 1.0
    ahead = _limiter(db, clock, run_id="run-b").outlook()
    assert ahead.wait_s == pytest.approx(9.15)
    text = ahead.describe()
    assert "3 call(s) to http://127.0.0.1:7999" in text and "run run-a: 3" in text and "waits 9 s" in text


def test_calls_without_a_rate_limit_are_written_in_batches_and_counted_by_the_next_run(db):
    clock = FakeClock()
    free = _limiter(db, clock, rate=None, run_id="free-run")
    for _ in range(4):
        free.release(free.acquire())
    free.close()
    ahead = _limiter(db, clock, rate="4/10s").outlook()
    assert ahead.used == 4 and ahead.in_flight == 0 and ahead.wait_s > 0


def test_one_endpoint_one_ledger_however_it_is_named():
    assert ledger_endpoint("sm4ll-VTON/sm4ll-VTON-Demo") == ledger_endpoint("https://sm4ll-vton-sm4ll-vton-demo.hf.space/")
    assert ledger_endpoint("http://localhost:7860/") == ledger_endpoint("http://127.0.0.1:7860")
    assert ledger_endpoint("http://127.0.0.1:7860") != ledger_endpoint("http://127.0.0.1:7861")


def test_server_counter_is_per_key():
    clock = FakeClock()
    counter = KeyedWindowCounter(Rate(2, 60.0), clock=clock)
    assert counter.try_take("a") == 0 and counter.try_take("a") == 0
    assert counter.try_take("a") > 0
    assert counter.try_take("b") == 0
    clock.now += 60.0
    assert counter.try_take("a") == 0
