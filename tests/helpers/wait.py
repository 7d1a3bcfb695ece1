"""Waiting on observable state (rows, a server's call log, a file), never on a fixed delay."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float = 60.0, what: str = "the condition",
               interval: float = 0.02) -> T:
    """Poll `check` until it returns something truthy; return that. Fail the test after `timeout`.

    `interval` is the pause between polls, not a wait for something to happen; checks that open the
    database poll every 0.1 s, so a run writing in another process is not kept from its lock."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
