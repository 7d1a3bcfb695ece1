"""Writing blessings: the run a release gate compares against, one per (dataset, endpoint)."""

from __future__ import annotations

import datetime as dt

from vton_eval.store.base import Writer

BASELINE_COLUMNS = ("dataset", "endpoint", "run_id", "blessed_at")
BASELINE_KEY = ("dataset", "endpoint")


def bless(w: Writer, dataset: str, endpoint: str, run_id: str, now: dt.datetime) -> str | None:
    """Make `run_id` the baseline of (dataset, endpoint); return the run it replaces, if any."""
    previous = w.scalar("SELECT run_id FROM baselines WHERE dataset = ? AND endpoint = ?", [dataset, endpoint])
    w.replace("baselines", BASELINE_COLUMNS, (dataset, endpoint, run_id, now), BASELINE_KEY)
    return previous


def unbless(w: Writer, dataset: str, endpoint: str) -> bool:
    """Remove the blessing of (dataset, endpoint); True when there was one."""
    found = w.scalar("SELECT count(*) FROM baselines WHERE dataset = ? AND endpoint = ?", [dataset, endpoint])
    w.execute("DELETE FROM baselines WHERE dataset = ? AND endpoint = ?", [dataset, endpoint])
    return bool(found)
