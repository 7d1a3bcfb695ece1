"""Request quotas: "N requests in any window of length W": the rate, and the sandbox server's counter.

The client side, which every run honours across processes and stops, is the store's quota ledger
(`vton_eval.quota_ledger`); it keeps a sliding window too, so a client that respects its own window never
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
