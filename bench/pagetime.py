"""Timing a dashboard page headless with AppTest: cold (query cache empty) and warm renders.

"Cold" is what a person meets when they open a page whose numbers nobody asked for in the last few
seconds: the session is already open (Streamlit and the page modules are imported), but the query
cache is empty, so every query goes to the database. "Warm" is a rerun with the cache filled (a
click that changes nothing the queries depend on).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def open_session(db_path: Path, page: str | None, prepare: Callable[[AppTest], None] | None = None) -> AppTest:
    """A session on `page` (None = the default page), rendered once, `prepare` applied (e.g. a name)."""
    os.environ["VTON_EVAL_DB"] = str(db_path)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    if prepare is not None:
        prepare(at)
    if at.exception:
        raise SystemExit(f"{page} failed: {at.exception[0].value}")
    return at


def timed_run(at: AppTest, cold: bool) -> float:
    import streamlit as st

    if cold:
        st.cache_data.clear()
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"the page failed: {at.exception[0].value}")
    return elapsed


def time_page(db_path: Path, page: str | None, prepare: Callable[[AppTest], None] | None = None,
              runs: int = 5) -> dict[str, float]:
    """Median cold and warm render times (seconds) of `page` over `runs` renders each, and the worst cold."""
    at = open_session(db_path, page, prepare)
    cold = [timed_run(at, cold=True) for _ in range(runs)]
    warm = [timed_run(at, cold=False) for _ in range(runs)]
    return {"cold": statistics.median(cold), "cold_max": max(cold), "warm": statistics.median(warm),
            "elements": len(list(at.main))}
