"""Columns that carry the answer are not cut: every such cell is measured in the data grid's own font and padding
(tests/helpers/grid.py) against its column's width, and a table fits the room it is drawn in; `vton-eval baselines`
prints whole run ids at any terminal width."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from vton_eval.access import local_actor
from vton_eval.gate import bless

from .conftest import STORES, make_store
from .helpers import grid
from .helpers.paths import REPO
from .helpers.seed import record_sample_run

PAGE_PX = 920  # the main area beside the sidebar in a 1400 px window (about 940 px; the browser test measures it)
HALF_PX = 440  # one of two columns there


@pytest.fixture(scope="module", params=STORES)
def systems(request, tmp_path_factory):
    """Two systems on one host that differ by their port only (one long, the other through another profile), a
    blessed baseline, and a run with failures."""
    db = make_store(request.param, tmp_path_factory.mktemp("columns"), request)
    base = record_sample_run(db, "model-v1", endpoint="http://127.0.0.1:7911", seed=1)
    other = record_sample_run(db, "model-v2", endpoint="http://127.0.0.1:65531", profile="catvton", error_rate=0.4,
                              noop_rate=0.2, seed=2)
    bless(db, base, local_actor("ann"))
    return db, base, other


def _table(at, column: str):
    return next(f for f in at.dataframe if column in f.value.columns)


def test_the_runs_table_shows_whole_run_ids_statuses_counts_and_systems_with_their_port(systems, open_page):
    db, base, other = systems
    at = open_page(db, "runs")
    table = _table(at, "recorded")
    assert grid.cut(table) == []
    assert set(table.value["endpoint"]) == {"sm4ll @ 127.0.0.1:7911", "catvton @ 127.0.0.1:65531"}
    assert grid.total_px(table) <= PAGE_PX


def test_overview_latency_with_its_queue_wait_fits_its_half_of_the_page(systems, open_page):
    db, base, other = systems
    at = open_page(db)
    table = _table(at, "mean_queue_s")
    assert list(table.value.columns)[-1] == "mean_queue_s"
    assert grid.cut(table) == [] and grid.total_px(table) <= HALF_PX


def test_compares_latency_change_comes_first_and_fits_the_page(systems, open_compare):
    db, base, other = systems
    at = open_compare(db, {"cmp_base": base, f"cmp_others_{base}": [other]})
    table = _table(at, "p95_change_ms")
    assert list(table.value.columns)[:3] == ["workflow", "p95_change_ms", "p50_change_ms"]
    assert grid.cut(table) == [] and grid.total_px(table) <= PAGE_PX


def test_failures_first_and_last_seen_are_whole(systems, open_page):
    db, base, other = systems
    at = open_page(db, "failures")
    at.selectbox(key="fl_run").set_value(other).run()
    table = _table(at, "first_seen")
    assert grid.cut(table, only=("error_kind", "count", "runs", "first_seen", "last_seen")) == []
    assert grid.total_px(table) <= PAGE_PX


@pytest.mark.parametrize("width", ["60", "80", "120", "250"])
def test_vton_eval_baselines_prints_whole_run_ids_at_any_width(systems, width):
    db, base, _ = systems
    listed = subprocess.run([sys.executable, "-m", "vton_eval", "baselines", "--db", db.location], capture_output=True,
                            text=True, cwd=REPO, timeout=120, env={**os.environ, "COLUMNS": width})
    assert listed.returncode == 0, listed.stderr
    assert base in listed.stdout
