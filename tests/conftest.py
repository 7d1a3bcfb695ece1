"""Shared fixtures: one real sandbox server per session, real stores in temp folders, page openers.

A store is a DuckDB file, or a shared store (DuckLake over a real PostgreSQL started for the session,
data in a temp folder; `tests/helpers/servers.py`): the `db`, `seeded` and `runs` fixtures give each
test one of each (ids `file` and `lake`), since every behaviour they test must be the same on both."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile

import pytest

_process_env = pytest.MonkeyPatch()


def pytest_configure(config: pytest.Config) -> None:
    # Process setup, not a test's: Gradio must not phone home from the in-process sandbox, hostile
    # apps and clients (it reads this when imported), nor from the `vton-eval` processes tests start
    # (they inherit it). Set before any test module imports gradio; undone when the session ends.
    _process_env.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    # This test process's own caches (a shared store's local copy, images fetched by URL), not the user's:
    # parallel workers (pytest-xdist) and the suites of other checkouts never share one.
    global _caches
    _caches = tempfile.mkdtemp(prefix="vton-test-cache-")
    _process_env.setenv("VTON_EVAL_CACHE", os.path.join(_caches, "stores"))
    _process_env.setenv("VTON_EVAL_URL_CACHE", os.path.join(_caches, "urls"))


_caches: str | None = None


def pytest_unconfigure(config: pytest.Config) -> None:
    _process_env.undo()
    if _caches:
        shutil.rmtree(_caches, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox():
    """A sandbox on loopback shared by the whole session, for tests that only need a service that answers.

    Never count its calls, hold them or change its config: other tests' calls reach it too (a run a test
    killed leaves its calls queued there, answered later). A test that does any of that uses `live_sandbox`."""
    from vton_eval.sandbox import SandboxConfig, start_sandbox

    handle = start_sandbox(SandboxConfig(concurrency=8))
    yield handle
    handle.close()


@pytest.fixture()
def live_sandbox():
    """A sandbox this test owns (about 0.3 s to start): its call log, counters, holds and config see only
    this test's calls, and closing it at the end ends whatever calls the test left held or hung."""
    from vton_eval.sandbox import SandboxConfig, start_sandbox

    handle = start_sandbox(SandboxConfig(concurrency=8))
    yield handle
    handle.close()


STORES = ("file", "lake")


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server on a free loopback port for the session (one database per shared store)."""
    from .helpers.servers import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_s3():
    """moto's S3 in server mode on a free loopback port for the session."""
    from .helpers.servers import start_moto

    server = start_moto()
    yield server
    server.stop()


def make_store(kind: str, folder, request):
    """A new store of `kind` in `folder`: a DuckDB file, or a shared store with its data there."""
    from vton_eval.store import Database, open_store

    if kind == "file":
        return Database(folder / "results.duckdb")
    return open_store(request.getfixturevalue("postgres").url(folder / "shared"))


@pytest.fixture(scope="session", params=STORES)
def seeded(request, tmp_path_factory):
    """Two runs of the sample dataset: v1 clean, v2 with server errors and silent failures (the person
    image sent back), written as a run through the sandbox writes them (tests/helpers/seed.py).
    Tests only read it."""
    from .helpers.seed import record_sample_run

    db = make_store(request.param, tmp_path_factory.mktemp("dash"), request)
    ids = [record_sample_run(db, "v1"), record_sample_run(db, "v2", error_rate=0.3, noop_rate=0.1, seed=11)]
    return db, ids


@pytest.fixture(scope="session", params=STORES)
def runs(request, tmp_path_factory):
    """Three runs of the sample dataset for Compare: a baseline with some server errors, a candidate with
    other errors and silent failures (the person image sent back, on about half its cases), and a clean
    third; written as runs through the sandbox write them (tests/helpers/seed.py)."""
    from .helpers.seed import COMPARE_LABELS, record_sample_run

    db = make_store(request.param, tmp_path_factory.mktemp("compare"), request)
    ids = [record_sample_run(db, label, error_rate=error_rate, noop_rate=noop_rate, seed=seed)
           for label, error_rate, noop_rate, seed in zip(COMPARE_LABELS, (0.2, 0.3, 0.0), (0.0, 0.5, 0.0),
                                                          (4711, 4712, 4713), strict=True)]
    return db, ids


@pytest.fixture(params=STORES)
def db(request, tmp_path):
    """A new, empty store: a file, then a shared store."""
    return make_store(request.param, tmp_path, request)


@pytest.fixture()
def file_db(tmp_path):
    """A new DuckDB file (for what only a file has: its lock, its bytes on disk)."""
    from vton_eval.store import Database

    return Database(tmp_path / "results.duckdb")


@pytest.fixture()
def open_page(monkeypatch):
    """`open_page(db, page=None)`: the app on that store (a Store, a path or a URL; VTON_EVAL_DB set for this
    test only)."""
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
