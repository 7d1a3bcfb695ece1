"""The client-side quota: a run never sends more than N calls in any window."""

import threading

import pytest

from vton_eval.quota import KeyedWindowCounter, QuotaCancelled, Rate, SlidingWindowLimiter, parse_rate


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
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_limiter_never_allows_more_than_n_in_any_window_of_the_service():
    """The service counts a call somewhere between its send and its end; whatever that delay,
    it never sees more than N in a window."""
    clock = FakeClock()
    limiter = SlidingWindowLimiter(Rate(3, 10.0), margin_s=0.5, clock=clock)
    counted = []
    for i in range(12):
        wait = limiter.wait_time()
        assert wait != float("inf")
        clock.now += wait
        limiter.acquire()
        sent = clock.now
        delay = [0.1, 2.5, 0.0, 1.7][i % 4]  # upload + queue time at the service, varying per call
        counted.append(sent + delay)
        clock.now += delay + 0.3
        limiter.release()
    for t in counted:
        assert sum(1 for c in counted if t <= c < t + 10.0) <= 3, counted


def test_an_in_flight_call_holds_its_slot():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(Rate(1, 10.0), margin_s=0.0, clock=clock)
    limiter.acquire()
    clock.now += 50
    assert limiter.wait_time() == float("inf")
    limiter.release()
    assert limiter.wait_time() == pytest.approx(10.0)
    clock.now += 10
    assert limiter.wait_time() == 0


def test_limiter_wait_is_cancelled_by_stop():
    limiter = SlidingWindowLimiter(Rate(1, 60.0))
    limiter.acquire()
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(QuotaCancelled):
        limiter.acquire(stop)


def test_hold_off_makes_everyone_wait():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(Rate(5, 10.0), margin_s=0.0, clock=clock)
    limiter.hold_off(30.0)
    assert limiter.wait_time() == pytest.approx(30.0)


def test_server_counter_is_per_key():
    clock = FakeClock()
    counter = KeyedWindowCounter(Rate(2, 60.0), clock=clock)
    assert counter.try_take("a") == 0 and counter.try_take("a") == 0
    assert counter.try_take("a") > 0
    assert counter.try_take("b") == 0
    clock.now += 60.0
    assert counter.try_take("a") == 0
