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


@pytest.fixture(scope="session")
def seeded(tmp_path_factory, sandbox):
    """Two runs of the sample dataset: v1 clean, v2 with injected server errors and silent failures.
    Tests only read it."""
    from vton_eval.runner import RunSettings, create_run, execute_run
    from vton_eval.store import Database

    db = Database(tmp_path_factory.mktemp("dash") / "results.duckdb")
    ids = []
    for label, error_rate, noop in (("v1", 0.0, 0.0), ("v2", 0.3, 0.1)):
        sandbox.config.error_rate, sandbox.config.noop_rate, sandbox.config.seed = error_rate, noop, 11
        run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=sandbox.url, label=label, retries=0,
                                            concurrency=4))
        assert execute_run(db, run_id).status == "finished"
        ids.append(run_id)
    sandbox.config.error_rate = sandbox.config.noop_rate = 0.0
    return db, ids


COMPARE_LABELS = ("base-build", "cand-build", "third-build")


@pytest.fixture(scope="session")
def runs(tmp_path_factory, sandbox):
    """Three runs of the sample dataset for Compare: a baseline with some server errors, a candidate with
    other errors and silent failures (the person image sent back), and a clean third. One call at a time,
    so the seeded server errors land on the same cases every time (the sandbox draws silent failures
    from an unseeded stream: half the candidate's calls, so some always happen)."""
    from vton_eval.runner import RunSettings, create_run, execute_run
    from vton_eval.store import Database

    db = Database(tmp_path_factory.mktemp("compare") / "results.duckdb")
    saved = dataclasses.replace(sandbox.config)
    ids = []
    try:
        for label, error_rate, noop_rate, seed in zip(COMPARE_LABELS, (0.2, 0.3, 0.0), (0.0, 0.5, 0.0),
                                                      (4711, 4712, 4713), strict=True):
            sandbox.config.error_rate, sandbox.config.noop_rate, sandbox.config.seed = error_rate, noop_rate, seed
            run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=sandbox.url, label=label, retries=0,
                                                concurrency=1))
            assert execute_run(db, run_id).status == "finished"
            ids.append(run_id)
    finally:
        for field in ("error_rate", "noop_rate", "seed"):
            setattr(sandbox.config, field, getattr(saved, field))
    return db, ids


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
