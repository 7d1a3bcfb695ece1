"""Waiting on observable state (rows, a server's call log, a file), never on a fixed delay."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# The longest pause between two polls: a wait of a minute then polls about 240 times, not 3,000 (a poll that reads
# a shared store costs the test, and PostgreSQL, real CPU on a two-core machine running four workers).
SLOWEST_POLL_S = 0.25


def wait_until(check: Callable[[], T], timeout: float = 60.0, what: str = "the condition",
               interval: float = 0.02) -> T:
    """Poll `check` until it returns something truthy; return that. Fail the test after `timeout`.

    `interval` is the first pause between polls, not a wait for something to happen; the pause then grows by a
    quarter a poll up to SLOWEST_POLL_S (or `interval`, when larger), so a quick condition is seen at once and a
    slow one costs few polls. Checks that open the database start at 0.1 s, so a run writing in another
    process is not kept from its lock."""
    deadline = time.monotonic() + timeout
    pause, slowest = interval, max(interval, SLOWEST_POLL_S)
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.25, slowest)
