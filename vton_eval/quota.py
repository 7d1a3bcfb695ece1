"""Request quotas: "N requests in any window of length W", on the client and on the sandbox server.

Both sides use a sliding window of send times, so a client that respects its own window never
trips a server that counts the same window, whether the server slides or resets by the clock.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from vton_eval.errors import InvalidValue

_UNITS = {
    "s": 1.0, "sec": 1.0, "second": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0,
    "d": 86400.0, "day": 86400.0,
}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([a-z]+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Rate:
    """At most `count` requests in any window of `window_s` seconds."""

    count: int
    window_s: float

    def __str__(self) -> str:
        for unit, seconds in (("h", 3600.0), ("min", 60.0)):
            if self.window_s % seconds == 0:
                n = int(self.window_s // seconds)
                return f"{self.count}/{'' if n == 1 else n}{unit}"
        return f"{self.count}/{self.window_s:g}s"

    def min_duration_s(self, requests: int) -> float:
        """The shortest time in which `requests` sends fit under this rate."""
        if requests <= self.count:
            return 0.0
        full_windows = (requests - 1) // self.count
        return full_windows * self.window_s


def parse_rate(text: str) -> Rate:
    """Parse '30/h', '10/min', '5/s', '100/2h' or '8/30s' into a Rate.

    Raises ValueError with a message that says what form is expected.
    """
    match = _RATE_RE.match(text or "")
    if not match:
        raise InvalidValue(f"rate limit {text!r} is not of the form N/h, N/min or N/s (e.g. 30/h)")
    count = int(match.group(1))
    multiplier = float(match.group(2)) if match.group(2) else 1.0
    unit = match.group(3).lower().rstrip("s") or "s"
    if unit not in _UNITS:
        unit = match.group(3).lower()
    if unit not in _UNITS:
        raise InvalidValue(f"rate limit {text!r}: unknown unit {match.group(3)!r} (use s, min or h)")
    if count <= 0 or multiplier <= 0:
        raise InvalidValue(f"rate limit {text!r}: the count and the window must be positive")
    return Rate(count, multiplier * _UNITS[unit])


class QuotaCancelled(Exception):
    """The wait for a quota slot was abandoned because the run is stopping."""


class SlidingWindowLimiter:
    """Blocks callers so that the service never sees more than `rate.count` calls in a window.

    The service counts a call when it handles it, which is some unknown time after we send it
    (upload, its queue). Counting our own send times would let two calls that were sent a window
    apart arrive closer than that. So a call occupies the window until it *ends*: a new call may
    go only when fewer than `count` calls are in flight or ended less than a window ago. Any call
    the service counts in the window before the new one then ended after the new one was sent
    minus a window, so it was among those we counted. `margin_s` covers clock granularity.
    """

    def __init__(
        self,
        rate: Rate,
        margin_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.margin_s = (min(0.01 * rate.window_s, 30.0) + 0.05) if margin_s is None else margin_s
        self._clock = clock
        self._ended: deque[float] = deque()  # end times of finished calls, oldest first
        self._in_flight = 0
        self._cond = threading.Condition()

    @property
    def window_s(self) -> float:
        return self.rate.window_s + self.margin_s

    def wait_time(self) -> float:
        """Seconds until a slot frees up: 0 when one is free, inf while only a running call can free one."""
        with self._cond:
            return self._wait_time_locked(self._clock())

    def _wait_time_locked(self, now: float) -> float:
        while self._ended and now - self._ended[0] >= self.window_s:
            self._ended.popleft()
        if self._in_flight + len(self._ended) < self.rate.count:
            return 0.0
        if not self._ended:
            return float("inf")
        return self._ended[0] + self.window_s - now

    def acquire(self, stop: threading.Event | None = None, on_wait: Callable[[float], None] | None = None) -> None:
        """Take a slot, waiting as long as needed; raise QuotaCancelled if `stop` is set meanwhile.

        Every acquire must be followed by `release()` when the call ends (whatever its outcome).
        """
        with self._cond:
            while True:
                if stop is not None and stop.is_set():
                    raise QuotaCancelled()
                wait = self._wait_time_locked(self._clock())
                if wait <= 0:
                    self._in_flight += 1
                    return
                if on_wait is not None:
                    on_wait(wait)
                # Wake at least every half second so a stop request is noticed quickly.
                self._cond.wait(timeout=min(wait, 0.5))

    def release(self) -> None:
        """The call ended: from now on it occupies the window for one window length."""
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            self._ended.append(self._clock())
            self._cond.notify_all()

    def hold_off(self, seconds: float) -> None:
        """Make every caller wait `seconds` from now (the service said we are rate limited)."""
        with self._cond:
            until = self._clock() + seconds - self.window_s
            # Fill the window with calls dated so that the first slot frees at now + seconds.
            self._ended = deque([until] * self.rate.count)
            self._cond.notify_all()


class KeyedWindowCounter:
    """Server-side quota: per key (a client IP), refuse a request past `rate.count` in a window."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def try_take(self, key: str) -> float:
        """Record a request for `key`; return 0 if allowed, else the seconds until one would be."""
        with self._lock:
            now = self._clock()
            sent = self._sent.setdefault(key, deque())
            while sent and now - sent[0] >= self.rate.window_s:
                sent.popleft()
            if len(sent) >= self.rate.count:
                return sent[0] + self.rate.window_s - now
            sent.append(now)
            return 0.0
