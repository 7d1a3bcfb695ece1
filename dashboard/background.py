"""Work the pages start and never wait for: similarities on Compare, zoomed crops on Review.

Threads here never call st.* (Streamlit drops calls made without a script context); they write
files or rows, and the page that started them polls for the result. They live in this imported
module, so they outlive a rerun or a closed tab, and two sessions asking for the same item start
one computation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any

log = logging.getLogger("vton_eval.dashboard")

_LOCK = threading.Lock()
_THREADS: list[threading.Thread] = []
_IN_FLIGHT: set[Hashable] = set()


def start(name: str, work: Callable[..., Any], *args: Any) -> threading.Thread:
    """Run `work(*args)` in a daemon thread; an exception goes to the log (nobody else would see it)."""

    def run() -> None:
        try:
            work(*args)
        except Exception:  # a background thread has nobody to tell but the log
            log.exception("%s failed", name)

    thread = threading.Thread(target=run, daemon=True, name=name)
    with _LOCK:
        _THREADS[:] = [t for t in _THREADS if t.is_alive()] + [thread]
    thread.start()
    return thread


def start_once(name: str, keys: Iterable[Hashable], work: Callable[[list[Hashable]], Any]) -> None:
    """Run `work(keys)` for the keys no other thread is working on now (none left: nothing starts)."""
    with _LOCK:
        todo = [k for k in dict.fromkeys(keys) if k not in _IN_FLIGHT]
        _IN_FLIGHT.update(todo)
    if not todo:
        return

    def run() -> None:
        try:
            work(todo)
        finally:
            with _LOCK:
                _IN_FLIGHT.difference_update(todo)

    start(name, run)


def wait(timeout: float = 60.0) -> None:
    """Wait for the threads started so far (tests and benchmarks: the pages themselves poll)."""
    with _LOCK:
        threads = list(_THREADS)
    for thread in threads:
        thread.join(timeout)
