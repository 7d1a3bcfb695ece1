"""Compared with what you ship: Overview and Compare take the blessed baseline of the dataset (and say so) instead
of the previous run, stay on the run a person picked when a new one is launched; the trend spaces runs by run,
labelled by time; the heatmap's text is readable; review cards show the repeat."""

from __future__ import annotations

import pytest

from vton_eval.access import local_actor
from vton_eval.gate import bless
from vton_eval.runner import RunSettings, create_run, execute_run

from .conftest import STORES, make_store
from .helpers.pages import metric, spec, sql, texts
from .helpers.paths import SAMPLE
from .helpers.seed import record_sample_run
from .helpers.wait import wait_until


@pytest.fixture(params=STORES)
def shipped(request, tmp_path):
    """model-v1 (blessed), model-v2, then model-v3 (the latest), made seconds apart."""
    db = make_store(request.param, tmp_path, request)
    ids = [record_sample_run(db, label, error_rate=rate, seed=seed)
           for label, rate, seed in (("model-v1", 0.0, 1), ("model-v2", 0.5, 2), ("model-v3", 0.2, 3))]
    bless(db, ids[0], local_actor("ann"))
    return db, ids


def _error_rate(db, run_id: str) -> float:
    return sql(db, "SELECT avg((status = 'error')::INT) FROM results WHERE run_id = ?", [run_id])[0][0]


def test_overview_compares_with_the_blessed_baseline_says_so_and_stays_on_the_run_picked(shipped, open_page):
    db, (v1, v2, v3) = shipped
    at = open_page(db)
    assert at.selectbox(key="ov_run").value == v3
    said = texts(at)
    assert f"Change against the blessed baseline of this dataset: model-v1 · {v1}" in said, said
    change = (_error_rate(db, v3) - _error_rate(db, v1)) * 100
    assert metric(at, "Error rate").delta == f"{change:+.1f} pts"  # against v1, not v2 (the previous run)
    # A person picks v2, goes to the Runs page, where a run is launched: back on Overview, v2 is still picked.
    at.selectbox(key="ov_run").set_value(v2).run()
    at.switch_page("views/runs.py").run()
    newer = record_sample_run(db, "model-v4", seed=4)
    at.switch_page("views/overview.py").run()
    assert at.selectbox(key="ov_run").value == v2

    def listed() -> bool:
        at.run()  # the page's list of runs is cached for a few seconds
        return newer in at.selectbox(key="ov_run").options[0]

    wait_until(listed, what="the new run in the picker", interval=0.5)
    assert at.selectbox(key="ov_run").value == v2
    # The blessed run itself is compared with the run before it, if any: none here.
    at.selectbox(key="ov_run").set_value(v1).run()
    assert "No blessed baseline and no earlier finished run" in texts(at)


def test_compare_starts_from_the_blessed_baseline_and_says_so(shipped, open_compare):
    db, (v1, v2, v3) = shipped
    at = open_compare(db)
    assert at.selectbox(key="cmp_base").value == v1
    assert at.multiselect(key=f"cmp_others_{v1}").value == [v3]  # the latest, against what is shipped
    assert "The baseline is the blessed baseline of sample" in texts(at)
    at.selectbox(key="cmp_base").set_value(v2).run()
    assert f"The blessed baseline of sample is model-v1 · {v1}; this baseline is another run." in texts(at)
    at.multiselect(key=f"cmp_others_{v2}").set_value([v1]).run()
    # Away to the Runs page, a run is launched; back on Compare, the runs picked are still the ones shown.
    at.switch_page("views/runs.py").run()
    record_sample_run(db, "model-v4", seed=4)
    at.switch_page("views/compare.py").run()
    assert at.selectbox(key="cmp_base").value == v2 and at.multiselect(key=f"cmp_others_{v2}").value == [v1]


def test_the_trend_spaces_runs_made_seconds_apart_and_labels_them_by_time(shipped, open_page):
    db, ids = shipped
    at = open_page(db)
    chart = spec(at, "trend_chart")
    axis = chart["layout"]["xaxis"]
    assert axis["type"] == "category" and axis["tickvals"] == ids  # one step per run, oldest first
    started = [row[0] for row in sql(db, "SELECT created_at FROM runs ORDER BY created_at")]
    assert axis["ticktext"] == [f"{t:%m-%d %H:%M:%S}" for t in started]
    assert (started[-1] - started[0]).total_seconds() < 600  # made minutes apart at most, yet evenly spread
    assert all(trace["x"] == ids for trace in chart["data"])


def test_the_heatmaps_text_is_readable(shipped, open_page):
    db, _ = shipped
    heat = spec(open_page(db), "heatmap_chart")["data"][0]
    assert heat["textfont"]["size"] >= 13 and "%{text}" in heat["texttemplate"]
    ticks = heat["colorbar"]["tickformat"]
    assert ticks == ".0%" or ticks == ".1%"  # a scale up to 1 % is not labelled "0%, 0%, 1%, 1%"


def test_review_cards_show_the_repeat(db, sandbox, open_page):
    run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=sandbox.url, pairs=["top-01"], repeats=2))
    assert execute_run(db, run_id).status == "finished"
    at = open_page(db, "review")
    at.text_input(key="rv_reviewer_input").set_value("ann")
    at.button(key="FormSubmitter:rv_reviewer_form-Start reviewing").click().run()
    cards = [m.value for m in at.markdown if "top\\-01" in m.value or "top-01" in m.value]
    assert any("repeat 1" in c for c in cards) and any("repeat 2" in c for c in cards), cards
