"""Timing a dashboard page headless with AppTest: the first render and the median of later ones."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def time_page(db_path: Path, page: str | None, prepare: Callable[[AppTest], None] | None = None,
              runs: int = 5) -> dict[str, float]:
    """Render `page` (None = the default page) in a fresh session; return first and median seconds.

    `prepare` runs once before timing (e.g. to enter a reviewer's name); each timed render is a full
    rerun of the page script, as a click or a refresh causes.
    """
    os.environ["VTON_EVAL_DB"] = str(db_path)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(page)
    started = time.perf_counter()
    at.run()
    first = time.perf_counter() - started
    if prepare is not None:
        prepare(at)
        started = time.perf_counter()
        at.run()
        first = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"{page} failed: {at.exception[0].value}")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
    return {"first": first, "median": statistics.median(times), "elements": len(list(at.main))}
