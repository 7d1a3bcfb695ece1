"""Shared fixtures: one real sandbox server per session, real DuckDB files in temp folders."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "datasets" / "sample"


@pytest.fixture(scope="session")
def sandbox():
    """A sandbox on loopback for the whole session. Tests change its live config via `live_sandbox`."""
    from vton_eval.sandbox import SandboxConfig, start_sandbox

    handle = start_sandbox(SandboxConfig(concurrency=8))
    yield handle
    handle.close()


@pytest.fixture()
def live_sandbox(sandbox):
    """The session sandbox with its config restored after the test."""
    saved = dataclasses.replace(sandbox.config, latency_by_workflow=dict(sandbox.config.latency_by_workflow))
    yield sandbox
    for field in dataclasses.fields(saved):
        if field.name not in ("concurrency", "max_queue"):
            setattr(sandbox.config, field.name, getattr(saved, field.name))


@pytest.fixture()
def db(tmp_path):
    from vton_eval.store import Database

    return Database(tmp_path / "results.duckdb")


def wait_for(condition, timeout: float = 60.0, what: str = "the condition", interval: float = 0.1):
    """Poll `condition()` (observable state: rows, files, a server's call log) until it returns something
    truthy, and return that; fail with `what` after `timeout` seconds. Never a fixed sleep."""
    import threading
    import time

    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        tick.wait(interval)


@pytest.fixture(scope="session", autouse=True)
def _background_work_ends():
    """Pages start background threads (similarities, zoomed crops); let them end before the interpreter does."""
    yield
    from dashboard import background

    background.wait(120)
