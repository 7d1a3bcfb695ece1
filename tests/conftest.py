"""Shared fixtures: one real sandbox server per session, real DuckDB files in temp folders, page openers."""

from __future__ import annotations

import dataclasses
import functools

import pytest

_process_env = pytest.MonkeyPatch()


def pytest_configure(config: pytest.Config) -> None:
    # Process setup, not a test's: Gradio must not phone home from the in-process sandbox, hostile
    # apps and clients (it reads this when imported), nor from the `vton-eval` processes tests start
    # (they inherit it). Set before any test module imports gradio; undone when the session ends.
    _process_env.setenv("GRADIO_ANALYTICS_ENABLED", "False")


def pytest_unconfigure(config: pytest.Config) -> None:
    _process_env.undo()


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
def seeded(tmp_path_factory):
    """Two runs of the sample dataset: v1 clean, v2 with server errors and silent failures (the person
    image sent back), written as a run through the sandbox writes them (tests/helpers/seed.py).
    Tests only read it."""
    from vton_eval.store import Database

    from .helpers.seed import record_sample_run

    db = Database(tmp_path_factory.mktemp("dash") / "results.duckdb")
    ids = [record_sample_run(db, "v1"), record_sample_run(db, "v2", error_rate=0.3, noop_rate=0.1, seed=11)]
    return db, ids


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """Three runs of the sample dataset for Compare: a baseline with some server errors, a candidate with
    other errors and silent failures (the person image sent back, on about half its cases), and a clean
    third; written as runs through the sandbox write them (tests/helpers/seed.py)."""
    from vton_eval.store import Database

    from .helpers.seed import COMPARE_LABELS, record_sample_run

    db = Database(tmp_path_factory.mktemp("compare") / "results.duckdb")
    ids = [record_sample_run(db, label, error_rate=error_rate, noop_rate=noop_rate, seed=seed)
           for label, error_rate, noop_rate, seed in zip(COMPARE_LABELS, (0.2, 0.3, 0.0), (0.0, 0.5, 0.0),
                                                          (4711, 4712, 4713), strict=True)]
    return db, ids


@pytest.fixture()
def db(tmp_path):
    from vton_eval.store import Database

    return Database(tmp_path / "results.duckdb")


@pytest.fixture()
def open_page(monkeypatch):
    """`open_page(db_path, page=None)`: the app on that database (VTON_EVAL_DB set for this test only)."""
    from .helpers import pages

    return functools.partial(pages.open_page, monkeypatch)


@pytest.fixture()
def open_compare(monkeypatch):
    """`open_compare(db, state=None)`: the Compare page on that database (VTON_EVAL_DB set for this test only)."""
    from .helpers import pages

    return functools.partial(pages.open_compare, monkeypatch)


@pytest.fixture(scope="session", autouse=True)
def _background_work_ends():
    """Pages start background threads (similarities, zoomed crops); let them end before the interpreter does."""
    yield
    from dashboard import background

    background.wait(120)
